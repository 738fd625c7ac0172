package tally

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// errLeaseLost is the cause a runner is stopped with when its shard's
// lease could not be renewed in time: another node may own it now.
var errLeaseLost = errors.New("shard lease lost")

// errHandOff is the cause a runner is stopped with when its shard moves
// to another node: it flushes and checkpoints, then the lease is released.
var errHandOff = errors.New("shard handed off")

// Keys of the owners bucket. A member key says a tally node is alive; a
// shard key is the lease on one shard index. Both expire with the
// bucket's TTL unless their holder renews them.
const (
	memberPrefix = "member."
	shardPrefix  = "shard."
)

func shardKey(idx int) string { return shardPrefix + strconv.Itoa(idx) }

// Holder names a tally node. Node is stable across restarts of one node
// (it lives in its data directory, which one process at a time can
// hold), so a node restarted after a crash takes its own leases over at
// once instead of waiting for them to expire.
type Holder struct {
	Node  string    `json:"node"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("node %s (pid %d on %s, since %s)", h.Node, h.PID, h.Host, h.Since.Format(time.RFC3339))
}

func newHolder(node string) Holder {
	host, _ := os.Hostname()
	return Holder{Node: node, Host: host, PID: os.Getpid(), Since: time.Now().UTC()}
}

// lease is this node's hold on one shard key, renewed by compare-and-set
// on its revision.
type lease struct {
	rev uint64
	// renewedAt is when the last successful renewal was sent: the server
	// stored it later, so the lease lives at least the TTL from here.
	renewedAt time.Time
}

// takeLease creates the shard key, or takes it over from an earlier run
// of this same node (dead: this process holds the node's data
// directory). ok is false when another node holds it.
func takeLease(ctx context.Context, kv jetstream.KeyValue, idx int, me Holder) (l lease, ok bool, err error) {
	val, _ := json.Marshal(me)
	sent := time.Now()
	rev, err := kv.Create(ctx, shardKey(idx), val)
	if err == nil {
		return lease{rev: rev, renewedAt: sent}, true, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return l, false, fmt.Errorf("take the lease of shard %d: %w", idx, err)
	}
	e, err := kv.Get(ctx, shardKey(idx))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return l, false, nil // expired between the two calls: next tick
	}
	if err != nil {
		return l, false, fmt.Errorf("read the lease of shard %d: %w", idx, err)
	}
	var other Holder
	if json.Unmarshal(e.Value(), &other) != nil || other.Node != me.Node {
		return l, false, nil
	}
	sent = time.Now()
	if rev, err = kv.Update(ctx, shardKey(idx), val, e.Revision()); err != nil {
		return l, false, nil // changed under us: next tick
	}
	return lease{rev: rev, renewedAt: sent}, true, nil
}

// renew extends the lease; lost reports that it is gone (another node
// took it, or it expired), err a failure that may pass.
func (l *lease) renew(ctx context.Context, kv jetstream.KeyValue, idx int, me Holder) (lost bool, err error) {
	val, _ := json.Marshal(me)
	sent := time.Now()
	rev, err := kv.Update(ctx, shardKey(idx), val, l.rev)
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		l.rev, l.renewedAt = rev, sent
		return false, nil
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence,
		errors.Is(err, jetstream.ErrKeyNotFound):
		return true, nil
	}
	return false, err
}

// holders reads the owners bucket in one pass: the live members and
// which node holds each shard index.
func holders(ctx context.Context, kv jetstream.KeyValue) (members []string, owners map[int]string, err error) {
	owners = map[int]string{}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, nil, fmt.Errorf("read tally owners: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("read tally owners: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, nil, errors.New("read tally owners: watch ended")
			}
			if e == nil {
				return members, owners, nil // every current value is in
			}
			var h Holder
			if json.Unmarshal(e.Value(), &h) != nil {
				continue
			}
			switch k := e.Key(); {
			case strings.HasPrefix(k, memberPrefix):
				members = append(members, h.Node)
			case strings.HasPrefix(k, shardPrefix):
				if idx, err := strconv.Atoi(strings.TrimPrefix(k, shardPrefix)); err == nil {
					owners[idx] = h.Node
				}
			}
		}
	}
}

// Owners reads who folds what from the owners bucket, for an operator's
// check: the tally nodes alive and the holder of each shard index.
func Owners(ctx context.Context, js jetstream.JetStream) (members []string, owners map[int]string, err error) {
	kv, err := js.KeyValue(ctx, schema.OwnersBucket)
	if err != nil {
		return nil, nil, fmt.Errorf("open tally owners bucket: %w", err)
	}
	return holders(ctx, kv)
}
