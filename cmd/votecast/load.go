package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/votecast/votecast/loadgen"
)

// loadConfig is every setting of load, filled from flags and env in one
// place.
type loadConfig struct {
	cfg          loadgen.Config
	viewerSecret string
	sources      string
	timeout      time.Duration
	report       string
}

func loadCommand() *ffcli.Command {
	var c loadConfig
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&c.cfg.URL, "url", "http://127.0.0.1:8080", "base URL of the server under load (env VOTECAST_URL)")
	fs.StringVar(&c.cfg.AdminToken, "admin-token", "", "producer API token (env VOTECAST_ADMIN_TOKEN)")
	fs.StringVar(&c.viewerSecret, "viewer-secret", "", "HS256 key the server checks viewer tokens with (env VOTECAST_VIEWER_SECRET)")
	fs.IntVar(&c.cfg.Viewers, "viewers", 10_000, "viewers that connect and vote once each")
	fs.Float64Var(&c.cfg.Rate, "rate", 0, "votes per second; 0: every viewer votes at once")
	fs.StringVar(&c.sources, "sources", "", "loopback source addresses of the client sockets, e.g. 127.0.0.2-127.0.0.11; empty: "+loadgen.DefaultSources+" against a 127.x server, else the OS picks")
	fs.IntVar(&c.cfg.Options, "options", 4, "options of the poll load creates")
	fs.StringVar(&c.cfg.Poll, "poll", "", "vote in this open poll (live results, no other voters) instead of creating one")
	fs.IntVar(&c.cfg.Polls, "polls", 1, "polls to open at once, the viewers spread evenly over them")
	fs.IntVar(&c.cfg.Giveaway, "giveaway", 0, "make the poll a giveaway with this many prizes, and check that exactly that many entrants win and each is told")
	fs.IntVar(&c.cfg.ConnectConcurrency, "connect-concurrency", 64, "dials in progress at once")
	fs.IntVar(&c.cfg.MaxConnectFailures, "max-connect-failures", 0, "failed connections tolerated; 0: viewers/1000, -1: none")
	fs.IntVar(&c.cfg.Probes, "probes", 3, "single-vote fan-out probes after the spike; -1: none")
	fs.DurationVar(&c.cfg.Settle, "settle", 6*time.Second, "pause before the idle memory reading (past the 5s a writer lingers after a frame)")
	fs.StringVar(&c.cfg.ProfileURL, "profile", "", "the server's debug listener (serve --debug-listen), http://host:port: split the CPU per vote by part from a CPU profile of the spike")
	fs.StringVar(&c.cfg.ProfileOut, "profile-out", "", "write that CPU profile to this file")
	fs.DurationVar(&c.cfg.PhaseTimeout, "phase-timeout", 2*time.Minute, "deadline of each phase")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "deadline of the whole run")
	fs.StringVar(&c.report, "report", "", "also write the RESULT JSON to this file (votecast preflight reads votecast-load.json)")
	return &ffcli.Command{
		Name: "load", ShortUsage: "votecast load --admin-token T --viewer-secret S [--viewers N] [--rate R] [flags]",
		ShortHelp: "play a vote-now spike against a server and check the totals",
		LongHelp: "load connects N viewers (each its own user), measures the server's memory per idle\n" +
			"connection, has every viewer vote once, then reports accepted votes/s, ack latency,\n" +
			"the time until every viewer saw the exact final totals and the server CPU per\n" +
			"delivery. It ends with a line \"RESULT {json}\" and exits 1 when a check failed.",
		FlagSet: fs, Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error { return load(ctx, c, os.Stdout, os.Stderr) },
	}
}

func load(ctx context.Context, c loadConfig, out, progress io.Writer) error {
	var err error
	if c.sources == "" {
		c.cfg.Sources = loadgen.SourcesFor(c.cfg.URL)
	} else if c.cfg.Sources, err = loadgen.ParseSources(c.sources); err != nil {
		return fmt.Errorf("--sources: %w", err)
	}
	c.cfg.ViewerSecret = []byte(c.viewerSecret)
	c.cfg.Progress = progress
	if f, ok := progress.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			c.cfg.Redraw = true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rep, err := loadgen.Run(ctx, c.cfg)
	if err != nil {
		return err
	}
	rep.WriteSummary(out)
	if c.report != "" {
		if err := rep.WriteFile(c.report); err != nil {
			return err
		}
	}
	if !rep.OK() {
		return exitCode(1)
	}
	return nil
}
