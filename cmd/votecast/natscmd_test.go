package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
)

const (
	clusterUser     = "votecast"
	clusterPassword = "cluster-s3cret/p@ss"
)

func TestNATSNodeRefusesWithoutUsableCredentials(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(creds, []byte("not read"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"nats", "--name", "n1", "--data", t.TempDir(), "--listen", "127.0.0.1:-1", "--cluster", "127.0.0.1:-1"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no credentials", nil, nil, "needs --nats-user and --nats-password"},
		{"a user without password", []string{"--nats-user", clusterUser}, nil, "needs --nats-user and --nats-password"},
		{"a password without user", nil, map[string]string{"VOTECAST_NATS_PASSWORD": clusterPassword}, "--nats-password needs --nats-user"},
		{"a creds file", []string{"--nats-creds", creds}, nil, "operator mode"},
		{"a token", nil, map[string]string{"VOTECAST_NATS_TOKEN": clusterPassword}, "--nats-user and --nats-password only"},
		{"user and password with a token", []string{"--nats-user", clusterUser, "--nats-token", "t"}, map[string]string{"VOTECAST_NATS_PASSWORD": clusterPassword}, "--nats-user and --nats-password only"},
		{"no name", []string{"--name", "", "--nats-user", clusterUser}, map[string]string{"VOTECAST_NATS_PASSWORD": clusterPassword}, "--name is required"},
		{"no data", []string{"--data", "", "--nats-user", clusterUser}, map[string]string{"VOTECAST_NATS_PASSWORD": clusterPassword}, "--data is required"},
		{"credentials in a route", []string{"--nats-user", clusterUser, "--routes", "127.0.0.1:1,nats://votecast:" + clusterPassword + "@127.0.0.1:2"},
			map[string]string{"VOTECAST_NATS_PASSWORD": clusterPassword}, "route 2 of the list carries user info"},
		{"a bcrypt-like password", []string{"--nats-user", clusterUser}, map[string]string{"VOTECAST_NATS_PASSWORD": "$2a$11$" + clusterPassword}, "bcrypt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"VOTECAST_NATS_USER", "VOTECAST_NATS_PASSWORD", "VOTECAST_NATS_TOKEN", "VOTECAST_NATS_CREDS", "VOTECAST_NATS_NKEY", "VOTECAST_NAME", "VOTECAST_DATA"} {
				t.Setenv(k, "")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, append(append([]string{}, base...), tc.args...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("votecast %v: %v, want a refusal saying %q", tc.args, err, tc.want)
			}
			if strings.Contains(err.Error(), "p@ss") || strings.Contains(err.Error(), "p%40ss") {
				t.Errorf("the refusal shows the password: %v", err)
			}
		})
	}
}

