package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/votecast/votecast/certify"
	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/loadgen"
	"github.com/votecast/votecast/schema"
)

// TestGiveaway: a quiz giveaway with 3 prizes and 12 entrants at once,
// some on the wrong answer. Exactly the first 3 eligible entries in the
// log's order win: each entrant tells its outcome from its receipt and
// the cutoff the totals carry; the answer stays hidden until sold out;
// recount lists the same winners from the log; an entry after sold out
// is taken, and lost.
func TestGiveaway(t *testing.T) {
	s := startServer(t, t.TempDir())
	answer := 1
	p := s.createPoll(schema.PollSpec{Kind: schema.KindGiveaway, Prizes: 3, Answer: &answer, Question: "Capital of Korea?", Options: []string{"Busan", "Seoul"}})
	if p.Shards != 1 {
		t.Fatalf("a giveaway has %d shards, want 1 (one order)", p.Shards)
	}
	p = s.setState(p.ID, "open")
	var public schema.Poll
	s.call("GET", "/api/polls/"+p.ID, nil, false, &public)
	if public.Answer != nil {
		t.Fatal("the quiz's answer is public while the giveaway runs")
	}
	var producer schema.Poll
	if s.call("GET", "/api/polls/"+p.ID, nil, true, &producer); producer.Answer == nil || *producer.Answer != answer {
		t.Fatalf("the producer is shown the quiz's answer as %v, want %d", producer.Answer, answer)
	}
	watcher := watch(s.dial(p.ID, "watcher"))
	outcome := func(user string) (int, map[string]any) {
		tok, _ := identity.Mint([]byte(testSecret), user, time.Hour)
		var out map[string]any
		code, body := s.getJSON("/api/polls/"+p.ID+"/outcome?token="+tok, false, &out)
		if code != http.StatusOK {
			out = map[string]any{"body": string(body)}
		}
		return code, out
	}
	if code, out := outcome("early"); code != http.StatusConflict {
		t.Fatalf("outcome before any prize is won: %d %v, want 409 undecided", code, out)
	}

	type entry struct {
		user   string
		option int
		seq    uint64
	}
	entries := make([]entry, 12)
	var wg sync.WaitGroup
	for i := range entries {
		entries[i] = entry{user: fmt.Sprintf("entrant-%d", i), option: min(i%3, 1)} // a third on the wrong answer
		wg.Go(func() {
			v := s.dial(p.ID, entries[i].user)
			defer v.c.CloseNow()
			a, err := v.tryAck("e", entries[i].option, 1)
			if err != nil || a.status != schema.StatusAccepted || a.seq == 0 {
				t.Errorf("%s: %+v %v, want accepted with a receipt", entries[i].user, a, err)
				return
			}
			entries[i].seq = a.seq
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// The first 3 eligible entries in the log's order win.
	byLog := slices.Clone(entries)
	slices.SortFunc(byLog, func(a, b entry) int { return int(a.seq) - int(b.seq) })
	var want []entry
	for _, e := range byLog {
		if e.option == answer && len(want) < 3 {
			want = append(want, e)
		}
	}
	cutoff := want[2].seq

	// Every viewer is shown the giveaway sold out, with the cutoff and
	// the answer: from them and its receipt, each entrant knows.
	var g map[string]any
	await.For(t, 10*time.Second, func() string {
		f := watcher.latestFrame()
		g, _ = f["giveaway"].(map[string]any)
		if g == nil || g["sold_out"] != true || g["cutoff"] != float64(cutoff) || g["left"] != float64(0) || g["answer"] != float64(answer) {
			return fmt.Sprintf("the watcher is shown %v, want sold out at %d with the answer %d", f, cutoff, answer)
		}
		return ""
	})
	won := 0
	for _, e := range entries {
		if e.option == answer && e.seq <= cutoff {
			won++
			if !slices.Contains(want, e) {
				t.Errorf("%s thinks it won (entry %d) but is not among the first 3", e.user, e.seq)
			}
		}
	}
	if won != 3 {
		t.Fatalf("%d entrants won, want exactly 3", won)
	}
	// The server tells each entrant the same, with a claim code a partner
	// checks offline with the published key.
	var key struct {
		PublicKey string `json:"public_key"`
	}
	s.getJSON("/.well-known/votecast-key", false, &key)
	pub, _ := base64.StdEncoding.DecodeString(key.PublicKey)
	for _, e := range entries {
		code, out := outcome(e.user)
		rank := slices.Index(want, e) + 1
		if code != http.StatusOK || out["won"] != (rank > 0) {
			t.Fatalf("%s (entry %d) is told %d %v; a winner: %v", e.user, e.seq, code, out, rank > 0)
		}
		if rank == 0 {
			continue
		}
		c, err := certify.VerifyClaim(out["claim"].(string), pub)
		if err != nil || c.Subject != e.user || c.Poll != p.ID || c.Entry != e.seq || c.Rank != rank {
			t.Fatalf("%s's claim code: %+v %v, want entry %d rank %d", e.user, c, err, e.seq, rank)
		}
	}

	// A late entrant is taken, at a sequence past the cutoff, and told at
	// once it is sold out.
	late := s.dial(p.ID, "late")
	if a, err := late.tryAck("e", answer, 1); err != nil || a.status != schema.StatusAccepted || a.reason != "sold out" || a.seq <= cutoff {
		t.Fatalf("late entry: %+v %v, want accepted, sold out, after %d", a, err, cutoff)
	}

	// recount reproduces the winners from the log.
	var out bytes.Buffer
	cfg := recountConfig{nats: natsConfig{url: s.natsURL, dir: s.dir}, poll: p.ID, wait: 30 * time.Second, winners: true}
	if err := recount(context.Background(), cfg, &out); err != nil {
		t.Fatalf("recount: %v\n%s", err, out.String())
	}
	for i, w := range want {
		if line := fmt.Sprintf("winner %d: entry %d, user %s\n", i+1, w.seq, w.user); !strings.Contains(out.String(), line) {
			t.Fatalf("recount does not list %q\n%s", line, out.String())
		}
	}
	// Closed, its certificate names the winners, and verify finds the
	// same in the export.
	s.setState(p.ID, "close")
	var cert certify.Certificate
	if code, body := s.getJSON("/api/polls/"+p.ID+"/certificate", false, &cert); code != http.StatusOK {
		t.Fatalf("certificate: %d %s", code, body)
	}
	_, export := s.getJSON("/api/polls/"+p.ID+"/export", true, nil)
	if pay, err := certify.Verify(bytes.NewReader(export), cert); err != nil || pay.Winners != 3 || pay.Cutoff != cutoff {
		t.Fatalf("the giveaway's certificate: %+v %v, want 3 winners up to %d", pay, err, cutoff)
	}
	if strings.Contains(out.String(), "winner 4:") || !strings.Contains(out.String(), fmt.Sprintf("log: 3 winners, last winning entry at %d; published: 3 winners, %d", cutoff, cutoff)) {
		t.Fatalf("recount:\n%s", out.String())
	}
}

// TestLoadGiveaway: votecast load --giveaway plays a giveaway spike: all
// 300 entrants at once for 20 prizes; exactly 20 win, every entrant is
// told, the server's outcomes agree with the receipts, recount lists the
// same number of winners.
func TestLoadGiveaway(t *testing.T) {
	s := startServer(t, t.TempDir())
	rep, out := runLoad(t, s, loadgen.Config{Viewers: 300, Options: 2, Giveaway: 20})
	g := rep.Giveaway
	if !rep.OK() || g == nil || g.Entries != 300 || g.Winners != 20 || g.Lost != 280 || g.Claims != 20 || g.Checked != 120 {
		t.Fatalf("load --giveaway 20:\n%s", out)
	}
	var rc bytes.Buffer
	cfg := recountConfig{nats: natsConfig{url: s.natsURL, dir: s.dir}, poll: rep.Poll, wait: 30 * time.Second}
	if err := recount(context.Background(), cfg, &rc); err != nil || !strings.Contains(rc.String(), fmt.Sprintf("log: 20 winners, last winning entry at %d", g.Cutoff)) {
		t.Fatalf("recount: %v\n%s", err, rc.String())
	}
}
