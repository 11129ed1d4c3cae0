package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is one scenario of the report. Requests are HTTP requests (the
// page scenario makes two per iteration, the lot scenario three) or, for
// the raw baseline, statements.
type Result struct {
	Name     string  `json:"name"`
	Requests int     `json:"requests"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
	Errors   int     `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`

	// Where a raw-database baseline exists: its rate and latencies, and
	// rps ÷ raw_rps.
	RawRPS    float64 `json:"raw_rps,omitempty"`
	RawP50    float64 `json:"raw_p50_ms,omitempty"`
	RawP99    float64 `json:"raw_p99_ms,omitempty"`
	RawErrors int     `json:"raw_errors,omitempty"`
	Ratio     float64 `json:"ratio,omitempty"`

	// Paced runs: the requests/s aimed at (half the scenario's peak; for
	// the size comparison, half the lower of the two sizes' peaks).
	TargetRPS float64 `json:"target_rps,omitempty"`

	// The login flood: logins that succeeded, got 429, failed otherwise;
	// the mix's p99 without the flood and the ratio.
	FloodLogins int     `json:"flood_logins,omitempty"`
	Flood429    int     `json:"flood_429,omitempty"`
	FloodFailed int     `json:"flood_failed,omitempty"`
	MixP99      float64 `json:"mix_p99_ms,omitempty"`
	P99VsMix    float64 `json:"p99_vs_mix,omitempty"`

	// Page latency by table size: the messages stored, and on the larger
	// size the ratio of its p50 to the smaller one's.
	Messages int     `json:"messages,omitempty"`
	P50Ratio float64 `json:"p50_ratio,omitempty"`
	// SameLoad: both sizes were offered the same paced load (half the
	// lower of their peaks) rather than each running at its own peak.
	SameLoad bool `json:"same_load,omitempty"`

	// The stolen share of the machine's CPU time over the measured time,
	// in percent (cpuTimes), and over the raw side's; absent where the
	// machine has no /proc/stat.
	StealPct    *float64 `json:"steal_pct,omitempty"`
	RawStealPct *float64 `json:"raw_steal_pct,omitempty"`

	// The server's peak resident set (VmHWM) at the end of the scenario.
	PeakRSSMB float64 `json:"server_peak_rss_mb,omitempty"`
}

func newResult(name string, l load) *Result {
	r := &Result{Name: name, Requests: len(l.lats), Errors: l.errors, FirstErr: l.firstErr}
	if l.elapsed > 0 {
		r.RPS = round(float64(len(l.lats)) / l.elapsed.Seconds())
	}
	r.P50, r.P99, r.Max = percentiles(l.lats)
	r.StealPct = l.cpu.stealPct()
	return r
}

func (r *Result) setRaw(raw *Result) {
	r.RawRPS, r.RawP50, r.RawP99, r.RawErrors, r.RawStealPct = raw.RPS, raw.P50, raw.P99, raw.Errors, raw.StealPct
	if raw.RPS > 0 {
		r.Ratio = round(r.RPS / raw.RPS)
	}
}

func (r *Result) summary() string {
	s := fmt.Sprintf("%9.0f req/s  p50 %7.2f ms  p99 %8.2f ms  max %8.1f ms  errors %d", r.RPS, r.P50, r.P99, r.Max, r.Errors)
	if r.StealPct != nil {
		s += fmt.Sprintf("  steal %.1f%%", *r.StealPct)
	}
	if r.FirstErr != "" {
		s += " (first: " + r.FirstErr + ")"
	}
	return s
}

// percentiles returns p50, p99 and max in milliseconds (nearest rank).
func percentiles(lats []time.Duration) (p50, p99, mx float64) {
	if len(lats) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(lats)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.999999) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	return at(0.50), at(0.99), ms(s[len(s)-1])
}

func ms(d time.Duration) float64 { return round(float64(d) / float64(time.Millisecond)) }

// round keeps three significant decimals for small numbers, one for large.
func round(f float64) float64 {
	switch {
	case f >= 100:
		return float64(int64(f*10+0.5)) / 10
	default:
		return float64(int64(f*1000+0.5)) / 1000
	}
}

func mb(kb int64) float64 { return round(float64(kb) / 1024) }

// report is the whole run.
type report struct {
	Engine        string
	Messages      int
	SmallMessages int
	Concurrency   int
	Flood         int
	BcryptCost    int
	Duration      time.Duration
	Started       time.Time
	PeakRSSKB     int64
	Vacuumed      bool // see bench.vacuumed
	Results       []*Result
}

// json is the list of scenarios.
func (rep *report) json() ([]byte, error) {
	b, err := json.MarshalIndent(rep.Results, "", "  ")
	return append(b, '\n'), err
}

func (rep *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Load benchmark: %s, %s messages, %d clients, %s per scenario\n\n",
		rep.Engine, thousands(rep.Messages), rep.Concurrency, rep.Duration)
	fmt.Fprintf(&b, "%s, %s, GOMAXPROCS %d, %d CPUs (load generator and server share them).\n\n",
		rep.Started.UTC().Format("2006-01-02 15:04 UTC"), runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	b.WriteString("| scenario | req/s | p50 ms | p99 ms | max ms | errors | raw req/s | raw p50 ms | raw p99 ms | API ÷ raw | steal % |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	stole := false
	for _, r := range rep.Results {
		raw, rawP50, rawP99, ratio := "", "", "", ""
		if r.RawRPS > 0 {
			raw, rawP50, rawP99, ratio = num(r.RawRPS), num(r.RawP50), num(r.RawP99), fmt.Sprintf("%.2f", r.Ratio)
		}
		name := r.Name
		if r.TargetRPS > 0 {
			name += fmt.Sprintf(" (%s req/s aimed)", num(r.TargetRPS))
		}
		steal := ""
		if r.StealPct != nil {
			stole, steal = true, fmt.Sprintf("%.1f", *r.StealPct)
			if r.RawStealPct != nil {
				steal += fmt.Sprintf(" / %.1f", *r.RawStealPct)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n",
			name, num(r.RPS), num(r.P50), num(r.P99), num(r.Max), r.Errors, raw, rawP50, rawP99, ratio, steal)
	}
	b.WriteString("\n")
	for _, r := range rep.Results {
		if r.MixP99 > 0 {
			cost := "the server's bcrypt cost"
			if rep.BcryptCost > 0 {
				cost = fmt.Sprintf("bcrypt cost %d", rep.BcryptCost)
			}
			fmt.Fprintf(&b, "- Login flood (%d goroutines, %s): mix p99 %s ms → %s ms (×%.2f); %d logins, %d answered 429, %d failed.\n",
				rep.Flood, cost, num(r.MixP99), num(r.P99), r.P99VsMix, r.FloodLogins, r.Flood429, r.FloodFailed)
		}
		if r.P50Ratio > 0 {
			how := "each at its peak (closed loop: latency follows throughput)"
			if r.SameLoad {
				how = fmt.Sprintf("both offered the same %s req/s", num(r.TargetRPS))
			}
			fmt.Fprintf(&b, "- Page latency by table size, %s: p50 at %s messages ÷ p50 at %s = ×%.2f.\n",
				how, thousands(r.Messages), thousands(rep.SmallMessages), r.P50Ratio)
		}
	}
	if stole {
		b.WriteString("- Steal %: the share of the machine's CPU time that the hypervisor gave to others while this machine had work to run " +
			"(/proc/stat), over each scenario's measured time; API / raw where both ran. " +
			"The load generator, the server and the database all stop while it is stolen, so a tail measured under high steal may be largely the host's; " +
			"low steal does not clear the host, as one stall of tens of ms barely moves an average over seconds.\n")
	}
	if rep.PeakRSSKB > 0 {
		fmt.Fprintf(&b, "- Server peak RSS (VmHWM) over the run: %.1f MB.\n", float64(rep.PeakRSSKB)/1024)
	} else {
		b.WriteString("- Server peak RSS: unknown (pass -pid with -url).\n")
	}
	if rep.Vacuumed {
		b.WriteString("- The PostgreSQL server runs with autovacuum off: the bench ran VACUUM (ANALYZE) on the database it measures before each scenario instead, " +
			"so no scenario read the dead rows of the ones before it.\n")
	}
	b.WriteString("- Requests: page = 2 per iteration (newest page, then the next by cursor); lot = 3 (create, processing, completed). " +
		"Raw = the same INSERT / page SELECT on the same driver and settings, prepared once, same concurrency, no HTTP; " +
		"API and raw interleave in half-duration slices API, raw, raw, API (ABBA), each side's two halves merged, so drift over the run weighs the same on both. " +
		"The paced page read runs its raw side paced at the same rate: its raw p99 is the tail of the database and the machine without the server, and its ratio is 1 while both sides keep up.\n")
	return b.String()
}

func num(f float64) string {
	switch {
	case f >= 1000:
		return thousands(int(f + 0.5))
	case f >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case f >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// thousands formats n with comma separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
