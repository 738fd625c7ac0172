package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/node"
	"github.com/votecast/votecast/schema"
)

// startRole runs serve with the given roles on its own data directory:
// with join nil it runs the embedded NATS (listening), else it joins
// join's NATS at url with join's nkey, as --nats URL --nats-nkey
// <data>/nats.nkey would.
func startRole(t *testing.T, roles node.Roles, join *server, url string) *server {
	t.Helper()
	return startServer(t, t.TempDir(), func(c *serveConfig) {
		c.roles = roles
		if join != nil {
			c.nats = natsConfig{dir: c.nats.dir, url: url, nkey: filepath.Join(join.dir, "nats.nkey"), sync: "always"}
		}
	})
}

// get is a GET without credentials: its status and body.
func (s *server) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.url(path))
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady waits until /readyz says ready.
func (s *server) waitReady() {
	s.t.Helper()
	await.For(s.t, 20*time.Second, func() string {
		if code, body := s.get("/readyz"); code != http.StatusOK {
			return fmt.Sprintf("readyz: %d %s", code, body)
		}
		return ""
	})
}

// voteSeeing sends a vote and returns its ack and the types of every
// frame that came before it, which the harness's vote skips.
func (v *viewer) voteSeeing(id string, option int) (ack map[string]any, before []string) {
	v.t.Helper()
	v.sendRaw(fmt.Sprintf(`{"type":"vote","id":%q,"option":%d,"count":1}`, id, option))
	timeout := time.After(frameWait)
	for {
		select {
		case f, ok := <-v.frames:
			if !ok {
				v.t.Fatalf("connection closed while waiting for the ack of %s: %v", id, v.err)
			}
			if f["type"] == "ack" && f["id"] == id {
				return f, before
			}
			before = append(before, fmt.Sprint(f["type"]))
		case <-timeout:
			v.t.Fatalf("no ack for %s within %v", id, frameWait)
		}
	}
}

// waitFrame waits for a results frame with the given counts.
func (v *viewer) waitFrame(want []int64) {
	v.t.Helper()
	timeout := time.After(20 * time.Second)
	var last []int64
	for {
		select {
		case f, ok := <-v.frames:
			if !ok {
				v.t.Fatalf("connection closed while waiting for totals %v: %v", want, v.err)
			}
			if f["type"] != "results" {
				continue
			}
			raw, _ := f["counts"].([]any)
			last = last[:0]
			for _, c := range raw {
				n, _ := c.(float64)
				last = append(last, int64(n))
			}
			if slices.Equal(last, want) {
				return
			}
		case <-timeout:
			v.t.Fatalf("no results frame with %v within 20s; the last had %v", want, last)
		}
	}
}

