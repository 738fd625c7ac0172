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

	"github.com/votecast/votecast/schema"
)

func TestManyUsersVoteConcurrently(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(4)
	const users = 200
	want := make([]int64, 4)
	var wg sync.WaitGroup
	errs := make(chan string, users)
	for u := range users {
		want[u%4]++
		v := s.dial(p.ID, fmt.Sprintf("user-%d", u))
		wg.Go(func() {
			if st, reason := v.vote("k1", u%4, 1); st != schema.StatusAccepted {
				errs <- fmt.Sprintf("user %d: %s (%s)", u, st, reason)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
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

// TestCloseDuringSpike closes a poll while votes pour in: every vote
// answered accepted must count and nothing else may.
func TestCloseDuringSpike(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(2)
	const users = 150
	viewers := make([]*viewer, users)
	for u := range users {
		viewers[u] = s.dial(p.ID, fmt.Sprintf("spike-%d", u))
	}
	statuses := make([]string, users)
	var wg sync.WaitGroup
	for u, v := range viewers {
		wg.Go(func() { statuses[u], _ = v.vote("k", u%2, 1) })
		if u == users/2 {
			wg.Go(func() { s.setState(p.ID, "close") })
		}
	}
	wg.Wait()
	want := make([]int64, 2)
	for u, st := range statuses {
		switch st {
		case schema.StatusAccepted:
			want[u%2]++
		case schema.StatusRejected, schema.StatusRetry:
		default:
			t.Fatalf("user %d: unexpected %s", u, st)
		}
	}
	t.Logf("accepted %v of %d around the close", want, users)
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
	// Users keep their ballots: a repeat is still refused after the
	// restart, by the tally even once the dedup window is gone.
	s.dial(p.ID, "r-0").vote("again", 1, 1)
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
