package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress reports how far a long copy is: on a terminal one line redrawn
// in place (a bar, rows/s, ETA), otherwise a plain line when a table starts
// and then every 10 seconds, so logs stay readable.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	total    int64 // rows of all tables
	before   int64 // rows of the finished tables
	table    string
	start    time.Time // of the whole copy
	last     time.Time // last line written
	interval time.Duration
}

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total, start: time.Now(), interval: 10 * time.Second}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty, p.interval = true, 200*time.Millisecond
	}
	return p
}

// begin starts a table of n rows.
func (p *progress) begin(table string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.table = table
	if !p.tty {
		fmt.Fprintf(p.w, "copying %s (%d rows)\n", table, n)
		p.last = time.Now()
	}
}

// update reports that done rows of the current table are copied.
func (p *progress) update(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	rows := p.before + done
	elapsed := now.Sub(p.start).Seconds()
	rate := float64(rows) / max(elapsed, 1e-9)
	eta := "?"
	if rate > 0 && p.total >= rows {
		eta = (time.Duration(float64(p.total-rows)/rate) * time.Second).Round(time.Second).String()
	}
	if p.tty {
		const width = 24
		filled := 0
		if p.total > 0 {
			filled = int(float64(width) * float64(rows) / float64(p.total))
		}
		filled = min(filled, width)
		fmt.Fprintf(p.w, "\r\033[K%-16s [%s%s] %d/%d rows  %.0f rows/s  ETA %s",
			p.table, strings.Repeat("#", filled), strings.Repeat(".", width-filled), rows, p.total, rate, eta)
		return
	}
	fmt.Fprintf(p.w, "%s: %d/%d rows in all, %.0f rows/s, ETA %s\n", p.table, rows, p.total, rate, eta)
}

// end finishes the current table.
func (p *progress) end(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.before += n
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
