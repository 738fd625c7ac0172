package tally

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/votecast/votecast/schema"
)

// ServeStored answers StoredSubject requests until the returned
// subscription is unsubscribed: the stored totals of the shard indices
// this node owns and has settled, whose store is the one that counts for
// them (with the embedded store each node keeps only its own indices).
// A node that owns none of a poll's shards stays silent.
func (w *Worker) ServeStored(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(schema.StoredSubject("*"), func(m *nats.Msg) {
		poll := m.Subject[len(schema.StoredSubject("")):]
		var q struct {
			Shards int `json:"shards"`
		}
		if json.Unmarshal(m.Data, &q) != nil || q.Shards < 1 || q.Shards > schema.MaxShards {
			return
		}
		var mine []int
		for idx := range q.Shards {
			if w.Owns(idx) {
				mine = append(mine, idx)
			}
		}
		if len(mine) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := StoredTotals(ctx, w.opts.Store, poll, mine)
		if err != nil {
			w.log.Error("tally: read stored totals", "poll", poll, "err", err)
			out.Error = err.Error()
		}
		b, _ := json.Marshal(out)
		_ = m.Respond(b)
	})
	if err != nil {
		return nil, fmt.Errorf("serve stored totals: %w", err)
	}
	return sub, nil
}

// StoredTotals sums the stored shard headers of a poll, of the given
// shard indices (nil: all).
func StoredTotals(ctx context.Context, st Store, poll string, shards []int) (schema.StoredTotals, error) {
	out := schema.StoredTotals{Poll: poll, Covered: shards}
	hs, err := st.Headers(ctx, poll)
	if err != nil {
		return out, err
	}
	if shards != nil {
		hs = slices.DeleteFunc(hs, func(h ShardHeader) bool { return !slices.Contains(shards, h.Shard) })
	}
	n := 0
	out.ByShard = map[int][]int64{}
	for _, h := range hs {
		n = max(n, len(h.Counts))
		out.ByShard[h.Shard] = h.Counts
	}
	out.Counts, out.Shards = SumHeaders(hs, n), len(hs)
	return out, nil
}

// AskStored gathers a poll's stored totals from the tally nodes that own
// its shards, each answering for its own: it waits until every shard is
// covered, or returns an error naming how many are not.
func AskStored(ctx context.Context, nc *nats.Conn, poll schema.Poll) (schema.StoredTotals, error) {
	out := schema.StoredTotals{Poll: poll.ID, Counts: make([]int64, len(poll.Options))}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return out, fmt.Errorf("ask the tally for stored totals: %w", err)
	}
	defer sub.Unsubscribe()
	q, _ := json.Marshal(map[string]int{"shards": poll.Shards})
	if err := nc.PublishRequest(schema.StoredSubject(poll.ID), inbox, q); err != nil {
		return out, fmt.Errorf("ask the tally for stored totals: %w", err)
	}
	covered := map[int]bool{}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for len(covered) < poll.Shards {
		m, err := sub.NextMsgWithContext(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return out, fmt.Errorf("stored totals: %d of %d shards have no tally owner answering", poll.Shards-len(covered), poll.Shards)
		}
		if err != nil {
			return out, fmt.Errorf("ask the tally for stored totals: %w", err)
		}
		var part schema.StoredTotals
		if err := json.Unmarshal(m.Data, &part); err != nil {
			return out, fmt.Errorf("stored totals: %w", err)
		}
		if part.Error != "" {
			return out, fmt.Errorf("stored totals: %s", part.Error)
		}
		for _, idx := range part.Covered {
			if covered[idx] || idx < 0 || idx >= poll.Shards {
				continue // two owners answered for one index: a hand-off in flight
			}
			covered[idx] = true
			counts := part.ByShard[idx]
			if out.ByShard == nil {
				out.ByShard = map[int][]int64{}
			}
			out.ByShard[idx] = counts
			for i := range min(len(counts), len(out.Counts)) {
				out.Counts[i] += counts[i]
			}
			if counts != nil {
				out.Shards++
			}
		}
	}
	return out, nil
}
