// Package polls owns poll definitions: a JetStream KV bucket that every node
// watches, mirrored in memory so a vote never waits on a lookup (the cache is
// warm before the show starts), and the state changes a producer makes,
// including the close procedure that puts a marker on every shard subject.
//
// Concurrency: Start launches one watch goroutine, stopped by Close. Get,
// List, Changed and WaitFor are safe from any goroutine; callbacks given to
// OnChange run on the watch goroutine and must not block.
package polls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// Sentinel errors callers branch on.
var (
	ErrNotFound = errors.New("poll not found")
	ErrConflict = errors.New("poll state does not allow that")
)

// Catalog is the in-memory mirror of the polls bucket.
type Catalog struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu       sync.RWMutex
	polls    map[string]schema.Poll
	changed  chan struct{} // closed and replaced on every change
	onChange []func(schema.Poll)

	cancel context.CancelFunc
	done   chan struct{}
}

// NewCatalog returns a catalog over the bucket; Start fills it.
func NewCatalog(kv jetstream.KeyValue, log *slog.Logger) *Catalog {
	return &Catalog{kv: kv, log: log, polls: map[string]schema.Poll{}, changed: make(chan struct{})}
}

// OnChange registers fn to run after every change of a poll. Call it before
// Start.
func (c *Catalog) OnChange(fn func(schema.Poll)) { c.onChange = append(c.onChange, fn) }

// Start loads every poll and keeps watching; it returns once the initial
// values are in memory.
func (c *Catalog) Start(ctx context.Context) error {
	wctx, cancel := context.WithCancel(context.Background())
	w, err := c.kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return fmt.Errorf("watch polls bucket: %w", err)
	}
	c.cancel, c.done = cancel, make(chan struct{})
	ready := make(chan struct{})
	go c.watch(w, ready)
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		c.Close()
		return fmt.Errorf("load polls: %w", ctx.Err())
	}
}

func (c *Catalog) watch(w jetstream.KeyWatcher, ready chan struct{}) {
	defer close(c.done)
	defer w.Stop()
	for e := range w.Updates() {
		if e == nil {
			close(ready)
			continue
		}
		if e.Operation() != jetstream.KeyValuePut {
			c.remove(e.Key())
			continue
		}
		var p schema.Poll
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			c.log.Error("skip unreadable poll definition", "key", e.Key(), "err", err)
			continue
		}
		c.put(p)
	}
}

func (c *Catalog) put(p schema.Poll) {
	c.mu.Lock()
	c.polls[p.ID] = p
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	for _, fn := range c.onChange {
		fn(p)
	}
}

func (c *Catalog) remove(id string) {
	c.mu.Lock()
	delete(c.polls, id)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// Close stops watching; safe to call twice.
func (c *Catalog) Close() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
	c.cancel = nil
}

// Get returns the poll as this node last saw it.
func (c *Catalog) Get(id string) (schema.Poll, bool) {
	c.mu.RLock()
	p, ok := c.polls[id]
	c.mu.RUnlock()
	return p, ok
}

// List returns every poll, newest first.
func (c *Catalog) List() []schema.Poll {
	c.mu.RLock()
	out := make([]schema.Poll, 0, len(c.polls))
	for _, p := range c.polls {
		out = append(out, p)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

// Changed returns a channel closed at the next change of any poll.
func (c *Catalog) Changed() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// WaitFor waits until cond holds for the poll (which may not exist yet).
func (c *Catalog) WaitFor(ctx context.Context, id string, cond func(schema.Poll) bool) (schema.Poll, error) {
	for {
		ch := c.Changed()
		if p, ok := c.Get(id); ok && cond(p) {
			return p, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return schema.Poll{}, fmt.Errorf("wait for poll %s: %w", id, ctx.Err())
		}
	}
}
