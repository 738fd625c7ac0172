package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/node"
	"github.com/votecast/votecast/preflight"
)

type preflightOut struct {
	Ready   bool             `json:"ready"`
	Verdict string           `json:"verdict"`
	Items   []preflight.Item `json:"items"`
}

// runPreflightJSON runs the command with --json; exit is its exit status.
func runPreflightJSON(t *testing.T, c preflightConfig) (out preflightOut, exit int) {
	t.Helper()
	c.json = true
	if c.timeout == 0 {
		c.timeout = 2 * time.Minute
	}
	var stdout, stderr bytes.Buffer
	err := runPreflight(context.Background(), c, &stdout, &stderr)
	switch e := err.(type) {
	case nil:
	case exitCode:
		exit = int(e)
	default:
		t.Fatalf("preflight: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("preflight --json printed no JSON: %v\n%s", err, stdout.String())
	}
	return out, exit
}

func item(t *testing.T, out preflightOut, name string) preflight.Item {
	t.Helper()
	for _, it := range out.Items {
		if it.Item == name {
			return it
		}
	}
	t.Fatalf("no item %q in %+v", name, out.Items)
	return preflight.Item{}
}

// TestPreflightAgainstServer: against a real serve, with a real short
// load (--load), every item the one-node deployment can pass passes on
// figures the node really has, and the verdict is ready.
func TestPreflightAgainstServer(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *serveConfig) { c.maxConns, c.maxConnsIP = 500, 500 })
	poll := s.openPoll(2)
	s.dial(poll.ID, "alice").mustVote("v1", 1, 1, "accepted")
	s.waitTotals(poll.ID, []int64{0, 1})
	report := filepath.Join(t.TempDir(), "load.json")

	out, exit := runPreflightJSON(t, preflightConfig{
		urls: s.url(""), adminToken: testToken, polls: poll.ID, loadReport: report,
		load: true, loadViewers: 200, viewerSecret: testSecret,
	})
	if exit != 0 || !out.Ready {
		t.Fatalf("exit %d, verdict %q; items %+v", exit, out.Verdict, out.Items)
	}
	for name, want := range map[string]struct{ state, figure string }{
		"nodes answer":                    {preflight.OK, "1 of 1"},
		"connection cap fits the node":    {preflight.OK, "500 viewers"},
		"vote log reachable":              {preflight.OK, "4 streams led"},
		"log fsync":                       {preflight.OK, "always"},
		"every shard owned":               {preflight.OK, "4 of 4 owned by 1 tally node(s)"},
		"show's polls warm on every node": {preflight.OK, poll.ID + " (open, 1 votes)"},
		"store reachable":                 {preflight.OK, "embedded, ping"},
		"load test done":                  {preflight.OK, "200 viewers"},
		// 200 votes say nothing of the default 10,000 votes/s.
		"rate limits set": {preflight.Warn, "too short to test it"},
		"metrics scraped": {preflight.Skip, "no Prometheus given"},
	} {
		it := item(t, out, name)
		if it.State != want.state || !strings.Contains(it.Figure, want.figure) {
			t.Errorf("%s: %s %q, want %s with %q", name, it.State, it.Figure, want.state, want.figure)
		}
	}
	if !strings.HasPrefix(out.Verdict, "READY, with") {
		t.Errorf("verdict %q", out.Verdict)
	}
	if _, err := os.Stat(report); err != nil {
		t.Errorf("--load kept no report: %v", err)
	}

	// The same report, failed: the run on record is what counts.
	var rep map[string]any
	b, _ := os.ReadFile(report)
	_ = json.Unmarshal(b, &rep)
	rep["failures"], rep["exact"] = []string{"totals differ"}, false
	b, _ = json.Marshal(rep)
	if err := os.WriteFile(report, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, exit = runPreflightJSON(t, preflightConfig{urls: s.url(""), adminToken: testToken, loadReport: report})
	if it := item(t, out, "load test done"); exit != 1 || out.Ready || it.State != preflight.Fail || !strings.Contains(it.Todo, "totals differ") {
		t.Errorf("a failed load run: exit %d, ready %v, item %+v", exit, out.Ready, it)
	}
	if want := "NOT READY: 1 failed (load test done)"; out.Verdict != want {
		t.Errorf("verdict %q, want %q", out.Verdict, want)
	}

	// A NATS preflight cannot reach fails its own item, and only that.
	out, exit = runPreflightJSON(t, preflightConfig{urls: s.url(""), adminToken: testToken, loadReport: report, nats: natsConfig{url: "nats://" + freePort(t)}})
	if it := item(t, out, "log reachable from here"); exit != 1 || it.State != preflight.Fail || !strings.HasPrefix(it.Figure, "connect to NATS: ") {
		t.Errorf("unreachable --nats: exit %d, item %+v", exit, it)
	}
	if it := item(t, out, "vote log reachable"); it.State != preflight.OK {
		t.Errorf("the edge's view of the log, with --nats unreachable: %+v", it)
	}

	// A wrong token is a node that did not answer, said why.
	out, exit = runPreflightJSON(t, preflightConfig{urls: s.url(""), adminToken: "not-the-token-0123456789", loadReport: report})
	if it := item(t, out, "nodes answer"); exit != 1 || it.State != preflight.Fail || !strings.Contains(it.Figure, "403 Forbidden: invalid producer token") {
		t.Errorf("wrong token: exit %d, item %+v", exit, it)
	}
}

