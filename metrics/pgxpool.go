package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// pgxPoolCollector exports pgxpool.Stat at every scrape.
type pgxPoolCollector struct {
	pool  *pgxpool.Pool
	descs []pgxDesc
}

type pgxDesc struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*pgxpool.Stat) float64
}

func newPgxPoolCollector(pool *pgxpool.Pool) *pgxPoolCollector {
	d := func(name, help string, kind prometheus.ValueType, v func(*pgxpool.Stat) float64) pgxDesc {
		return pgxDesc{prometheus.NewDesc("workspace_pgxpool_"+name, help, nil, nil), kind, v}
	}
	g, c := prometheus.GaugeValue, prometheus.CounterValue
	return &pgxPoolCollector{pool: pool, descs: []pgxDesc{
		d("max_conns", "Maximum size of the pool.", g, func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) }),
		d("total_conns", "Connections open (idle, in use or being opened).", g, func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) }),
		d("acquired_conns", "Connections in use.", g, func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) }),
		d("idle_conns", "Idle connections.", g, func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) }),
		d("constructing_conns", "Connections being opened.", g, func(s *pgxpool.Stat) float64 { return float64(s.ConstructingConns()) }),
		d("acquires_total", "Successful connection acquisitions.", c, func(s *pgxpool.Stat) float64 { return float64(s.AcquireCount()) }),
		d("acquire_duration_seconds_total", "Time spent acquiring connections.", c, func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() }),
		d("empty_acquires_total", "Acquisitions that waited for a connection (pool empty).", c, func(s *pgxpool.Stat) float64 { return float64(s.EmptyAcquireCount()) }),
		d("canceled_acquires_total", "Acquisitions canceled by their context.", c, func(s *pgxpool.Stat) float64 { return float64(s.CanceledAcquireCount()) }),
		d("new_conns_total", "Connections opened.", c, func(s *pgxpool.Stat) float64 { return float64(s.NewConnsCount()) }),
	}}
}

// Describe implements prometheus.Collector.
func (p *pgxPoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range p.descs {
		ch <- d.desc
	}
}

// Collect implements prometheus.Collector.
func (p *pgxPoolCollector) Collect(ch chan<- prometheus.Metric) {
	st := p.pool.Stat()
	for _, d := range p.descs {
		ch <- prometheus.MustNewConstMetric(d.desc, d.kind, d.value(st))
	}
}
