package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/schema"
)

const (
	testToken  = "test-admin-token-0123456789"
	testSecret = "test-viewer-secret-0123456789abcdef"
)

// server is one in-process `votecast serve` on a temp data dir.
type server struct {
	t       *testing.T
	dir     string
	addr    string
	natsURL string
	stop    context.CancelFunc
	done    chan error
}

func testConfig(dir string) serveConfig {
	return serveConfig{
		httpAddr: "127.0.0.1:0", nats: natsConfig{dir: dir, listen: "127.0.0.1:-1", sync: "always"},
		adminToken: testToken, viewerSecret: testSecret, allowOrigins: "http://partner.test:9000",
		shards: 4, interval: 20 * time.Millisecond, maxInFlight: 4096, maxConns: 10_000, maxConnsIP: 10_000,
		voteRate: 50, closeGrace: 200 * time.Millisecond, dupWindow: 2 * time.Minute, logLevel: "error",
	}
}

// startServer runs serve until the test ends (or stopServer).
func startServer(t *testing.T, dir string, tweak ...func(*serveConfig)) *server {
	t.Helper()
	s := &server{t: t, dir: dir, done: make(chan error, 1)}
	cfg := testConfig(dir)
	for _, f := range tweak {
		f(&cfg)
	}
	ready := make(chan struct{})
	cfg.onReady = func(addr, natsURL string) { s.addr, s.natsURL = addr, natsURL; close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.done <- serve(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("serve exited at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve not ready after 30s")
	}
	t.Cleanup(s.shutdown)
	return s
}

// shutdown is SIGTERM: graceful stop, waited for.
func (s *server) shutdown() {
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Errorf("serve returned %v", err)
		}
	case <-time.After(60 * time.Second):
		s.t.Error("serve did not stop within 60s")
	}
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// call makes an API request and decodes the JSON answer into out.
func (s *server) call(method, path string, body any, admin bool, out any) int {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url(path), rd)
	if admin {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			s.t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func (s *server) createPoll(spec schema.PollSpec) schema.Poll {
	s.t.Helper()
	var p schema.Poll
	if code := s.call("POST", "/api/polls", spec, true, &p); code != http.StatusCreated {
		s.t.Fatalf("create poll: status %d", code)
	}
	return p
}

func (s *server) setState(id, action string) schema.Poll {
	s.t.Helper()
	var p schema.Poll
	if code := s.call("POST", "/api/polls/"+id+"/"+action, nil, true, &p); code != http.StatusOK {
		s.t.Fatalf("%s poll: status %d", action, code)
	}
	return p
}

func (s *server) openPoll(options int, tweak ...func(*schema.PollSpec)) schema.Poll {
	spec := schema.PollSpec{Question: "Which one?"}
	for i := range options {
		spec.Options = append(spec.Options, fmt.Sprintf("option %d", i))
	}
	for _, f := range tweak {
		f(&spec)
	}
	p := s.createPoll(spec)
	return s.setState(p.ID, "open")
}

// waitTotals waits until the live totals equal want.
func (s *server) waitTotals(poll string, want []int64) {
	s.t.Helper()
	var got schema.Totals
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s.call("GET", "/api/polls/"+poll+"/results", nil, true, &got)
		if slices.Equal(got.Counts, want) {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
	s.t.Fatalf("totals of %s = %v, want %v", poll, got.Counts, want)
}

// recountAgrees runs `votecast recount` against the running server: the
// log replayed with the tally's fold must equal the stored totals.
func (s *server) recountAgrees(poll string, want []int64) {
	s.t.Helper()
	var out bytes.Buffer
	err := recount(context.Background(), recountConfig{nats: natsConfig{url: s.natsURL, dir: s.dir}, poll: poll, wait: 20 * time.Second}, &out)
	if err != nil || !strings.Contains(out.String(), "log and store agree") {
		s.t.Fatalf("recount: %v\n%s", err, out.String())
	}
	s.waitTotals(poll, want)
}

// viewer is a real WebSocket client.
type viewer struct {
	t      *testing.T
	c      *websocket.Conn
	frames chan map[string]any
	err    error // why the socket ended; set before frames is closed
}

func (s *server) dial(poll, user string) *viewer {
	s.t.Helper()
	tok, err := identity.Mint([]byte(testSecret), user, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws?poll="+poll+"&token="+tok, nil)
	if err != nil {
		s.t.Fatalf("dial as %s: %v", user, err)
	}
	v := &viewer{t: s.t, c: c, frames: make(chan map[string]any, 1024)}
	go v.read()
	s.t.Cleanup(func() { c.CloseNow() })
	return v
}

func (v *viewer) read() {
	defer close(v.frames)
	for {
		_, b, err := v.c.Read(context.Background())
		if err != nil {
			v.err = err
			return
		}
		var f map[string]any
		if json.Unmarshal(b, &f) == nil {
			v.frames <- f
		}
	}
}

func (v *viewer) sendRaw(b string) {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := v.c.Write(ctx, websocket.MessageText, []byte(b)); err != nil {
		v.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame of the given type, skipping others.
func (v *viewer) next(typ string) map[string]any {
	v.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case f, ok := <-v.frames:
			if !ok {
				v.t.Fatalf("connection closed while waiting for a %s frame", typ)
			}
			if f["type"] == typ {
				return f
			}
		case <-timeout:
			v.t.Fatalf("no %s frame within 15s", typ)
		}
	}
}

// vote sends a vote and returns its ack's status and reason.
func (v *viewer) vote(id string, option, count int) (status, reason string) {
	v.t.Helper()
	v.sendRaw(fmt.Sprintf(`{"type":"vote","id":%q,"option":%d,"count":%d}`, id, option, count))
	for {
		a := v.next("ack")
		if a["id"] == id {
			r, _ := a["reason"].(string)
			return a["status"].(string), r
		}
	}
}

func (v *viewer) mustVote(id string, option, count int, want string) {
	v.t.Helper()
	if st, reason := v.vote(id, option, count); st != want {
		v.t.Fatalf("vote %s on %d: %s (%s), want %s", id, option, st, reason, want)
	}
}
