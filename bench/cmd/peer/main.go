// Command peer measures Centrifugo's fan-out the way votecast load
// measures votecast's, so that BENCHMARKS.md can set the two side by side
// from one run on one machine. N WebSocket clients (JSON protocol, an HS256
// token each, a distinct user each) subscribe to one channel and sit idle
// for a settle pause; then each probe publishes one small message with the
// server HTTP API and waits until every client has it. It reads the
// server's RSS and CPU time from /proc (the server's PID is a flag) and
// prints a summary to stderr and one line, RESULT {json}, to stdout. It
// exits 1, without a RESULT line, when a client fails to connect or
// subscribe, or a probe does not reach every client in time.
// scripts/bench-peer installs and starts Centrifugo and runs it.
//
// Concurrency: ConnectConcurrency goroutines dial while connecting; each
// connection then has one reader goroutine that answers pings and counts
// publications with atomics. A probe waits on a channel the reader that
// counts the last client closes. The readers end when the run does.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func run() error {
	const secretEnv, keyEnv = "PEER_HMAC_SECRET", "PEER_API_KEY"
	var (
		cfg     config
		sources string
		timeout time.Duration
	)
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:28700", "Centrifugo's base URL (WebSocket at /connection/websocket, HTTP API at /api)")
	fs.IntVar(&cfg.Clients, "clients", 10000, "WebSocket clients, each a distinct user")
	fs.IntVar(&cfg.Probes, "probes", 5, "publications, one at a time, each awaited until every client has it")
	fs.StringVar(&cfg.Channel, "channel", "bench", "channel the clients subscribe to")
	fs.DurationVar(&cfg.Settle, "settle", 6*time.Second, "pause between the last subscription and the idle memory reading (votecast load's default)")
	fs.DurationVar(&cfg.PhaseTimeout, "phase-timeout", time.Minute, "limit of connecting, and of each probe")
	fs.IntVar(&cfg.ConnectConcurrency, "connect-concurrency", 64, "connections in progress at once (votecast load's default)")
	fs.StringVar(&sources, "sources", "127.0.0.2-127.0.0.11", "loopback source addresses the clients' sockets are spread over (empty: the OS picks)")
	fs.IntVar(&cfg.PID, "pid", 0, "the server's process id, whose /proc/PID/stat and status are read (required)")
	fs.StringVar(&cfg.MetricsURL, "metrics-url", "", "the server's Prometheus endpoint, for goroutines, stack and heap per idle client (empty: not read)")
	fs.StringVar(&cfg.Comm, "comm", "centrifugo", "the server's expected command name, checked in /proc/PID/comm (empty: not checked)")
	fs.IntVar(&cfg.ClockTick, "clk-tck", 100, "clock ticks a second of /proc/PID/stat (getconf CLK_TCK)")
	fs.StringVar(&cfg.Version, "centrifugo-version", "", "the server's version as installed, for the RESULT line (empty: the one it reports to clients; a go install build reports 0.0.0)")
	fs.DurationVar(&timeout, "timeout", 5*time.Minute, "limit of the whole run")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s=... %s=... peer -pid PID [flags]\n\nThe token HMAC secret and the API key come from $%s and $%s.\n\n",
			secretEnv, keyEnv, secretEnv, keyEnv)
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	// Secrets come from the environment so they are not in ps output.
	cfg.Secret, cfg.APIKey = []byte(os.Getenv(secretEnv)), os.Getenv(keyEnv)
	var err error
	if cfg.Sources, err = parseSources(sources); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg.Progress = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := measure(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "centrifugo %s: %d clients, %.2f KiB per idle connection, %.2f µs CPU per delivery (%d deliveries, %d ticks), publish to last client %s ms\n",
		res.CentrifugoVersion, res.Clients, res.KiBPerIdleConn, res.CPUUSPerDelivery, res.Deliveries, res.ProbeCPUTicks, joinMS(res.LastViewerMS))
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	fmt.Printf("RESULT %s\n", b)
	return nil
}

func (c *config) validate() error {
	var errs []error
	if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		errs = append(errs, fmt.Errorf("url %q: want http://host:port", c.URL))
	}
	c.URL = strings.TrimSuffix(c.URL, "/")
	if len(c.Secret) == 0 || c.APIKey == "" {
		errs = append(errs, errors.New("the token secret and the API key are required (environment)"))
	}
	if c.PID <= 0 {
		errs = append(errs, errors.New("-pid is required"))
	}
	if c.Clients < 1 || c.Probes < 1 || c.ConnectConcurrency < 1 || c.ClockTick < 1 {
		errs = append(errs, errors.New("clients, probes, connect-concurrency and clk-tck must be positive"))
	}
	if c.Settle < 0 || c.PhaseTimeout <= 0 {
		errs = append(errs, errors.New("settle must not be negative and phase-timeout must be positive"))
	}
	return errors.Join(errs...)
}

func joinMS(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(s, ", ")
}