// TestNATSClusterOfThreeProcesses runs the real binary as an operator
// would: three `votecast nats` nodes, then serve on two of their URLs
// with three replicas, and a vote through it.
func TestNATSClusterOfThreeProcesses(t *testing.T) {
	// Through the environment, as the README advises (flags show in ps);
	// serve reads the same variables.
	t.Setenv("VOTECAST_NATS_USER", clusterUser)
	t.Setenv("VOTECAST_NATS_PASSWORD", clusterPassword)
	var clients, routes []string
	for range 3 {
		clients, routes = append(clients, freePort(t)), append(routes, freePort(t))
	}
	var nodes []*process
	for i := range 3 {
		p, running := runProcess(t, "nats", "--name", fmt.Sprintf("n%d", i+1), "--data", t.TempDir(),
			"--listen", clients[i], "--cluster", routes[i], "--routes", strings.Join(routes, ","), "--log-level", "info")
		select {
		case <-running:
		case <-p.exited:
			t.Fatalf("votecast nats n%d exited at start: %v\n%s", i+1, p.err, strings.Join(p.stderr, "\n"))
		case <-time.After(30 * time.Second):
			t.Fatalf("votecast nats n%d not running after 30s", i+1)
		}
		nodes = append(nodes, p)
	}

	// The cluster has formed when JetStream answers through a node.
	nc, err := nats.Connect("nats://"+clients[2], nats.UserInfo(clusterUser, clusterPassword), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	await.For(t, 30*time.Second, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, lastErr = js.AccountInfo(ctx); lastErr != nil {
			return fmt.Sprintf("JetStream through n3: %v", lastErr)
		}
		return ""
	})
	if anon, err := nats.Connect("nats://"+clients[0], nats.MaxReconnects(0)); err == nil {
		anon.Close()
		t.Error("a node let in a client without credentials")
	}

	natsURLs := "nats://" + clients[0] + ",nats://" + clients[1]
	dir, httpAddr := t.TempDir(), freePort(t)
	serveProc, serving := runProcess(t, "serve", "--data", dir, "--http", httpAddr, "--nats", natsURLs, "--replicas", "3",
		"--admin-token", testToken, "--viewer-secret", testSecret, "--shards", "4",
		"--totals-interval", "20ms", "--close-grace", "200ms", "--log-level", "warn")
	select {
	case <-serving:
	case <-serveProc.exited:
		t.Fatalf("serve on the cluster exited at start: %v\n%s", serveProc.err, strings.Join(serveProc.stderr, "\n"))
	case <-time.After(60 * time.Second):
		t.Fatal("serve on the cluster not ready after 60s")
	}
	s := &server{t: t, dir: dir, addr: httpAddr, natsURL: natsURLs, done: make(chan error, 1)}
	poll := s.openPoll(2)
	s.dial(poll.ID, "alice").mustVote("k1", 1, 1, schema.StatusAccepted)
	s.dial(poll.ID, "bob").mustVote("k1", 0, 1, schema.StatusAccepted)
	s.waitTotals(poll.ID, []int64{1, 1})
	var out bytes.Buffer
	if err := recount(context.Background(), recountConfig{nats: natsConfig{url: natsURLs, user: clusterUser, password: clusterPassword, dir: s.dir}, poll: poll.ID, wait: 20 * time.Second}, &out); err != nil {
		t.Fatalf("recount against the cluster: %v\n%s", err, out.String())
	}

	ctx := context.Background()
	votes, err := js.Stream(ctx, schema.VotesStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := votes.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("VOTES on the cluster: %d replicas configured, cluster %+v; want 3, a leader and 2 peers", info.Config.Replicas, info.Cluster)
	}
	if info.State.Msgs < 2 {
		t.Errorf("VOTES holds %d messages, want the 2 votes at least", info.State.Msgs)
	}

	// SIGTERM, serve first: every node stops cleanly, and no line any of
	// them wrote carries the password.
	term := func(name string, p *process) {
		t.Helper()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			<-p.exited
			t.Fatalf("SIGTERM to %s: %v (exit %v)\n%s", name, err, p.err, strings.Join(p.stderr, "\n"))
		}
	}
	exited := func(name string, p *process) {
		t.Helper()
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s still running 30s after SIGTERM", name)
		}
		if p.err != nil {
			t.Errorf("%s exited with %v:\n%s", name, p.err, strings.Join(p.stderr, "\n"))
		}
	}
	nc.Close()
	term("serve", serveProc)
	exited("serve", serveProc)
	for i, p := range nodes { // at once: each node's lame duck takes seconds
		term(fmt.Sprintf("votecast nats n%d", i+1), p)
	}
	for i, p := range nodes {
		exited(fmt.Sprintf("votecast nats n%d", i+1), p)
	}
	for i, p := range nodes {
		log := strings.Join(p.stderr, "\n")
		for _, want := range []string{"JetStream cluster has a meta leader", "Route connection created", "votecast nats stopped"} {
			if !strings.Contains(log, want) {
				t.Errorf("n%d never logged %q:\n%s", i+1, want, log)
			}
		}
	}
	for name, log := range map[string]string{"n1": strings.Join(nodes[0].stderr, "\n"), "n2": strings.Join(nodes[1].stderr, "\n"),
		"n3": strings.Join(nodes[2].stderr, "\n"), "serve": strings.Join(serveProc.stderr, "\n")} {
		for _, secret := range []string{clusterPassword, "cluster-s3cret%2Fp%40ss"} {
			if strings.Contains(log, secret) {
				t.Errorf("%s logged the password (%q)", name, secret)
			}
		}
	}
}
