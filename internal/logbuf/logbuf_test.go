package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records each write it receives and signals it.
type sink struct {
	mu     sync.Mutex
	writes []string
	wrote  chan struct{}
}

func newSink() *sink { return &sink{wrote: make(chan struct{}, 1000)} }

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.writes = append(s.writes, string(p))
	s.mu.Unlock()
	s.wrote <- struct{}{}
	return len(p), nil
}

func (s *sink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes...)
}

func TestHeldUntilFlush(t *testing.T) {
	s := newSink()
	w := New(s, time.Hour)
	for i := range 3 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if got := s.all(); len(got) != 0 {
		t.Fatalf("written before the flush: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := s.all(); len(got) != 1 || got[0] != "line 0\nline 1\nline 2\n" {
		t.Fatalf("flush wrote %q, want the three lines in one write", got)
	}
	if err := w.Flush(); err != nil || len(s.all()) != 1 {
		t.Fatalf("an empty flush wrote: %q, %v", s.all(), err)
	}
}

func TestFullBufferWrites(t *testing.T) {
	s := newSink()
	w := New(s, time.Hour)
	line := strings.Repeat("x", 999) + "\n"
	n := MaxBuffered/len(line) + 1
	for range n {
		w.Write([]byte(line))
	}
	got := s.all()
	if len(got) != 1 || got[0] != strings.Repeat(line, n) {
		t.Fatalf("%d writes after %d bytes, want one of them all", len(got), n*len(line))
	}
}

func TestDirectKeepsOrder(t *testing.T) {
	s := newSink()
	w := New(s, time.Hour)
	d := w.Direct()
	d.Write([]byte("first\n"))
	w.Write([]byte("held\n"))
	d.Write([]byte("warning\n"))
	got := s.all()
	if len(got) != 2 || got[0] != "first\n" || got[1] != "held\nwarning\n" {
		t.Fatalf("writes %q, want the direct line at once and the held line before the next", got)
	}
}

func TestIntervalFlushes(t *testing.T) {
	s := newSink()
	w := New(s, 5*time.Millisecond)
	for round := range 3 { // the timer re-arms after each flush
		w.Write([]byte("tick\n"))
		select {
		case <-s.wrote:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: nothing written after the interval", round)
		}
	}
	if got := s.all(); len(got) != 3 || got[2] != "tick\n" {
		t.Fatalf("writes %q", got)
	}
}

func TestCloseFlushesAndPassesThrough(t *testing.T) {
	s := newSink()
	w := New(s, time.Hour)
	w.Write([]byte("held\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("after\n"))
	if got := s.all(); len(got) != 2 || got[0] != "held\n" || got[1] != "after\n" {
		t.Fatalf("writes %q", got)
	}
}

func TestConcurrentLinesStayWhole(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := New(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	}), time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				fmt.Fprintf(w, "goroutine %d line %04d %s\n", g, i, strings.Repeat("y", g*10))
			}
		})
	}
	wg.Wait()
	w.Close()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8000 {
		t.Fatalf("%d lines, want 8000", len(lines))
	}
	next := make([]int, 8)
	for _, l := range lines {
		var g, i int
		var pad string
		if _, err := fmt.Sscanf(l, "goroutine %d line %d %s", &g, &i, &pad); err != nil && g != 0 {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[g] || len(pad) != g*10 {
			t.Fatalf("line %q out of order or torn (want line %d)", l, next[g])
		}
		next[g]++
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