// TestPreflightShardsWithoutOwner: an edge whose NATS no tally node has
// joined fails "every shard owned" (votes would wait uncounted); once a
// tally node joins, it passes.
func TestPreflightShardsWithoutOwner(t *testing.T) {
	edge := startRole(t, node.Ingest|node.Broadcast, nil, "")
	c := preflightConfig{urls: edge.url(""), adminToken: testToken, loadReport: filepath.Join(t.TempDir(), "none.json")}
	out, exit := runPreflightJSON(t, c)
	it := item(t, out, "every shard owned")
	if exit != 1 || it.State != preflight.Fail || it.Figure != "0 of 4 owned by 0 tally node(s)" || !strings.Contains(it.Todo, "no tally node is alive") {
		t.Fatalf("no tally: exit %d, item %+v", exit, it)
	}
	if it := item(t, out, "store reachable"); it.State != preflight.Skip {
		t.Errorf("store without a tally node here: %+v", it)
	}
	if it := item(t, out, "load test done"); it.State != preflight.Warn || !strings.Contains(it.Figure, "no load report at") {
		t.Errorf("no load report: %+v", it)
	}

	startRole(t, node.Tally, edge, edge.natsURL)
	await.For(t, 30*time.Second, func() string {
		out, _ := runPreflightJSON(t, c)
		if it := item(t, out, "every shard owned"); it.State != preflight.OK {
			return it.Figure
		}
		return ""
	})
}

// TestPreflightOnACluster: three NATS nodes, two edges and a tally node,
// as separate processes. preflight over both edges sees the log R3 with
// every replica in step; with one NATS node killed it fails "log
// replicas", naming the stream a replica is missing from.
func TestPreflightOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole cluster")
	}
	c := startChaosNATS(t)
	edge1, _ := c.startRole(t.TempDir(), freePort(t), "ingest,broadcast", "--max-conns", "1000")
	edge2, _ := c.startRole(t.TempDir(), freePort(t), "ingest,broadcast", "--max-conns", "1000")
	c.startRole(t.TempDir(), freePort(t), "tally")
	poll := edge1.openPoll(2)
	cfg := preflightConfig{urls: edge1.url("") + "," + edge2.url(""), adminToken: testToken, loadReport: filepath.Join(t.TempDir(), "none.json"),
		nats: natsConfig{url: c.natsURLs, user: clusterUser, password: clusterPassword}}

	var out preflightOut
	await.For(t, 60*time.Second, func() string {
		out, _ = runPreflightJSON(t, cfg)
		if it := item(t, out, "every shard owned"); it.State != preflight.OK {
			return it.Figure
		}
		return ""
	})
	for name, want := range map[string]struct{ state, figure string }{
		"nodes answer":                    {preflight.OK, "2 of 2"},
		"log reachable from here":         {preflight.OK, "4 streams read over --nats"},
		"log replicas":                    {preflight.OK, "R3, 3 current"},
		"log fsync":                       {preflight.Warn, "set on the external NATS servers"},
		"every shard owned":               {preflight.OK, "8 of 8 owned by 1 tally node(s)"},
		"show's polls warm on every node": {preflight.OK, "1 polls on 2 nodes: " + poll.ID},
		"store reachable":                 {preflight.Skip, "no node here has the tally role"},
	} {
		if it := item(t, out, name); it.State != want.state || !strings.Contains(it.Figure, want.figure) {
			t.Errorf("%s: %s %q, want %s with %q", name, it.State, it.Figure, want.state, want.figure)
		}
	}
	if !out.Ready {
		t.Fatalf("a healthy cluster: %s", out.Verdict)
	}

	c.nats[2].kill(t)
	await.For(t, 60*time.Second, func() string {
		out, _ := runPreflightJSON(t, cfg)
		if it := item(t, out, "log replicas"); it.State != preflight.Fail || !strings.Contains(it.Figure, "2 of 3 current") || out.Ready {
			return fmt.Sprintf("%+v, ready %v", it, out.Ready)
		}
		return ""
	})
}
