package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/votecast/votecast/loadgen"
)

// TestLoadAgainstServer runs the load generator end to end against a real
// in-process server with serve's default shards, totals interval and
// in-flight cap: every vote accepted, totals exact, every figure there.
//
// VOTECAST_LOAD_VIEWERS scales it up to profile server and generator in
// one process (the fd limit of 20000 here allows about 9000 viewers), and
// VOTECAST_LOAD_JS_SYNC sets the fsync policy (default always):
//
//	VOTECAST_LOAD_VIEWERS=9000 go test -run TestLoadAgainstServer -cpuprofile cpu.prof ./cmd/votecast
func TestLoadAgainstServer(t *testing.T) {
	viewers, probes, options := 200, 2, 3
	if v, err := strconv.Atoi(os.Getenv("VOTECAST_LOAD_VIEWERS")); err == nil && v > 0 {
		viewers = v
	}
	s := startServer(t, t.TempDir(), func(c *serveConfig) {
		if sync := os.Getenv("VOTECAST_LOAD_JS_SYNC"); sync != "" {
			c.nats.sync = sync
		}
		c.shards, c.interval, c.maxInFlight, c.voteRate = 16, 100*time.Millisecond, 8192, 100
		c.maxConns, c.maxConnsIP = viewers+probes, viewers+probes
	})
	rep, out := runLoad(t, s, loadgen.Config{Viewers: viewers, Options: options, Probes: probes})
	if rep.Accepted != viewers || rep.Connected != viewers+probes || !rep.Exact || len(rep.Failures) != 0 {
		t.Fatalf("report: accepted %d, connected %d, exact %v, failures %v\n%s", rep.Accepted, rep.Connected, rep.Exact, rep.Failures, out)
	}
	want := make([]int64, options) // voters round-robin over the options, then the probes
	for i := range viewers {
		want[i%options]++
	}
	for k := range probes {
		want[k%options]++
	}
	for i, n := range want {
		if rep.Counts[i] != n {
			t.Fatalf("counts %v, want %v", rep.Counts, want)
		}
	}
	if rep.AcceptedPerSecond <= 0 || rep.AckMS.P99 <= 0 || rep.FanoutDeliveries < int64(viewers+probes) ||
		len(rep.ProbeLastViewerMS) != probes || rep.RSSIdle == 0 || rep.EventBytes == 0 {
		t.Fatalf("missing figures:\n%s", out)
	}
	s.recountAgrees(rep.Poll, want)
	t.Log("\n" + out)
}

// TestLoadFailsOnWrongSecret: tokens the server refuses are connect
// failures, and the command exits 1.
func TestLoadFailsOnWrongSecret(t *testing.T) {
	s := startServer(t, t.TempDir())
	var out bytes.Buffer
	err := load(context.Background(), loadConfig{
		cfg:          loadgen.Config{URL: "http://" + s.addr, AdminToken: testToken, Viewers: 5, Probes: -1, PhaseTimeout: 10 * time.Second},
		viewerSecret: "not-the-viewer-secret-0123456789", timeout: 30 * time.Second,
	}, &out, &bytes.Buffer{})
	if ec, ok := err.(exitCode); !ok || ec != 1 {
		t.Fatalf("load with a wrong secret: %v, want exit status 1\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "failed to connect") {
		t.Fatalf("no connect failure reported:\n%s", out.String())
	}
}

// TestLoadOverSeveralPolls: with --polls the viewers spread over that
// many polls, each poll's totals are exact and every viewer is shown its
// own poll's.
func TestLoadOverSeveralPolls(t *testing.T) {
	const viewers, polls, probes, options = 120, 3, 3, 2
	s := startServer(t, t.TempDir(), func(c *serveConfig) {
		c.shards, c.interval, c.voteRate = 4, 50*time.Millisecond, 100
		c.maxConns, c.maxConnsIP = viewers+probes, viewers+probes
	})
	rep, out := runLoad(t, s, loadgen.Config{Viewers: viewers, Options: options, Polls: polls, Probes: probes})
	if rep.Accepted != viewers || !rep.Exact || len(rep.Failures) != 0 || rep.Polls != polls || len(rep.PollIDs) != polls {
		t.Fatalf("report: accepted %d, exact %v, failures %v, polls %d %v\n%s", rep.Accepted, rep.Exact, rep.Failures, rep.Polls, rep.PollIDs, out)
	}
	// Voter i votes in poll i mod 3 for option (i / 3) mod 2; probe k in
	// poll k mod 3 for option k mod 2.
	want := make([][]int64, polls)
	for p := range want {
		want[p] = make([]int64, options)
	}
	for i := range viewers {
		want[i%polls][i/polls%options]++
	}
	for k := range probes {
		want[k%polls][k%options]++
	}
	for p, id := range rep.PollIDs {
		s.waitTotals(id, want[p])
	}
	s.recountAgrees(rep.PollIDs[polls-1], want[polls-1])
}

// runLoad runs `votecast load` against s with cfg's viewers, options,
// polls and probes, and returns its report and its printed summary.
func runLoad(t *testing.T, s *server, cfg loadgen.Config) (loadgen.Report, string) {
	t.Helper()
	cfg.URL, cfg.AdminToken = "http://"+s.addr, testToken
	cfg.Settle, cfg.PhaseTimeout, cfg.MaxConnectFailures = 100*time.Millisecond, time.Minute, -1
	var out, progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := load(ctx, loadConfig{cfg: cfg, viewerSecret: testSecret, sources: "127.0.0.2-127.0.0.11", timeout: 4 * time.Minute}, &out, &progress)
	if err != nil {
		t.Fatalf("load: %v\n%s\n%s", err, out.String(), progress.String())
	}
	line := out.String()[strings.LastIndex(out.String(), "RESULT "):]
	var rep loadgen.Report
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(line), "RESULT ")), &rep); err != nil {
		t.Fatalf("RESULT line: %v\n%s", err, out.String())
	}
	return rep, out.String()
}

// TestLoadThroughWaitingRoom is the waiting room at five times a node's
// capacity: the voters past the cap are sent to the line, vote from it,
// are let in by place once the first ones leave, and are shown the exact
// final totals; nobody sees an error, and recount agrees.
func TestLoadThroughWaitingRoom(t *testing.T) {
	const capacity, viewers, options = 40, 200, 3
	s := startServer(t, t.TempDir(), func(c *serveConfig) {
		c.shards, c.interval, c.voteRate = 16, 100*time.Millisecond, 100
		c.maxConns, c.admitRate = capacity, 200
	})
	rep, out := runLoad(t, s, loadgen.Config{Viewers: viewers, Options: options, Probes: -1})
	if !rep.OK() || rep.Accepted != viewers || !rep.Exact {
		t.Fatalf("report: accepted %d, exact %v, failures %v\n%s", rep.Accepted, rep.Exact, rep.Failures, out)
	}
	if rep.Connected != capacity || rep.Queued != viewers-capacity || rep.QueueAdmitted != rep.Queued || rep.QueueEarlyRefused == 0 {
		t.Fatalf("connected %d, in line %d, let in from it %d, refused before their turn %d; want %d, %d, %d, > 0\n%s",
			rep.Connected, rep.Queued, rep.QueueAdmitted, rep.QueueEarlyRefused, capacity, viewers-capacity, viewers-capacity, out)
	}
	want := make([]int64, options)
	for i := range viewers {
		want[i%options]++
	}
	s.recountAgrees(rep.Poll, want)
	t.Log("\n" + out)
}
