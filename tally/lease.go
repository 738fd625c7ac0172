package tally

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// ErrShardsHeld is wrapped by the error of a worker that cannot start
// because another live tally owns the shards; the error names it.
var ErrShardsHeld = errors.New("the tally shards are owned by another process")

// errLeaseLost is the cause a worker's runners are stopped with when its
// lease could not be renewed in time.
var errLeaseLost = errors.New("tally lease lost")

// ownerKey is the lease's key in the owners bucket. One key for the whole
// tally: until shards are shared among nodes, one process folds them all.
const ownerKey = "tally"

// Holder names the process that owns the tally shards. Node is stable
// across restarts of one node (it lives in its data directory, which one
// process at a time can hold), so a node restarted after a crash takes
// its own lease over at once instead of waiting for it to expire.
type Holder struct {
	Node  string    `json:"node"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("node %s (pid %d on %s, owner since %s)", h.Node, h.PID, h.Host, h.Since.Format(time.RFC3339))
}

// lease is the worker's hold on the owners key: renewed every TTL/3 by
// compare-and-set on its revision; the bucket's TTL drops it when its
// holder stops renewing (killed, paused, cut off).
type lease struct {
	kv     jetstream.KeyValue
	holder Holder
	ttl    time.Duration
	rev    uint64
	// renewedAt is when the last successful renewal was sent: the server
	// stored it later, so the lease lives at least ttl from here.
	renewedAt time.Time
}

func newHolder(node string) Holder {
	host, _ := os.Hostname()
	return Holder{Node: node, Host: host, PID: os.Getpid(), Since: time.Now().UTC()}
}

// acquireLease takes the owners key, or takes it over from an earlier run
// of this same node. It fails with ErrShardsHeld while another node holds
// it.
func acquireLease(ctx context.Context, js jetstream.JetStream, holder Holder) (*lease, error) {
	kv, err := js.KeyValue(ctx, schema.OwnersBucket)
	if err != nil {
		return nil, fmt.Errorf("tally: open owners bucket: %w", err)
	}
	l := &lease{kv: kv, holder: holder, ttl: schema.OwnerLeaseTTL}
	val, _ := json.Marshal(holder)
	for range 3 {
		sent := time.Now()
		rev, err := kv.Create(ctx, ownerKey, val)
		if err == nil {
			l.rev, l.renewedAt = rev, sent
			return l, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("tally: take the shard lease: %w", err)
		}
		e, err := kv.Get(ctx, ownerKey)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired between the two calls
		}
		if err != nil {
			return nil, fmt.Errorf("tally: read the shard lease: %w", err)
		}
		var other Holder
		_ = json.Unmarshal(e.Value(), &other)
		if other.Node != holder.Node {
			left := l.ttl - time.Since(e.Created())
			return nil, fmt.Errorf("%w: %s; its lease expires %v after its last renewal (about %v from now) if that process is gone: stop it, or wait and start this one again",
				ErrShardsHeld, other, l.ttl, left.Round(time.Second))
		}
		// Our own node's earlier run: it is dead, because this process
		// holds the node's data directory.
		sent = time.Now()
		if rev, err = kv.Update(ctx, ownerKey, val, e.Revision()); err == nil {
			l.rev, l.renewedAt = rev, sent
			return l, nil
		}
	}
	return nil, fmt.Errorf("tally: take the shard lease: the owners key keeps changing")
}

// keep renews the lease until ctx ends, and returns once the lease is
// lost: a renewal refused (someone else holds the key now) or none
// confirmed for longer than the TTL allows. It never returns nil while
// ctx is live.
func (l *lease) keep(ctx context.Context, log *slog.Logger) error {
	t := time.NewTicker(l.ttl / 5)
	defer t.Stop()
	val, _ := json.Marshal(l.holder)
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Checked before renewing: a process that was paused past its
		// TTL must stop, even if the key happens to be free again.
		if time.Since(l.renewedAt) > l.ttl*4/5 {
			return fmt.Errorf("%w: not renewed for %v", errLeaseLost, time.Since(l.renewedAt).Round(time.Millisecond))
		}
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, l.ttl/5)
		rev, err := l.kv.Update(rctx, ownerKey, val, l.rev)
		cancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			l.rev, l.renewedAt = rev, sent
			if failing {
				log.Info("tally: shard lease renewed again")
				failing = false
			}
		case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence,
			errors.Is(err, jetstream.ErrKeyNotFound):
			return fmt.Errorf("%w: the owners key changed under us", errLeaseLost)
		case ctx.Err() != nil:
			return nil
		default:
			if !failing {
				log.Warn("tally: renew shard lease; retrying", "err", err)
				failing = true
			}
		}
	}
}

// release gives the lease up, so the next owner need not wait for it to
// expire.
func (l *lease) release(ctx context.Context) {
	_ = l.kv.Delete(ctx, ownerKey, jetstream.LastRevision(l.rev))
}
