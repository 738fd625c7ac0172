package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/tally"
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

// TestSecondServeSharesTheShards: a second serve pointed at a running
// one's NATS joins it: the shard indices split between their tallies
// (each with its own embedded store), votes through either edge count
// once, and when the second is killed with SIGKILL its indices move back
// to the first, which rebuilds them from the log.
func TestSecondServeSharesTheShards(t *testing.T) {
	dir := t.TempDir()
	a, _ := startProcess(t, dir, "--shards", "16")
	poll := a.openPoll(2)
	dirB := t.TempDir()
	b, pb := startProcess(t, dirB, "--shards", "16", "--nats", a.natsURL, "--nats-nkey", filepath.Join(dir, "nats.nkey"))
	b.natsURL = a.natsURL
	owners := a.tallyOwners(t)
	await.For(t, 30*time.Second, func() string {
		got := owners()
		if len(got) != 2 {
			return fmt.Sprintf("shard indices per tally node %v, want two nodes", got)
		}
		return ""
	})
	for u := range 40 {
		edge := a
		if u%2 == 1 {
			edge = b
		}
		edge.dial(poll.ID, fmt.Sprintf("shared-%d", u)).mustVote("k", u%2, 1, schema.StatusAccepted)
	}
	a.recountAgrees(poll.ID, []int64{20, 20})
	pb.kill(t)
	await.For(t, 40*time.Second, func() string {
		got := owners()
		if len(got) != 1 {
			return fmt.Sprintf("shard indices per tally node %v, want the survivor alone", got)
		}
		return ""
	})
	for u := range 10 {
		a.dial(poll.ID, fmt.Sprintf("after-%d", u)).mustVote("k", 0, 1, schema.StatusAccepted)
	}
	a.recountAgrees(poll.ID, []int64{30, 20})
}

// tallyOwners returns a reader of the owners bucket: shard indices held
// per tally node.
func (s *server) tallyOwners(t *testing.T) func() map[string]int {
	t.Helper()
	log, _ := newLogger("error")
	link, err := natsConfig{url: s.natsURL, dir: s.dir}.dial("test", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.close(context.Background()) })
	kv, err := link.js.KeyValue(context.Background(), schema.OwnersBucket)
	if err != nil {
		t.Fatal(err)
	}
	return func() map[string]int {
		out := map[string]int{}
		keys, _ := kv.Keys(context.Background())
		for _, k := range keys {
			if !strings.HasPrefix(k, "shard.") {
				continue
			}
			if e, err := kv.Get(context.Background(), k); err == nil {
				var h tally.Holder
				if json.Unmarshal(e.Value(), &h) == nil {
					out[h.Node]++
				}
			}
		}
		return out
	}
}

// TestPausedServeRecovers: serve stopped (SIGSTOP) past its shard leases
// and woken up stops folding them, takes them again and starts over from
// its checkpoints, so nothing is lost or doubled.
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

// TestSpareTallyStandsBy: with more tally nodes than shard indices the
// spare folds nothing and still reports ready (a stand-by, not a fault);
// when the owner is killed with SIGKILL the spare takes the index over,
// rebuilds it from the log and counts what comes next.
func TestSpareTallyStandsBy(t *testing.T) {
	dir := t.TempDir()
	edge, _ := startProcess(t, dir, "--roles", "ingest,broadcast", "--shards", "1")
	join := []string{"--roles", "tally", "--shards", "1", "--nats", edge.natsURL, "--nats-nkey", filepath.Join(dir, "nats.nkey")}
	dirs := []string{t.TempDir(), t.TempDir()}
	tallies := make([]*server, 2)
	procs := make([]*process, 2)
	for i, d := range dirs {
		tallies[i], procs[i] = startProcess(t, d, join...)
	}
	nodeOf := func(i int) string {
		b, err := os.ReadFile(filepath.Join(dirs[i], "node.id"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	poll := edge.openPoll(2)
	edge.dial(poll.ID, "before").mustVote("k", 0, 1, schema.StatusAccepted)
	owners := edge.tallyOwners(t)
	owner := -1
	await.For(t, 30*time.Second, func() string {
		got := owners()
		for i := range dirs {
			if len(got) == 1 && got[nodeOf(i)] == 1 {
				owner = i
				return ""
			}
		}
		return fmt.Sprintf("shard indices per tally node %v, want one node holding the one index", got)
	})
	spare := 1 - owner
	// Each node's readiness follows its own last look at the owners
	// (every 2 s): both must come to 200.
	for i, s := range tallies {
		await.For(t, 20*time.Second, func() string {
			if code := getStatus(t, "http://"+s.addr+"/readyz"); code != http.StatusOK {
				return fmt.Sprintf("tally node %d (owner: %v) /readyz: %d, want 200", i, i == owner, code)
			}
			return ""
		})
	}
	procs[owner].kill(t)
	await.For(t, 40*time.Second, func() string {
		if got := owners(); len(got) != 1 || got[nodeOf(spare)] != 1 {
			return fmt.Sprintf("shard indices per tally node %v, want the spare %s to hold the index", got, nodeOf(spare))
		}
		return ""
	})
	edge.dial(poll.ID, "after").mustVote("k", 1, 1, schema.StatusAccepted)
	edge.recountAgrees(poll.ID, []int64{1, 1})
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
