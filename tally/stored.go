package tally

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/votecast/votecast/schema"
)

// ServeStored answers StoredSubject requests from the store until the
// returned subscription is drained or unsubscribed.
func ServeStored(nc *nats.Conn, st Store, log *slog.Logger) (*nats.Subscription, error) {
	sub, err := nc.QueueSubscribe(schema.StoredSubject("*"), "tally", func(m *nats.Msg) {
		poll := m.Subject[len(schema.StoredSubject("")):]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := StoredTotals(ctx, st, poll)
		if err != nil {
			log.Error("tally: read stored totals", "poll", poll, "err", err)
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

// StoredTotals sums the stored shard headers of a poll.
func StoredTotals(ctx context.Context, st Store, poll string) (schema.StoredTotals, error) {
	out := schema.StoredTotals{Poll: poll}
	hs, err := st.Headers(ctx, poll)
	if err != nil {
		return out, err
	}
	n := 0
	for _, h := range hs {
		n = max(n, len(h.Counts))
	}
	out.Counts, out.Shards = SumHeaders(hs, n), len(hs)
	return out, nil
}
