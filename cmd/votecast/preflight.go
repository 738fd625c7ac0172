package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/votecast/votecast/deploy"
	"github.com/votecast/votecast/loadgen"
	"github.com/votecast/votecast/natsnode"
	"github.com/votecast/votecast/preflight"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/store/scylla"
)

type preflightConfig struct {
	urls         string
	adminToken   string
	polls        string
	loadReport   string
	load         bool
	loadViewers  int
	viewerSecret string
	prometheus   string
	json         bool
	timeout      time.Duration
	store        storeConfig
	nats         natsConfig
}

func preflightCommand() *ffcli.Command {
	var c preflightConfig
	fs := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fs.StringVar(&c.urls, "url", "http://127.0.0.1:8080", "comma-separated base URLs of every edge (nodes with ingest or broadcast) (env VOTECAST_URL)")
	fs.StringVar(&c.adminToken, "admin-token", "", "producer API token (env VOTECAST_ADMIN_TOKEN)")
	fs.StringVar(&c.polls, "poll", "", "comma-separated ids of the show's polls; empty: every poll not closed")
	fs.StringVar(&c.loadReport, "load-report", "votecast-load.json", "the last votecast load run (its --report file): the capacity the limits are held to")
	fs.BoolVar(&c.load, "load", false, "first run a short bounded load (--load-viewers voters) against a scratch poll on the first --url, and use its report")
	fs.IntVar(&c.loadViewers, "load-viewers", 1000, "voters of --load")
	fs.StringVar(&c.viewerSecret, "viewer-secret", "", "HS256 key of viewer tokens, for --load against a server that wants them (env VOTECAST_VIEWER_SECRET)")
	fs.StringVar(&c.prometheus, "prometheus", "", "Prometheus base URL: check it scrapes the nodes and loaded votecast's alerts")
	fs.BoolVar(&c.json, "json", false, "print JSON (the items, the verdict and what each node said) instead of a table")
	fs.DurationVar(&c.timeout, "timeout", 3*time.Minute, "deadline of the whole check, --load included")
	c.store.flags(fs, false)
	c.nats.flags(fs, false)
	fs.Lookup("nats").Usage = "NATS URLs: also read the log's streams and the tally's shard owners from here (env VOTECAST_NATS); empty: only through the edges"
	fs.Lookup("scylla").Usage = "ScyllaDB contact points host:port,...: also check the store from here (env VOTECAST_SCYLLA)"
	return &ffcli.Command{
		Name: "preflight", ShortUsage: "votecast preflight --url URL[,URL...] --admin-token T [--prometheus URL] [--load] [--json]",
		ShortHelp: "check a deployment an hour before air: limits, log, shards, warm polls, store, capacity, fallbacks, monitoring; exit 1 when an item fails",
		LongHelp: "preflight asks every edge (GET /api/preflight) what it runs with and what it sees,\n" +
			"reads the last load run and asks Prometheus, then prints the checklist: an item\n" +
			"per line with its state (ok, warn, fail, skip, manual), the figure it rests on and\n" +
			"what to do. It exits 1 when any item fails, so it can gate a go-live script.",
		FlagSet: fs, Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error { return runPreflight(ctx, c, os.Stdout, os.Stderr) },
	}
}

func runPreflight(ctx context.Context, c preflightConfig, out, progress io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	urls := splitList(c.urls)
	if len(urls) == 0 {
		return fmt.Errorf("--url: give at least one edge")
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	in := preflight.Inputs{Polls: splitList(c.polls), Now: time.Now()}
	if c.load {
		run, err := preflightLoad(ctx, c, hc, urls[0], progress)
		if err != nil {
			return err
		}
		in.Load = run
	} else {
		in.Load = preflight.ReadLoad(c.loadReport)
	}
	for _, u := range urls {
		in.Nodes = append(in.Nodes, askNode(ctx, hc, u, c.adminToken))
	}
	if c.store.scylla != "" {
		in.Store = pingScylla(ctx, c.store)
	}
	if c.nats.url != "" {
		in.Direct = readLog(ctx, c.nats, in.Nodes)
	}
	if c.prometheus != "" {
		want, err := deploy.AlertNames()
		if err != nil {
			return err
		}
		in.Prom = preflight.AskPrometheus(ctx, hc, c.prometheus, want)
	}
	items := preflight.Check(in)
	ready, verdict := preflight.Verdict(items)
	if c.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err := enc.Encode(map[string]any{"ready": ready, "verdict": verdict, "items": items, "nodes": in.Nodes, "load": in.Load, "prometheus": in.Prom})
		if err != nil {
			return fmt.Errorf("write preflight json: %w", err)
		}
	} else if err := preflight.WriteTable(out, items); err != nil {
		return fmt.Errorf("write preflight table: %w", err)
	}
	if !ready {
		return exitCode(1)
	}
	return nil
}

