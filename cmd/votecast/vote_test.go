package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"
	"slices"
	"sync"
	"testing"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
)

func TestManyUsersVoteConcurrently(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(4)
	const users = 200
	want := make([]int64, 4)
	var wg sync.WaitGroup
	for u := range users {
		want[u%4]++
		v := s.dial(p.ID, fmt.Sprintf("user-%d", u))
		wg.Go(func() { v.checkVote("k1", u%4, 1, schema.StatusAccepted) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	s.waitTotals(p.ID, want)
	s.recountAgrees(p.ID, want)
}

func TestRepeatsAreNotCounted(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(3)
	v := s.dial(p.ID, "alice")
	v.mustVote("a1", 0, 1, schema.StatusAccepted)
	// The same frame again (a client retry) and a second vote, same socket.
	if st, reason := v.vote("a1", 0, 1); st != schema.StatusDuplicate || reason != "already counted" {
		t.Fatalf("resend: %s (%s)", st, reason)
	}
	if st, reason := v.vote("a2", 1, 1); st != schema.StatusDuplicate || reason != "no votes left" {
		t.Fatalf("second vote: %s (%s)", st, reason)
	}
	// A new socket knows nothing: JetStream's dedup key stops it.
	w := s.dial(p.ID, "alice")
	if st, reason := w.vote("a3", 2, 1); st != schema.StatusDuplicate || reason != "already voted" {
		t.Fatalf("vote from a second socket: %s (%s)", st, reason)
	}
	s.dial(p.ID, "bob").mustVote("b1", 2, 1, schema.StatusAccepted)
	s.waitTotals(p.ID, []int64{1, 0, 1})
	s.recountAgrees(p.ID, []int64{1, 0, 1})
}

func TestPolicies(t *testing.T) {
	type vote struct {
		option, count int
		want          string
	}
	tests := []struct {
		name   string
		budget int
		change bool
		votes  []vote
		want   []int64
	}{
		{"change allowed moves the vote", 1, true, []vote{
			{0, 1, schema.StatusAccepted}, {2, 1, schema.StatusAccepted}, {1, 1, schema.StatusAccepted},
		}, []int64{0, 1, 0}},
		{"budget adds up", 3, false, []vote{
			{0, 2, schema.StatusAccepted}, {1, 1, schema.StatusAccepted}, {2, 1, schema.StatusDuplicate},
		}, []int64{2, 1, 0}},
		{"budget with change sets shares", 3, true, []vote{
			{0, 3, schema.StatusAccepted}, {0, 1, schema.StatusAccepted}, {2, 2, schema.StatusAccepted},
		}, []int64{1, 0, 2}},
		{"bad count is rejected", 1, false, []vote{
			{0, 2, schema.StatusRejected}, {5, 1, schema.StatusRejected}, {1, 1, schema.StatusAccepted},
		}, []int64{0, 1, 0}},
	}
	s := startServer(t, t.TempDir())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			p := s.openPoll(3, func(sp *schema.PollSpec) { sp.VotesPerUser, sp.AllowChange = tc.budget, tc.change })
			v := s.dial(p.ID, "carol")
			v.t = t
			for i, vt := range tc.votes {
				v.mustVote(fmt.Sprintf("v%d", i), vt.option, vt.count, vt.want)
			}
			// A second user over a budget: the tally, not the socket, rules.
			s.waitTotals(p.ID, tc.want)
			s.recountAgrees(p.ID, tc.want)
		})
	}
}

func TestVotesAfterCloseDoNotCount(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(2)
	s.dial(p.ID, "early").mustVote("e", 0, 1, schema.StatusAccepted)
	late := s.dial(p.ID, "late")
	s.setState(p.ID, "close")
	if st, reason := late.vote("l", 1, 1); st != schema.StatusRejected || reason != "poll is closed" {
		t.Fatalf("vote after close: %s (%s)", st, reason)
	}
	s.waitTotals(p.ID, []int64{1, 0})
	s.recountAgrees(p.ID, []int64{1, 0})
}

