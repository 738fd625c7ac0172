package preflight

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/votecast/votecast/natsnode"
)

// healthy is a one-node deployment that passes every node item.
func healthy() *NodeReport {
	return &NodeReport{
		Facts:          Facts{NATS: "embedded", JSSync: "always", Store: "embedded"},
		Limits:         Limits{MaxConns: 10_000, MaxConnsPerIP: 1000, VoteRate: 5, MaxVoteRate: 1000, AdmitRate: 100, MaxInFlight: 4096, StallTimeoutMS: 2000},
		OpenFilesLimit: 65536, MemoryBytes: 8 << 30,
		Log:    []natsnode.StreamHealth{{Name: "VOTES", Replicas: 1, Current: 1, Leader: "n1", Msgs: 7}},
		Shards: Shards{Wanted: 4, Unowned: []int{}, Members: 1},
		Store:  &StoreState{Kind: "embedded", PingMS: 0.1},
		Polls:  []PollState{{ID: "p1", State: "open", Votes: 7}},
	}
}

func goodLoad(now time.Time) LoadRun {
	return LoadRun{Report: &LoadFigures{At: now.Add(-time.Hour), Connected: 5000, AcceptedPerSecond: 4000, IdleBytesPerConn: 20_000, Exact: true}}
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		change func(*NodeReport, *Inputs)
		item   string
		state  string
		says   string // in the figure or the todo
	}{
		{"healthy", func(*NodeReport, *Inputs) {}, "every shard owned", OK, "4 of 4"},
		{"cap above open files", func(r *NodeReport, _ *Inputs) { r.OpenFilesLimit = 5000 }, "connection cap fits the node", Fail, "lower serve --max-conns to 3,976"},
		{"cap above memory", func(r *NodeReport, _ *Inputs) { r.MemoryBytes = 100 << 20 }, "connection cap fits the node", Fail, "lower serve --max-conns to 4,194"},
		{"rate above measured", func(r *NodeReport, _ *Inputs) { r.Limits.MaxVoteRate = 4500 }, "rate limits set", Fail, "at most 4,000"},
		{"rate too short a run", func(r *NodeReport, _ *Inputs) { r.Limits.MaxVoteRate = 6000 }, "rate limits set", Warn, "too short"},
		{"no rate limit", func(r *NodeReport, _ *Inputs) { r.Limits.VoteRate = 0 }, "rate limits set", Fail, "--vote-rate"},
		{"no leader", func(r *NodeReport, _ *Inputs) { r.Log[0].Leader = "" }, "vote log reachable", Fail, "VOTES: no leader"},
		{"replica behind", func(r *NodeReport, _ *Inputs) {
			r.Facts.NATS, r.Log[0].Replicas, r.Log[0].Cluster = "external", 3, true
			r.Log[0].Current = 2
		}, "log replicas", Fail, "VOTES 2 of 3 current"},
		{"R1 on an external NATS", func(r *NodeReport, _ *Inputs) { r.Facts.NATS = "external" }, "log replicas", Warn, "--replicas 3"},
		{"interval fsync on one copy", func(r *NodeReport, _ *Inputs) { r.Facts.JSSync = "2m" }, "log fsync", Fail, "--js-sync always"},
		{"unowned shard", func(r *NodeReport, _ *Inputs) { r.Shards.Unowned = []int{2} }, "every shard owned", Fail, "[2]"},
		{"poll not on a node", func(_ *NodeReport, in *Inputs) { in.Polls = []string{"p1", "p2"} }, "show's polls warm on every node", Fail, "p2"},
		{"store down", func(r *NodeReport, _ *Inputs) { r.Store.Error = "ping: closed" }, "store reachable", Fail, "ping: closed"},
		{"stale load run", func(_ *NodeReport, in *Inputs) { in.Load.Report.At = now.Add(-30 * 24 * time.Hour) }, "load test done", Warn, "over a week old"},
		{"no stall timeout", func(r *NodeReport, _ *Inputs) { r.Limits.StallTimeoutMS = 0 }, "fallbacks on", Fail, "--stall-timeout"},
		{"a shard unowned as the log says it", func(r *NodeReport, in *Inputs) {
			in.Direct = &Direct{Log: r.Log, Shards: Shards{Wanted: 4, Unowned: []int{1}, Members: 1}}
		}, "every shard owned", Fail, "[1]"},
		{"NATS unreachable from here", func(_ *NodeReport, in *Inputs) { in.Direct = &Direct{Err: "connect to NATS: no servers"} }, "log reachable from here", Fail, "no servers"},
		{"too few in-flight slots", func(r *NodeReport, _ *Inputs) { r.Limits.MaxInFlight = 50 }, "pools sized", Warn, "--max-in-flight to 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := healthy()
			in := Inputs{Nodes: []Node{{URL: "http://a", Report: r}}, Load: goodLoad(now), Now: now}
			tc.change(r, &in)
			items := Check(in)
			for _, it := range items {
				if it.Item != tc.item {
					continue
				}
				if it.State != tc.state || !strings.Contains(it.Figure+" "+it.Todo, tc.says) {
					t.Fatalf("%s: %s %q -> %q; want %s saying %q", it.Item, it.State, it.Figure, it.Todo, tc.state, tc.says)
				}
				ready, _ := Verdict(items)
				if ready != (tc.state != Fail) {
					t.Fatalf("ready %v with %s %s", ready, it.Item, it.State)
				}
				return
			}
			t.Fatalf("no item %q", tc.item)
		})
	}
}

func TestNodeDown(t *testing.T) {
	items := Check(Inputs{Nodes: []Node{{URL: "http://a", Err: "connection refused"}}})
	ready, verdict := Verdict(items)
	if ready || verdict != "NOT READY: 1 failed (nodes answer)" || items[0].Figure != "0 of 1; http://a: connection refused" {
		t.Fatalf("%v %q %+v", ready, verdict, items)
	}
}

// TestAskPrometheus reads Prometheus's HTTP API as it answers (a stand-in
// server with its documented shapes): votecast's targets and alerts only.
func TestAskPrometheus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/targets":
			fmt.Fprint(w, `{"status":"success","data":{"activeTargets":[
				{"scrapePool":"votecast","scrapeUrl":"http://edge1:8080/metrics","health":"up","lastError":""},
				{"scrapePool":"votecast","scrapeUrl":"http://edge2:8080/metrics","health":"down","lastError":"connection refused"},
				{"scrapePool":"node","scrapeUrl":"http://host:9100/metrics","health":"up","lastError":""}]}}`)
		case "/api/v1/rules":
			fmt.Fprint(w, `{"status":"success","data":{"groups":[{"rules":[
				{"name":"VotecastAckLatencyHigh","type":"alerting"},{"name":"votecast:rate","type":"recording"}]}]}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	p := AskPrometheus(t.Context(), srv.Client(), srv.URL, []string{"VotecastAckLatencyHigh", "VotecastLogNoLeader"})
	items := promItems(p)
	if items[0].State != Fail || items[0].Figure != "1 of 2 votecast targets up" || !strings.Contains(items[0].Todo, "edge2:8080/metrics (connection refused)") {
		t.Errorf("scraped: %+v", items[0])
	}
	if items[1].State != Fail || items[1].Figure != "1 of 2 votecast alerts loaded" || !strings.HasSuffix(items[1].Todo, "missing: VotecastLogNoLeader") {
		t.Errorf("alerts: %+v", items[1])
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 5: "5", 2.5: "2.5", 1000: "1,000", 1234567.8: "1,234,568", -4200: "-4,200"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
}
