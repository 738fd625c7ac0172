package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
)

// TestLateResendNeverCountsAgain resends frames with a client key the
// tally already applied after JetStream's duplicate window has passed, so
// the log really holds them twice (the socket answers accepted: it is a
// new message there). The fold must know them, on every kind of poll.
func TestLateResendNeverCountsAgain(t *testing.T) {
	const window = 200 * time.Millisecond
	tests := []struct {
		name   string
		budget int
		change bool
		votes  []struct {
			key    string
			option int
		}
		resend string
		want   []int64
	}{
		{name: "budget of 3", budget: 3, votes: []struct {
			key    string
			option int
		}{{"k1", 0}}, resend: "k1", want: []int64{1, 0, 0}},
		{name: "change allowed", budget: 1, change: true, votes: []struct {
			key    string
			option int
		}{{"k1", 0}, {"k2", 1}}, resend: "k1", want: []int64{0, 1, 0}},
		{name: "one vote", budget: 1, votes: []struct {
			key    string
			option int
		}{{"k1", 2}}, resend: "k1", want: []int64{0, 0, 1}},
	}
	s := startServer(t, t.TempDir(), func(c *serveConfig) { c.dupWindow = window })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			p := s.openPoll(3, func(sp *schema.PollSpec) { sp.VotesPerUser, sp.AllowChange = tc.budget, tc.change })
			v := s.dial(p.ID, "late-resender")
			v.t = t
			option := map[string]int{}
			for _, vt := range tc.votes {
				v.mustVote(vt.key, vt.option, 1, schema.StatusAccepted)
				option[vt.key] = vt.option
			}
			s.waitTotals(p.ID, tc.want)
			sent := time.Now()
			// The window is a span of wall-clock time: waiting for it to
			// pass is the condition itself.
			await.Until(t, 5*time.Second, "the duplicate window to pass", func() bool { return time.Since(sent) > 2*window })
			// A new socket: the connection's own memory cannot help.
			w := s.dial(p.ID, "late-resender")
			w.t = t
			// Past the window the log takes it as a new message (it says
			// accepted); the fold must know the key.
			if st, reason := w.vote(tc.resend, option[tc.resend], 1); st != schema.StatusAccepted {
				t.Fatalf("late resend: %s (%s), want accepted into the log", st, reason)
			}
			s.recountAgrees(p.ID, tc.want)
		})
	}
}

// TestShardsFlagDoesNotHideVotes: a poll made with --shards 32 keeps all
// its shards consumed after a restart with the default 16.
func TestShardsFlagDoesNotHideVotes(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, func(c *serveConfig) { c.shards = 32 })
	p := s.openPoll(2)
	if p.Shards != 32 {
		t.Fatalf("poll has %d shards, want 32", p.Shards)
	}
	s.shutdown()
	s = startServer(t, dir, func(c *serveConfig) { c.shards = 16 })
	const users = 96
	want := []int64{0, 0}
	for u := range users {
		s.dial(p.ID, fmt.Sprintf("wide-%d", u)).mustVote("k", u%2, 1, schema.StatusAccepted)
		want[u%2]++
	}
	s.recountAgrees(p.ID, want)
	if code := s.call("GET", "/readyz", nil, false, nil); code != http.StatusOK {
		t.Fatalf("/readyz = %d, want 200", code)
	}
}

// TestClosingAndClosedAnswerTruthfully: while a poll is closing a vote's
// fate is open, so the answer is retry; once it is closed, a resend of a
// vote that counted is a duplicate, never rejected, and a new vote is
// rejected.
func TestClosingAndClosedAnswerTruthfully(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *serveConfig) { c.closeGrace = 3 * time.Second })
	p := s.openPoll(2)
	s.dial(p.ID, "early").mustVote("e1", 0, 1, schema.StatusAccepted)
	closed := make(chan int, 1)
	go func() { closed <- s.callNoFatal("POST", "/api/polls/"+p.ID+"/close") }()
	s.waitState(p.ID, schema.Closing, 10*time.Second)
	if st, reason := s.dial(p.ID, "early").vote("e1", 0, 1); st != schema.StatusRetry || reason != "poll is closing" {
		t.Fatalf("resend while closing: %s (%s), want retry (poll is closing)", st, reason)
	}
	select {
	case code := <-closed:
		if code != http.StatusOK {
			t.Fatalf("close: status %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("close did not finish")
	}
	await.For(t, 10*time.Second, func() string {
		st, reason := s.dial(p.ID, "early").vote("e1", 0, 1)
		if st == schema.StatusRetry { // the tally is still folding up to the marker
			return "resend after close: still " + reason
		}
		if st != schema.StatusDuplicate || reason != "already counted" {
			t.Fatalf("resend after close: %s (%s), want duplicate (already counted)", st, reason)
		}
		return ""
	})
	if st, reason := s.dial(p.ID, "latecomer").vote("l1", 1, 1); st != schema.StatusRejected || reason != "poll is closed" {
		t.Fatalf("new vote after close: %s (%s), want rejected (poll is closed)", st, reason)
	}
	s.recountAgrees(p.ID, []int64{1, 0})
}

// TestInterruptedCloseIsFinishedAtStart: a close cut short during its
// grace leaves the poll closing; the next start finishes it.
func TestInterruptedCloseIsFinishedAtStart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, func(c *serveConfig) { c.closeGrace = time.Minute })
	p := s.openPoll(2)
	s.dial(p.ID, "voter").mustVote("v1", 1, 1, schema.StatusAccepted)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", s.url("/api/polls/"+p.ID+"/close"), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	s.waitState(p.ID, schema.Closing, 10*time.Second)
	cancel() // the producer's request goes away mid-grace
	s.shutdown()
	s = startServer(t, dir)
	s.waitState(p.ID, schema.Closed, 20*time.Second)
	s.recountAgrees(p.ID, []int64{0, 1})
}

// TestRecountChecksPublishedTotals: recount compares what viewers are
// shown with the log, and says so with exit status 1 when they differ.
func TestRecountChecksPublishedTotals(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(2)
	s.dial(p.ID, "alice").mustVote("k", 0, 1, schema.StatusAccepted)
	s.recountAgrees(p.ID, []int64{1, 0})
	log, _ := newLogger("error")
	link, err := natsConfig{url: s.natsURL, dir: s.dir}.dial("test", log)
	if err != nil {
		t.Fatal(err)
	}
	defer link.close(context.Background())
	stale := schema.Snapshot{Poll: p.ID, Shard: schema.ShardOf("alice", p.Shards), Seq: 1, Counts: []int64{0, 0}}
	if err := link.nc.Publish(schema.SnapshotSubject(p.ID, stale.Shard), schema.EncodeSnapshot(stale)); err != nil {
		t.Fatal(err)
	}
	if err := link.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = recount(context.Background(), recountConfig{nats: natsConfig{url: s.natsURL, dir: s.dir}, poll: p.ID, wait: 5 * time.Second}, &out)
	if err != exitCode(1) || !strings.Contains(out.String(), "MISMATCH") {
		t.Fatalf("recount with stale published totals: %v\n%s\nwant exit status 1 and a mismatch", err, out.String())
	}
}

// waitState waits until the poll is in the given state.
func (s *server) waitState(id string, want schema.State, timeout time.Duration) {
	s.t.Helper()
	await.For(s.t, timeout, func() string {
		var got schema.Poll
		s.call("GET", "/api/polls/"+id, nil, false, &got)
		if got.State != want {
			return fmt.Sprintf("poll %s is %s, want %s", id, got.State, want)
		}
		return ""
	})
}