// The base: one process, embedded NATS with a listener, every role.
func TestRolesAllInOneProcess(t *testing.T) {
	s := startRole(t, node.AllRoles, nil, "")
	p := s.openPoll(2)
	watcher := s.dial(p.ID, "watcher")
	s.dial(p.ID, "u1").mustVote("k", 0, 1, schema.StatusAccepted)
	s.dial(p.ID, "u2").mustVote("k", 1, 1, schema.StatusAccepted)
	s.dial(p.ID, "u3").mustVote("k", 1, 1, schema.StatusAccepted)
	want := []int64{1, 2}
	s.waitTotals(p.ID, want)
	watcher.waitFrame(want)
	s.recountAgrees(p.ID, want)
	s.waitReady()
	for _, path := range []string{"/livez", "/healthz", "/metrics"} {
		if code, body := s.get(path); code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
}

// Three processes on one NATS, each its own data directory: broadcast
// (which runs the embedded NATS), ingest and tally joining it.
func TestRolesSeparateProcesses(t *testing.T) {
	b := startRole(t, node.Broadcast, nil, "")
	ing := startRole(t, node.Ingest, b, b.natsURL)
	// --nats takes a list, as nats.go does.
	tal := startRole(t, node.Tally, b, b.natsURL+","+b.natsURL)
	for _, s := range []*server{b, ing, tal} {
		s.waitReady()
	}

	p := ing.openPoll(2)
	watcher := b.dial(p.ID, "watcher")
	voter := ing.dial(p.ID, "u1")
	if ack, before := voter.voteSeeing("k", 0); ack["status"] != schema.StatusAccepted || len(before) != 0 {
		t.Fatalf("vote through the ingest node: %v after %v", ack, before)
	}
	ing.dial(p.ID, "u2").mustVote("k", 1, 1, schema.StatusAccepted)
	ing.dial(p.ID, "u3").mustVote("k", 1, 1, schema.StatusAccepted)
	want := []int64{1, 2}
	b.waitTotals(p.ID, want)
	watcher.waitFrame(want)
	b.recountAgrees(p.ID, want)

	t.Run("broadcast node refuses votes, clearly", func(t *testing.T) {
		watcher.sendRaw(`{"type":"vote","id":"w1","option":0,"count":1}`)
		if f := watcher.next("error"); f["reason"] != node.NoVotesReason {
			t.Fatalf("vote on the broadcast node: %v, want an error frame %q", f, node.NoVotesReason)
		}
		b.waitTotals(p.ID, want) // and it counted nowhere
	})

	t.Run("ingest node sends acks and no totals", func(t *testing.T) {
		// Totals move, and the broadcast node's viewer sees them; the
		// ingest node's viewer, answered after that, saw no totals
		// frame at any point.
		ing.dial(p.ID, "u4").mustVote("k", 0, 1, schema.StatusAccepted)
		want := []int64{2, 2}
		watcher.waitFrame(want)
		if ack, before := voter.voteSeeing("k2", 1); ack["status"] != schema.StatusDuplicate || slices.Contains(before, "results") {
			t.Fatalf("second vote through the ingest node: %v after frames %v, want duplicate and no results", ack, before)
		}
		code, body := ing.get("/api/polls/" + p.ID + "/results")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "this node has no broadcast role") {
			t.Fatalf("results on the ingest node: %d %s, want 503 no broadcast role", code, body)
		}
	})

	t.Run("tally node serves only metrics and probes", func(t *testing.T) {
		tests := []struct {
			path     string
			want     int
			contains string
		}{
			{"/metrics", 200, "votecast_tally_events_total"},
			{"/livez", 200, `"status":"ok"`},
			{"/readyz", 200, `"status":"ready"`},
			{"/api/polls", 404, "only the tally role"},
			{"/api/polls/" + p.ID + "/results", 404, "only the tally role"},
			{"/", 404, "only the tally role"},
			{"/ws?poll=" + p.ID, 404, "only the tally role"},
		}
		for _, tc := range tests {
			if code, body := tal.get(tc.path); code != tc.want || !strings.Contains(body, tc.contains) {
				t.Errorf("tally node GET %s: %d %.200s, want %d with %q", tc.path, code, body, tc.want, tc.contains)
			}
		}
	})
}

func TestRolesFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string // VOTECAST_ROLES
		want    node.Roles
		wantErr string
	}{
		{"default", nil, "", node.AllRoles, ""},
		{"one", []string{"--roles", "tally"}, "", node.Tally, ""},
		{"two, spaced", []string{"--roles", "ingest, broadcast"}, "", node.Ingest | node.Broadcast, ""},
		{"all, any order", []string{"--roles=tally,ingest,broadcast"}, "", node.AllRoles, ""},
		{"from the environment", nil, "broadcast", node.Broadcast, ""},
		{"the flag over the environment", []string{"--roles", "ingest"}, "tally", node.Ingest, ""},
		{"empty", []string{"--roles="}, "", 0, `invalid value "" for flag -roles: no roles given`},
		{"unknown", []string{"--roles", "ingest,counter"}, "", 0, `unknown role "counter"`},
		{"empty item", []string{"--roles", "ingest,,tally"}, "", 0, "empty role name"},
		{"capitalised", []string{"--roles", "Tally"}, "", 0, `unknown role "Tally"`},
		{"unknown in the environment", nil, "talley", 0, `unknown role "talley"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("VOTECAST_ROLES", tc.env)
			}
			var c serveConfig
			fs := serveFlags(&c)
			fs.SetOutput(io.Discard)
			err := ff.Parse(fs, tc.args, envOptions()...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parse %v: %v (roles %v), want an error with %q", tc.args, err, c.roles, tc.wantErr)
				}
				return
			}
			if err != nil || c.roles != tc.want {
				t.Fatalf("parse %v: roles %v, %v; want %v", tc.args, c.roles, err, tc.want)
			}
		})
	}
}

// A bad --roles stops serve before it touches anything.
func TestRolesFlagErrorStartsNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	// Already cancelled: a serve that wrongly started returns at once
	// rather than serving until the test times out.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"serve", "--data", dir, "--http", "127.0.0.1:0", "--roles", "ingest,tallly"})
	if err == nil || !strings.Contains(err.Error(), `unknown role "tallly"`) {
		t.Fatalf("serve --roles ingest,tallly: %v", err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Fatalf("the data directory was created (%v) by a serve that should not have started", statErr)
	}
}
