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

// ServeBallots answers BallotSubject requests until the returned
// subscription is unsubscribed: whether a client key was applied to a
// user's ballot, once the shard's close marker is folded and flushed
// (before that the answer would not be final, so it is "pending"). Only
// the node that owns the shard index answers, from its store.
func (w *Worker) ServeBallots(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(schema.BallotSubject("*"), func(m *nats.Msg) {
		poll := m.Subject[len(schema.BallotSubject("")):]
		var q schema.BallotQuery
		if err := json.Unmarshal(m.Data, &q); err != nil || q.User == "" || len(q.User) > schema.MaxUserBytes || len(q.Key) > schema.MaxClientKeyBytes {
			return
		}
		if !w.Owns(q.Shard) {
			return // its owner answers; with none, the asker retries
		}
		out := schema.BallotAnswer{}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		state, err := ballotState(ctx, w.opts.Store, poll, q)
		out.State = state
		cancel()
		if err != nil {
			w.log.Error("tally: answer a ballot query", "poll", poll, "shard", q.Shard, "err", err)
			out.Error = "store unavailable"
		}
		b, _ := json.Marshal(out)
		_ = m.Respond(b)
	})
	if err != nil {
		return nil, fmt.Errorf("serve ballot queries: %w", err)
	}
	return sub, nil
}

func ballotState(ctx context.Context, st Store, poll string, q schema.BallotQuery) (string, error) {
	hs, err := st.Headers(ctx, poll)
	if err != nil {
		return "", err
	}
	if !slices.ContainsFunc(hs, func(h ShardHeader) bool { return h.Shard == q.Shard && h.Closed }) {
		return schema.BallotPending, nil
	}
	b, ok, err := st.LoadBallot(ctx, poll, q.Shard, q.User)
	if err != nil {
		return "", err
	}
	if ok && slices.Contains(b.Keys, KeyHash(q.Key)) {
		return schema.BallotApplied, nil
	}
	return schema.BallotAbsent, nil
}

// ErrBallotPending is returned by BallotClient.Applied while the tally has
// not yet folded the poll's close marker.
var ErrBallotPending = errors.New("the tally has not finished counting this poll yet")

// BallotClient asks the tally about ballots over NATS.
type BallotClient struct{ NC *nats.Conn }

// Applied reports whether the tally applied the user's client key in a
// closed poll.
func (c BallotClient) Applied(ctx context.Context, poll string, shard int, user, key string) (bool, error) {
	body, _ := json.Marshal(schema.BallotQuery{Shard: shard, User: user, Key: key})
	m, err := c.NC.RequestWithContext(ctx, schema.BallotSubject(poll), body)
	if err != nil {
		return false, fmt.Errorf("ask the tally about a ballot: %w", err)
	}
	var a schema.BallotAnswer
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return false, fmt.Errorf("ask the tally about a ballot: %w", err)
	}
	switch {
	case a.Error != "":
		return false, fmt.Errorf("ask the tally about a ballot: %s", a.Error)
	case a.State == schema.BallotPending:
		return false, ErrBallotPending
	}
	return a.State == schema.BallotApplied, nil
}
