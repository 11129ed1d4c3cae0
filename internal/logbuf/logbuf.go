// Package logbuf batches log lines into fewer writes, as nginx's buffered
// access_log does.
//
// The request log writes a line per request. Written one by one, each line
// is a write(2) to a file or to journald's socket (2.5 % of the server's CPU
// in the load benchmark's page profile, and a wake-up of journald per
// request in production). Lines written to a Writer wait until
// MaxBuffered bytes have gathered or the flush interval has passed, and go
// out in one write. Lines written to Direct go out at once, after whatever
// was waiting, so the order of lines is kept and warnings are never late.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// MaxBuffered is the most a Writer holds before it writes.
const MaxBuffered = 32 << 10

// Writer buffers writes for at most its interval. It is safe for
// concurrent use; each Write is kept whole (slog writes a line per call).
type Writer struct {
	out      io.Writer
	interval time.Duration

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer // armed while buf holds bytes
	armed  bool
	closed bool
}

// New returns a Writer to out that holds lines for at most interval.
func New(out io.Writer, interval time.Duration) *Writer {
	return &Writer{out: out, interval: interval}
}

// Write holds p until the buffer is full or the interval has passed.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= MaxBuffered {
		return len(p), w.flushLocked()
	}
	if !w.armed {
		w.armed = true
		if w.timer == nil {
			w.timer = time.AfterFunc(w.interval, w.onTimer)
		} else {
			w.timer.Reset(w.interval)
		}
	}
	return len(p), nil
}

func (w *Writer) onTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.armed {
		w.flushLocked()
	}
}

// Flush writes what is held.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// flushLocked writes the buffer. A failed write drops it: log output has
// nowhere better to go, and holding it would grow without bound.
func (w *Writer) flushLocked() error {
	if w.armed {
		w.armed = false
		w.timer.Stop()
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	if cap(w.buf) > 4*MaxBuffered {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return err
}

// Close writes what is held; later writes go straight out.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.flushLocked()
}

// Direct returns a writer whose lines go out at once, in one write with
// whatever w was holding before them.
func (w *Writer) Direct() io.Writer { return direct{w} }

type direct struct{ w *Writer }

func (d direct) Write(p []byte) (int, error) {
	w := d.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || len(w.buf) == 0 {
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	return len(p), w.flushLocked()
}