// TestCloseDuringSpike closes a poll while votes pour in. A viewer told
// retry sends the same frame again, as the viewer page does, until a final
// answer: every vote answered accepted (or "already counted", a resend of
// one that stands before the close) must count and nothing else may.
func TestCloseDuringSpike(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(2)
	const (
		users = 150
		tries = 10 // sends per vote before it counts as never answered
	)
	viewers := make([]*viewer, users)
	for u := range users {
		viewers[u] = s.dial(p.ID, fmt.Sprintf("spike-%d", u))
	}
	type answer struct {
		status, reason string
		sent           int
		err            error
	}
	answers := make([]answer, users)
	var wg sync.WaitGroup
	vote := func(u int) {
		wg.Go(func() {
			a := &answers[u]
			a.status, a.reason, a.sent, a.err = viewers[u].voteFinal("k", u%2, 1, tries)
		})
	}
	// Two thirds of the spike race the close request; the last third is
	// sent once the node has stopped taking votes, so that some votes meet
	// a closing poll on every run, not only when the race falls that way.
	for u := range 2 * users / 3 {
		vote(u)
		if u == users/3 {
			wg.Go(func() {
				if _, err := s.trySetState(p.ID, "close"); err != nil {
					t.Error(err)
				}
			})
		}
	}
	await.For(t, 10*time.Second, func() string {
		var now schema.Poll
		if _, err := s.tryCall("GET", "/api/polls/"+p.ID, nil, false, &now); err != nil {
			return err.Error()
		}
		if now.State == schema.Open {
			return "the poll is still open"
		}
		return ""
	})
	for u := 2 * users / 3; u < users; u++ {
		vote(u)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	want := make([]int64, 2)
	var accepted, counted, rejected, resent int
	for u, a := range answers {
		if a.sent > 1 {
			resent++
		}
		switch {
		case a.err != nil:
			t.Fatalf("user %d: %v", u, a.err)
		case a.status == schema.StatusAccepted:
			accepted++
			want[u%2]++
		case a.status == schema.StatusDuplicate && a.reason == "already counted":
			counted++
			want[u%2]++
		case a.status == schema.StatusRejected:
			rejected++
		default:
			t.Fatalf("user %d: no final answer after %d sends: %s (%s)", u, a.sent, a.status, a.reason)
		}
	}
	t.Logf("around the close: %d accepted, %d already counted, %d rejected; %d resent after retry", accepted, counted, rejected, resent)
	s.waitTotals(p.ID, want)
	s.recountAgrees(p.ID, want)
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	p := s.openPoll(3)
	for u := range 30 {
		s.dial(p.ID, fmt.Sprintf("r-%d", u)).mustVote("k", u%3, 1, schema.StatusAccepted)
	}
	s.waitTotals(p.ID, []int64{10, 10, 10})
	watcher := s.dial(p.ID, "watcher")
	watcher.next("results")
	s.shutdown()
	for range watcher.frames { // drained when the server closes the socket
	}
	if code := websocket.CloseStatus(watcher.err); code != websocket.StatusGoingAway {
		t.Fatalf("socket closed with %v (%v), want going away", code, watcher.err)
	}

	s = startServer(t, dir)
	var got schema.Poll
	s.call("GET", "/api/polls/"+p.ID, nil, false, &got)
	if got.State != schema.Open || !slices.Equal(got.Options, p.Options) {
		t.Fatalf("poll after restart = %+v", got)
	}
	s.waitTotals(p.ID, []int64{10, 10, 10})
	// Users keep their vote across the restart: a second vote by r-0 (a
	// one-vote poll, on another option) is refused by the dedup key, whose
	// window outlives the restart, and the totals below show that it did
	// not count either.
	if st, reason := s.dial(p.ID, "r-0").vote("again", 1, 1); st != schema.StatusDuplicate || reason != "already voted" {
		t.Fatalf("second vote after the restart: %s (%s), want duplicate (already voted)", st, reason)
	}
	s.dial(p.ID, "new").mustVote("k", 2, 1, schema.StatusAccepted)
	s.waitTotals(p.ID, []int64{10, 10, 11})
	s.recountAgrees(p.ID, []int64{10, 10, 11})
}

func TestRecountUntil(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(2)
	for u := range 4 {
		s.dial(p.ID, fmt.Sprintf("early-%d", u)).mustVote("k", 0, 1, schema.StatusAccepted)
	}
	s.waitTotals(p.ID, []int64{4, 0})
	cut := time.Now()
	for u := range 3 {
		s.dial(p.ID, fmt.Sprintf("late-%d", u)).mustVote("k", 1, 1, schema.StatusAccepted)
	}
	s.waitTotals(p.ID, []int64{4, 3})
	var out bytes.Buffer
	cfg := recountConfig{nats: natsConfig{url: s.natsURL, dir: s.dir}, poll: p.ID, until: cut.Format(time.RFC3339Nano), wait: 10 * time.Second}
	if err := recount(context.Background(), cfg, &out); err != nil {
		t.Fatalf("recount --until: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "events replayed: 4 ") || !strings.Contains(out.String(), "log as of") {
		t.Fatalf("recount --until did not stop at the cut:\n%s", out.String())
	}
}
