package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
)

// TestKillDashNineMidStream: on a change-allowed poll every user votes A,
// then B, then C (each vote once the last is answered, as the viewer page
// does); serve is killed with SIGKILL in the middle and restarted, and
// every user resends what was not yet answered. The results every viewer
// sees, the store and the log must agree on everybody on C, without a
// further vote to nudge them.
func TestKillDashNineMidStream(t *testing.T) {
	dir := t.TempDir()
	s, p := startProcess(t, dir)
	poll := s.openPoll(3, func(sp *schema.PollSpec) { sp.AllowChange = true })
	const users = 240
	answered := make([]int, users) // votes answered per user, in order
	var acks atomic.Int64
	var wg sync.WaitGroup
	for u := range users {
		wg.Go(func() {
			v, err := s.dialQuiet(poll.ID, fmt.Sprintf("crash-%d", u))
			if err != nil {
				return // the kill came first: the resend below votes
			}
			defer v.c.CloseNow()
			for k := range 3 {
				st, _, err := v.tryVote(fmt.Sprintf("k%d", k), k, 1)
				if err != nil || st != schema.StatusAccepted {
					return
				}
				answered[u] = k + 1
				acks.Add(1)
			}
		})
	}
	await.Until(t, 60*time.Second, "a third of the votes answered", func() bool { return acks.Load() >= users })
	p.kill(t)
	wg.Wait()
	s, _ = startProcess(t, dir)
	resend := make(chan string, users)
	for u := range users {
		wg.Go(func() {
			v, err := s.dialQuiet(poll.ID, fmt.Sprintf("crash-%d", u))
			if err != nil {
				resend <- err.Error()
				return
			}
			defer v.c.CloseNow()
			for k := answered[u]; k < 3; k++ {
				st, reason, _, err := v.voteFinal(fmt.Sprintf("k%d", k), k, 1, 10)
				if err != nil || (st != schema.StatusAccepted && st != schema.StatusDuplicate) {
					resend <- fmt.Sprintf("user %d vote k%d: %s %s %v", u, k, st, reason, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(resend)
	for e := range resend {
		t.Error(e)
	}
	t.Logf("%d of %d votes answered before the kill", acks.Load(), 3*users)
	s.recountAgrees(poll.ID, []int64{0, 0, users})
}

// TestSecondServeOnTheSameNATSRefuses: a second serve pointed at a running
// one's NATS must refuse to start, naming the holder, and must not touch
// the first one's counting.
func TestSecondServeOnTheSameNATSRefuses(t *testing.T) {
	dir := t.TempDir()
	s, _ := startProcess(t, dir)
	poll := s.openPoll(2)
	for u := range 20 {
		s.dial(poll.ID, fmt.Sprintf("first-%d", u)).mustVote("k", u%2, 1, schema.StatusAccepted)
	}
	node, err := nodeID(dir)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := runProcess(t, "serve", "--data", t.TempDir(), "--http", freePort(t),
		"--nats", s.natsURL, "--nats-nkey", dir+"/nats.nkey", "--admin-token", testToken, "--log-level", "warn")
	select {
	case <-second.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("the second serve is still running: it should have refused to start")
	}
	out := strings.Join(second.stderr, "\n")
	if second.err == nil || !strings.Contains(out, "the tally shards are owned by another process") || !strings.Contains(out, "node "+node) {
		t.Fatalf("second serve: %v, output:\n%s\nwant a refusal naming node %s", second.err, out, node)
	}
	for u := range 20 {
		s.dial(poll.ID, fmt.Sprintf("later-%d", u)).mustVote("k", u%2, 1, schema.StatusAccepted)
	}
	s.recountAgrees(poll.ID, []int64{20, 20})
}

// TestPausedServeRecovers: serve stopped (SIGSTOP) past its tally lease
// and woken up stops folding, takes the lease again and starts over from
// the store, so nothing is lost or doubled.
func TestPausedServeRecovers(t *testing.T) {
	dir := t.TempDir()
	s, p := startProcess(t, dir)
	poll := s.openPoll(2, func(sp *schema.PollSpec) { sp.VotesPerUser = 3 })
	for u := range 20 {
		s.dial(poll.ID, fmt.Sprintf("before-%d", u)).mustVote("k", u%2, 1, schema.StatusAccepted)
	}
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// The pause itself is what is under test: a span of wall-clock time.
	await.Until(t, time.Minute, "a pause longer than the lease", func() bool { return time.Since(stopped) > schema.OwnerLeaseTTL+2*time.Second })
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for u := range 20 {
		v := s.dial(poll.ID, fmt.Sprintf("after-%d", u))
		v.mustVote("k", u%2, 1, schema.StatusAccepted)
	}
	s.recountAgrees(poll.ID, []int64{20, 20})
}
