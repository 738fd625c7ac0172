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
	"github.com/votecast/votecast/internal/await"
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
	// natsUser and natsPassword sign recount in, on a cluster that asks
	// for them; empty: the data directory's own credentials.
	natsUser, natsPassword string
	stop                   context.CancelFunc
	done                   chan error
}

func testConfig(dir string) serveConfig {
	return serveConfig{
		httpAddr: "127.0.0.1:0", nats: natsConfig{dir: dir, listen: "127.0.0.1:-1", sync: "always"},
		adminToken: testToken, viewerSecret: testSecret, allowOrigins: "http://partner.test:9000",
		shards: 4, interval: 20 * time.Millisecond, maxInFlight: 4096, maxConns: 10_000, maxConnsIP: 10_000,
		voteRate: 50, closeGrace: 200 * time.Millisecond, dupWindow: 2 * time.Minute, logLevel: "error",
		admitRate: 1000,
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
	code, err := s.tryCall(method, path, body, admin, out)
	if err != nil {
		s.t.Fatal(err)
	}
	return code
}

// tryCall is call for any goroutine: it reports what went wrong instead of
// failing the test.
func (s *server) tryCall(method, path string, body any, admin bool, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url(path), rd)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+testToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
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
	p, err := s.trySetState(id, action)
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

// trySetState is setState for any goroutine.
func (s *server) trySetState(id, action string) (schema.Poll, error) {
	var p schema.Poll
	code, err := s.tryCall("POST", "/api/polls/"+id+"/"+action, nil, true, &p)
	if err != nil {
		return p, fmt.Errorf("%s poll: %w", action, err)
	}
	if code != http.StatusOK {
		return p, fmt.Errorf("%s poll: status %d", action, code)
	}
	return p, nil
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
	await.For(s.t, 20*time.Second, func() string {
		var got schema.Totals
		if _, err := s.tryCall("GET", "/api/polls/"+poll+"/results", nil, true, &got); err != nil {
			return err.Error()
		}
		if !slices.Equal(got.Counts, want) {
			return fmt.Sprintf("totals of %s = %v, want %v", poll, got.Counts, want)
		}
		return ""
	})
}

// recountAgrees runs `votecast recount` against the running server: the
// log replayed with the tally's fold must equal the stored totals.
func (s *server) recountAgrees(poll string, want []int64) {
	s.t.Helper()
	var out bytes.Buffer
	cfg := recountConfig{nats: natsConfig{url: s.natsURL, dir: s.dir, user: s.natsUser, password: s.natsPassword}, poll: poll, wait: 30 * time.Second}
	err := recount(context.Background(), cfg, &out)
	if err != nil || !strings.Contains(out.String(), "log, store and published totals agree") {
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
	// acksOnly drops totals frames unread: a voter among thousands in
	// one test process must not spend its CPU decoding them.
	acksOnly bool
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
		if v.acksOnly && bytes.HasPrefix(b, []byte(`{"type":"results"`)) {
			continue
		}
		var f map[string]any
		if json.Unmarshal(b, &f) == nil {
			v.frames <- f
		}
	}
}

// The viewer's helpers come in two kinds: sendRaw, next, vote and mustVote
// fail the test and so belong on the test's goroutine; their try* twins
// and checkVote only report, and are safe from any goroutine.

func (v *viewer) sendRaw(b string) {
	v.t.Helper()
	if err := v.trySendRaw(b); err != nil {
		v.t.Fatal(err)
	}
}

func (v *viewer) trySendRaw(b string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := v.c.Write(ctx, websocket.MessageText, []byte(b)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// next returns the next frame of the given type, skipping others.
func (v *viewer) next(typ string) map[string]any {
	v.t.Helper()
	f, err := v.tryNext(typ)
	if err != nil {
		v.t.Fatal(err)
	}
	return f
}

// frameWait bounds the wait for one frame: a missing answer is a failure,
// not a hang.
const frameWait = 15 * time.Second

func (v *viewer) tryNext(typ string) (map[string]any, error) {
	timeout := time.NewTimer(frameWait)
	defer timeout.Stop()
	for {
		select {
		case f, ok := <-v.frames:
			if !ok {
				return nil, fmt.Errorf("connection closed while waiting for a %s frame: %v", typ, v.err)
			}
			if f["type"] == typ {
				return f, nil
			}
		case <-timeout.C:
			return nil, fmt.Errorf("no %s frame within %v", typ, frameWait)
		}
	}
}

// vote sends a vote and returns its ack's status and reason.
func (v *viewer) vote(id string, option, count int) (status, reason string) {
	v.t.Helper()
	status, reason, err := v.tryVote(id, option, count)
	if err != nil {
		v.t.Fatal(err)
	}
	return status, reason
}

func (v *viewer) tryVote(id string, option, count int) (status, reason string, err error) {
	a, err := v.tryAck(id, option, count)
	return a.status, a.reason, err
}

// voteAck is a vote's answer.
type voteAck struct {
	status, reason string
	retryAfter     time.Duration // with status retry: when to send again
	seq            uint64        // the receipt, on accepted and already counted
}

func (v *viewer) tryAck(id string, option, count int) (voteAck, error) {
	if err := v.trySendRaw(fmt.Sprintf(`{"type":"vote","id":%q,"option":%d,"count":%d}`, id, option, count)); err != nil {
		return voteAck{}, fmt.Errorf("vote %s: %w", id, err)
	}
	for {
		f, err := v.tryNext("ack")
		if err != nil {
			return voteAck{}, fmt.Errorf("vote %s: %w", id, err)
		}
		if f["id"] != id {
			continue
		}
		var a voteAck
		a.status, _ = f["status"].(string)
		a.reason, _ = f["reason"].(string)
		if ms, ok := f["retry_after_ms"].(float64); ok {
			a.retryAfter = time.Duration(ms) * time.Millisecond
		}
		if seq, ok := f["seq"].(float64); ok {
			a.seq = uint64(seq)
		}
		if a.status == "" {
			return voteAck{}, fmt.Errorf("vote %s: ack without a status: %v", id, f)
		}
		return a, nil
	}
}

// maxRetryAfter caps how long voteFinal honours a retry_after_ms, so a
// wrong hint fails the test by its bound on sends rather than stalling it.
const maxRetryAfter = 3 * time.Second

// voteFinal sends a vote and, while the answer is retry ("fate unknown,
// send again"), resends it with the same client key after the server's
// retry_after_ms, as the viewer page does, up to tries sends in all. It
// returns the last answer and how many sends it took; a status still retry
// after tries sends means no final answer came. Safe from any goroutine.
func (v *viewer) voteFinal(id string, option, count, tries int) (status, reason string, sent int, err error) {
	var a voteAck
	for sent < tries {
		if sent > 0 {
			// The client's backoff the server asked for, not a wait
			// standing in for synchronisation.
			time.Sleep(min(a.retryAfter, maxRetryAfter))
		}
		sent++
		if a, err = v.tryAck(id, option, count); err != nil || a.status != schema.StatusRetry {
			break
		}
	}
	return a.status, a.reason, sent, err
}

// checkVote is mustVote for any goroutine: it reports a wrong answer with
// Errorf and says whether the answer was want.
func (v *viewer) checkVote(id string, option, count int, want string) bool {
	v.t.Helper()
	st, reason, err := v.tryVote(id, option, count)
	switch {
	case err != nil:
		v.t.Error(err)
	case st != want:
		v.t.Errorf("vote %s on %d: %s (%s), want %s", id, option, st, reason, want)
	default:
		return true
	}
	return false
}

func (v *viewer) mustVote(id string, option, count int, want string) {
	v.t.Helper()
	if st, reason := v.vote(id, option, count); st != want {
		v.t.Fatalf("vote %s on %d: %s (%s), want %s", id, option, st, reason, want)
	}
}

// callNoFatal makes an admin API request without a body and returns its
// status, or 0 when it failed; safe off the test goroutine.
func (s *server) callNoFatal(method, path string) int {
	req, _ := http.NewRequest(method, s.url(path), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