// askNode fetches one edge's description. A failure is an answer too:
// the checklist says which node and why.
func askNode(ctx context.Context, hc *http.Client, base, token string) preflight.Node {
	n := preflight.Node{URL: base}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/api/preflight", nil)
	if err != nil {
		n.Err = err.Error()
		return n
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		n.Err = err.Error()
		return n
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		n.Err = fmt.Sprintf("read answer: %v", err)
		return n
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		n.Err = fmt.Sprintf("%s: %s", resp.Status, e.Error)
		if resp.StatusCode == http.StatusNotFound {
			n.Err += " (a node older than preflight, or not an edge)"
		}
		return n
	}
	var r preflight.NodeReport
	if err := json.Unmarshal(body, &r); err != nil {
		n.Err = fmt.Sprintf("read answer: %v", err)
		return n
	}
	n.Report = &r
	return n
}

func pingScylla(ctx context.Context, c storeConfig) *preflight.StoreState {
	st := &preflight.StoreState{Kind: "scylla (from here)"}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s, err := scylla.Open(ctx, c.scyllaOptions(slog.New(slog.DiscardHandler)))
	if err != nil {
		st.Error = err.Error()
		return st
	}
	defer s.Close()
	return preflight.PingStore(ctx, st.Kind, s.Ping)
}

// preflightLoad measures the first edge with a short run of votecast load
// on a scratch poll of its own, and keeps its report where --load-report
// says, as votecast load --report would.
func preflightLoad(ctx context.Context, c preflightConfig, hc *http.Client, url string, progress io.Writer) (preflight.LoadRun, error) {
	if c.viewerSecret == "" {
		return preflight.LoadRun{}, fmt.Errorf("preflight --load needs --viewer-secret: the load votes as %d distinct viewers, with tokens signed by the key serve --viewer-secret checks", c.loadViewers)
	}
	cfg := loadgen.Config{
		URL: url, AdminToken: c.adminToken, ViewerSecret: []byte(c.viewerSecret),
		Viewers: c.loadViewers, Options: 2, Polls: 1, ConnectConcurrency: 64, Probes: -1,
		Settle: time.Second, PhaseTimeout: time.Minute, Progress: progress,
		Sources: loadgen.SourcesFor(url),
	}
	fmt.Fprintf(progress, "preflight: a load of %d voters against %s (a scratch poll)\n", c.loadViewers, url)
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return preflight.LoadRun{}, fmt.Errorf("preflight --load: %w", err)
	}
	// The scratch poll is not the show's: closed, it leaves the checks
	// of the show's polls alone.
	for _, id := range rep.PollIDs {
		if err := closePoll(ctx, hc, url, c.adminToken, id); err != nil {
			fmt.Fprintf(progress, "preflight: close the scratch poll %s: %v\n", id, err)
		}
	}
	if err := rep.WriteFile(c.loadReport); err != nil {
		return preflight.LoadRun{}, err
	}
	return preflight.ReadLoad(c.loadReport), nil
}

func closePoll(ctx context.Context, hc *http.Client, base, token, id string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/api/polls/"+id+"/close", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// readLog reads the streams and the shard owners over --nats, as an edge
// does for its report. The shard indices that must have an owner are
// the edges' (they hold the polls); schema.DefaultShards when none
// answered.
func readLog(ctx context.Context, c natsConfig, nodes []preflight.Node) *preflight.Direct {
	d := &preflight.Direct{Log: []natsnode.StreamHealth{}, Shards: preflight.Shards{Unowned: []int{}}}
	wanted := 0
	for _, n := range nodes {
		if n.Report != nil {
			wanted = max(wanted, n.Report.Shards.Wanted)
		}
	}
	if wanted == 0 {
		wanted = schema.DefaultShards
	}
	link, err := c.dial("votecast-preflight", slog.New(slog.DiscardHandler))
	if err != nil {
		d.Err = fmt.Sprintf("connect to NATS: %v", err)
		return d
	}
	defer link.close(ctx)
	d.Log = natsnode.Health(ctx, link.js, 3*time.Second, natsnode.HealthStreams...)
	d.Shards = preflight.ReadShards(ctx, link.js, wanted)
	return d
}
