// Package groupcommit runs small writes that arrive together in one shared
// transaction: one commit (one WAL write, one fsync on PostgreSQL) for all
// of them instead of one each. It needs no goroutine of its own: the first
// caller to find no transaction running runs one with what is queued
// (the leader); the callers that arrive meanwhile queue, and when it is
// done the first of them leads the next transaction with all of them.
package groupcommit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Batcher groups the calls of Do.
type Batcher[T any] struct {
	// Run writes items in one transaction and returns one error per item:
	// nil means committed. It is never called concurrently.
	Run func(ctx context.Context, items []T) []error
	// Max bounds the items of one transaction (0: 64).
	Max int

	mu      sync.Mutex
	queue   []*request[T]
	running bool
}

type request[T any] struct {
	ctx  context.Context
	item T
	err  error
	lead bool          // set before done is closed: run the next transaction
	done chan struct{} // closed when err is set, or to hand over the lead
}

// runTimeout bounds a transaction: it serves several callers, so it runs
// without the cancellation of any one of them.
const runTimeout = 30 * time.Second

// Do writes item in a transaction shared with the calls that arrive at the
// same time and returns its outcome. A call whose context is done before
// its transaction starts is not written and returns the context's error
// (at once if it is still waiting in the queue);
// once started, the transaction completes whatever the caller's context
// says, as a transaction of its own would after the client hung up.
func (b *Batcher[T]) Do(ctx context.Context, item T) error {
	r := &request[T]{ctx: ctx, item: item, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, r)
	if b.running {
		b.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			// Leave the queue if still in it and not handed the lead;
			// otherwise its transaction has it, so wait for the outcome.
			b.mu.Lock()
			if i := slices.Index(b.queue, r); i >= 0 && !r.lead {
				b.queue = slices.Delete(b.queue, i, i+1)
				b.mu.Unlock()
				return ctx.Err()
			}
			b.mu.Unlock()
			<-r.done
		}
		if !r.lead {
			return r.err
		}
		b.mu.Lock()
	}
	b.running = true
	// The leader is first in the queue: it is in its own transaction.
	limit := b.Max
	if limit <= 0 {
		limit = 64
	}
	n := min(len(b.queue), limit)
	batch := make([]*request[T], n)
	copy(batch, b.queue)
	b.queue = append(b.queue[:0], b.queue[n:]...)
	b.mu.Unlock()

	p := b.run(batch)

	b.mu.Lock()
	if len(b.queue) > 0 {
		next := b.queue[0]
		next.lead = true
		close(next.done)
	} else {
		b.running = false
	}
	b.mu.Unlock()
	if p != nil {
		panic(p) // the waiters have their error and the lead moved on
	}
	return r.err
}

// run runs one transaction of batch and completes its requests. A panic
// in Run fails every request of the batch and is returned, to be raised
// again once the lead has moved on.
func (b *Batcher[T]) run(batch []*request[T]) (p any) {
	defer func() {
		if p = recover(); p != nil {
			for _, r := range batch {
				r.err = fmt.Errorf("groupcommit: transaction panicked: %v", p)
			}
		}
		for _, r := range batch {
			if !r.lead { // a former leader's done is already closed
				close(r.done)
			}
		}
	}()
	var live []*request[T]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
		} else {
			live = append(live, r)
		}
	}
	if len(live) > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), runTimeout)
		defer cancel()
		items := make([]T, len(live))
		for i, r := range live {
			items[i] = r.item
		}
		errs := b.Run(ctx, items)
		for i, r := range live {
			r.err = errs[i]
		}
	}
	return nil
}
