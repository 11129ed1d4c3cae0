package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func queued[T any](b *Batcher[T]) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// leading reports whether a transaction runs and nothing waits.
func leading[T any](b *Batcher[T]) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running && len(b.queue) == 0
}

// Ensure calls that arrive during a transaction share the next one, each
// caller gets its own item's outcome, and transactions never overlap.
func TestBatchesWhileRunning(t *testing.T) {
	gate := make(chan struct{})
	var calls [][]int
	var inRun atomic.Int32
	b := &Batcher[int]{Max: 8, Run: func(ctx context.Context, items []int) []error {
		if inRun.Add(1) != 1 {
			t.Error("transactions overlap")
		}
		defer inRun.Add(-1)
		calls = append(calls, append([]int(nil), items...))
		if items[0] == 0 {
			<-gate // hold the first transaction while the others queue
		}
		errs := make([]error, len(items))
		for i, it := range items {
			if it%3 == 0 {
				errs[i] = fmt.Errorf("item %d refused", it)
			}
		}
		return errs
	}}
	results := make([]error, 20)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); results[0] = b.Do(context.Background(), 0) }()
	for !leading(b) {
		runtime.Gosched()
	}
	for i := 1; i < 20; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = b.Do(context.Background(), i) }()
	}
	for queued(b) != 19 {
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	if len(calls) != 4 || len(calls[0]) != 1 || len(calls[1]) != 8 || len(calls[2]) != 8 || len(calls[3]) != 3 {
		t.Fatalf("transactions = %v, want [0], then the 19 queued in 8, 8, 3", calls)
	}
	seen := map[int]bool{}
	for _, c := range calls {
		for _, it := range c {
			if seen[it] {
				t.Fatalf("item %d written twice", it)
			}
			seen[it] = true
		}
	}
	for i, err := range results {
		if (i%3 == 0) != (err != nil) {
			t.Fatalf("item %d: err = %v", i, err)
		}
	}
}

// Ensure a call whose context ended before its transaction started is not
// written, even when it is the one leading that transaction. (A call still
// waiting in the queue: TestCanceledLeavesQueue.)
func TestCanceledNotWritten(t *testing.T) {
	var runs int
	b := &Batcher[int]{Run: func(ctx context.Context, items []int) []error {
		runs++
		return make([]error, len(items))
	}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Do(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if runs != 0 {
		t.Fatalf("Run called %d times for a canceled call", runs)
	}
	if err := b.Do(context.Background(), 2); err != nil || runs != 1 {
		t.Fatalf("next call: err %v, runs %d", err, runs)
	}
}

// Ensure a panicking transaction fails its batch, is raised in the leader,
// and leaves the batcher usable.
func TestPanicFailsBatch(t *testing.T) {
	b := &Batcher[int]{Run: func(ctx context.Context, items []int) []error {
		if items[0] < 0 {
			panic("boom")
		}
		return make([]error, len(items))
	}}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		b.Do(context.Background(), -1)
	}()
	if err := b.Do(context.Background(), 1); err != nil {
		t.Fatalf("after a panic: %v", err)
	}
}

// Ensure a queued call whose context ends returns at once, unwritten,
// while the transaction ahead of it still runs.
func TestCanceledLeavesQueue(t *testing.T) {
	gate := make(chan struct{})
	var written []int
	b := &Batcher[int]{Run: func(ctx context.Context, items []int) []error {
		if items[0] == 0 {
			<-gate
		}
		written = append(written, items...)
		return make([]error, len(items))
	}}
	first := make(chan error)
	go func() { first <- b.Do(context.Background(), 0) }()
	for !leading(b) {
		runtime.Gosched()
	}
	ctx, cancel := context.WithCancel(context.Background())
	queuedErr := make(chan error)
	go func() { queuedErr <- b.Do(ctx, 1) }()
	for queued(b) != 1 {
		runtime.Gosched()
	}
	cancel()
	if err := <-queuedErr; !errors.Is(err, context.Canceled) { // returns with the transaction still held
		t.Fatalf("canceled queued call: %v", err)
	}
	if n := queued(b); n != 0 {
		t.Fatalf("%d still queued", n)
	}
	close(gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := b.Do(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(written) != "[0 2]" {
		t.Fatalf("written = %v, want [0 2]", written)
	}
}
