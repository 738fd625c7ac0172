package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
)

// chaosViewers is how many viewers vote in a chaos run: thousands by
// default, VOTECAST_CHAOS_VIEWERS to change it.
func chaosViewers(t *testing.T) int {
	t.Helper()
	env := os.Getenv("VOTECAST_CHAOS_VIEWERS")
	if env == "" {
		return 1500
	}
	n, err := strconv.Atoi(env)
	if err != nil || n < 30 {
		t.Fatalf("VOTECAST_CHAOS_VIEWERS=%q: want a number of viewers, at least 30", env)
	}
	return n
}

// prober measures, for each fault, how long viewers wait for the truth:
// as the fault starts it casts one vote in every shard index of a poll of
// its own, through an edge that stays up, and times until a watcher is
// shown all of them. That is a vote's whole path (PubAck, fold, snapshot,
// fan-out) on whichever index the fault moved or stalled.
type prober struct {
	t       *testing.T
	edge    *server
	poll    schema.Poll
	w       *watcher
	batch   int
	counted int64
	figures []string
	// diagnose, when set, says what a failed wait needs to know (the
	// tally nodes' state).
	diagnose func() string
}

func newProber(t *testing.T, edge *server) *prober {
	p := &prober{t: t, edge: edge, poll: edge.openPoll(2)}
	p.w = watch(edge.dial(p.poll.ID, "watcher-"+p.poll.ID))
	return p
}

// start casts a batch of probe votes and returns the wait for them to be
// shown; call it before the fault, and the wait after. The watcher is
// polled from the start, so the time measured is when viewers were shown
// the votes, however long the fault itself takes to play.
func (p *prober) start(what string) (converged func()) {
	t0 := time.Now()
	users := shardUsers(fmt.Sprintf("probe-%d", p.batch), p.poll.Shards)
	p.batch++
	p.counted += int64(len(users))
	want := []int64{p.counted, 0}
	errs := make(chan error, len(users))
	for _, u := range users {
		go func() { errs <- p.cast(u) }()
	}
	type shown struct {
		after time.Duration // 0: not within the deadline
		last  string
	}
	seen := make(chan shown, 1)
	go func() {
		var s shown
		if await.Within(3*time.Minute, func() bool {
			got, alive := p.w.latest()
			if alive && slices.Equal(got, want) {
				return true
			}
			s.last = fmt.Sprintf("after %q the probe watcher is shown %v (connected: %v), want %v", what, got, alive, want)
			return false
		}) {
			s.after = time.Since(t0)
		}
		seen <- s
	}()
	return func() {
		p.t.Helper()
		deadline := time.After(3 * time.Minute)
		for range users {
			select {
			case err := <-errs:
				if err != nil {
					p.t.Errorf("a probe vote cast at %q: %v", what, err)
				}
			case <-deadline:
				p.t.Fatalf("probe votes cast at %q: no final answer within 3m", what)
			}
		}
		s := <-seen // bounded by its own 3m deadline
		if s.after == 0 {
			p.t.Fatalf("%s (after 3m)\n%s", s.last, p.why())
		}
		fig := fmt.Sprintf("%s: a vote in each of the %d shard indices, cast as it began, shown to viewers after %v",
			what, len(users), s.after.Round(10*time.Millisecond))
		p.figures = append(p.figures, fig)
		p.t.Log(fig)
	}
}

// why gathers recount's view of the probe poll (log, store, published)
// and whatever diagnose adds.
func (p *prober) why() string {
	var out bytes.Buffer
	cfg := recountConfig{nats: natsConfig{url: p.edge.natsURL, dir: p.edge.dir, user: p.edge.natsUser, password: p.edge.natsPassword}, poll: p.poll.ID, wait: 5 * time.Second}
	err := recount(context.Background(), cfg, &out)
	s := fmt.Sprintf("recount: %v\n%s", err, out.String())
	if p.diagnose != nil {
		s += p.diagnose()
	}
	return s
}

// cast votes once as user and wants it counted.
func (p *prober) cast(user string) error {
	var v *viewer
	var err error
	for range 10 {
		if v, err = p.edge.dialVoter(p.poll.ID, user); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond) // a reconnecting client's backoff
	}
	if err != nil {
		return fmt.Errorf("dial as %s: %w", user, err)
	}
	defer v.c.CloseNow()
	st, reason, sent, err := v.voteFinal("k", 0, 1, 60)
	// A resend of a vote whose first answer was retry may find it in the
	// log: "already counted" is counted too.
	if err == nil && st != schema.StatusAccepted && !(st == schema.StatusDuplicate && reason == "already counted") {
		err = fmt.Errorf("%s: %s (%s) after %d sends, want it counted", user, st, reason, sent)
	}
	return err
}

// check: the probe poll holds exactly the probe votes, and recount agrees.
func (p *prober) check() { p.edge.recountAgrees(p.poll.ID, []int64{p.counted, 0}) }

// shardUsers returns one user name per shard index of a poll with that
// many shards.
func shardUsers(prefix string, shards int) []string {
	users := make([]string, shards)
	for i, n := 0, 0; i < shards; n++ {
		if u := fmt.Sprintf("%s-%d", prefix, n); schema.ShardOf(u, shards) == i {
			users[i] = u
			i, n = i+1, -1
		}
	}
	return users
}
