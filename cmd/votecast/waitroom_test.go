package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/waitroom"
)

// line is a viewer's side of the waiting room, over plain HTTP.
type line struct {
	s    *server
	poll string
	user string
	tok  string // viewer token
}

func (s *server) line(poll, user string) *line {
	tok, err := identity.Mint([]byte(testSecret), user, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return &line{s: s, poll: poll, user: user, tok: tok}
}

func (l *line) join() waitroom.Place {
	l.s.t.Helper()
	var p waitroom.Place
	if code := l.s.call("POST", "/api/polls/"+l.poll+"/queue?token="+l.tok, nil, false, &p); code != http.StatusOK {
		l.s.t.Fatalf("%s joining: HTTP %d", l.user, code)
	}
	return p
}

// vote casts a vote from the line; it returns the HTTP status and the
// answer's status and reason (or the error).
func (l *line) vote(ticket, key string, option int) (int, string) {
	l.s.t.Helper()
	body := fmt.Sprintf(`{"ticket":%q,"vote":{"type":"vote","id":%q,"option":%d}}`, ticket, key, option)
	resp, err := http.Post(l.s.url("/api/polls/"+l.poll+"/queue/vote?token="+l.tok), "application/json", strings.NewReader(body))
	if err != nil {
		l.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&a)
	if e, ok := a["error"]; ok {
		return resp.StatusCode, fmt.Sprint(e)
	}
	if r, ok := a["reason"]; ok {
		return resp.StatusCode, fmt.Sprint(a["status"], " ", r)
	}
	return resp.StatusCode, fmt.Sprint(a["status"])
}

// connect opens the viewer's socket, with a ticket or without; it returns
// the socket, or the HTTP status and body of the refusal.
func (l *line) connect(ticket string) (*websocket.Conn, int, string) {
	l.s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws://" + l.s.addr + "/ws?poll=" + l.poll + "&token=" + l.tok
	if ticket != "" {
		u += "&ticket=" + url.QueryEscape(ticket)
	}
	c, resp, err := websocket.Dial(ctx, u, nil)
	if err == nil {
		l.s.t.Cleanup(func() { c.CloseNow() })
		return c, http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		l.s.t.Fatalf("%s connecting: %v", l.user, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return nil, resp.StatusCode, string(bytes.TrimSpace(b))
}

// A node past its connection cap sends viewers to the line; they vote
// from it at once, are let in in order as slots free up, each ticket
// once, and a ticket works only for its own viewer and poll.
func TestWaitingRoom(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *serveConfig) { c.maxConns = 2; c.admitRate = 50 })
	poll := s.openPoll(2)
	other := s.openPoll(2)
	a, b := s.dial(poll.ID, "a"), s.dial(poll.ID, "b")
	a.mustVote("a1", 0, 1, "accepted")
	b.mustVote("b1", 1, 1, "accepted")

	c := s.line(poll.ID, "c")
	if _, code, body := c.connect(""); code != http.StatusServiceUnavailable || body != `{"error":"this node is full: join the waiting room","queue":true}` {
		t.Fatalf("a third viewer on a node of 2: HTTP %d %s", code, body)
	}
	pc := c.join()
	if pc.Admit || pc.Ticket == "" || pc.Place != 1 || pc.Ahead != 0 {
		t.Fatalf("c's place: %+v", pc)
	}
	d := s.line(poll.ID, "d")
	pd := d.join()
	if pd.Place != 2 || pd.Ahead != 1 {
		t.Fatalf("d's place: %+v", pd)
	}
	if again := c.join(); again.Place != 1 || again.Ticket == "" {
		t.Fatalf("c joining again: %+v, want place 1", again)
	}
	// Nobody passes the line: a viewer without a ticket joins it even
	// once a slot is free.
	if code, ans := c.vote(pc.Ticket, "c1", 1); code != http.StatusOK || ans != "accepted" {
		t.Fatalf("c's vote from the line: HTTP %d %s", code, ans)
	}
	if code, ans := c.vote(pc.Ticket, "c1", 1); code != http.StatusOK || ans != "duplicate already counted" {
		t.Fatalf("c's vote from the line, sent again: HTTP %d %s", code, ans)
	}
	var stats struct {
		Queue waitroom.Snapshot `json:"queue"`
	}
	s.call("GET", "/api/stats", nil, true, &stats)
	if q := stats.Queue; q.Votes != 1 || q.Waiting != 2 || q.Last != 2 {
		t.Fatalf("the dashboard's line: %+v, want 1 vote from it, 2 waiting, last place 2", q)
	}
	for _, tc := range []struct {
		name, ticket string
		who          *line
		code         int
		want         string
	}{
		{"another viewer's ticket", pc.Ticket, d, http.StatusForbidden, "ticket refused: this ticket belongs to another viewer"},
		{"a forged ticket", "AQAAAAAAAAAB.c2lnbmF0dXJl", c, http.StatusForbidden, "ticket refused: not a ticket this service signed"},
		{"another poll", pc.Ticket, s.line(other.ID, "c"), http.StatusForbidden, "ticket refused: this ticket is for another poll"},
	} {
		if code, ans := tc.who.vote(tc.ticket, "x", 0); code != tc.code || ans != tc.want {
			t.Errorf("vote with %s: HTTP %d %q, want %d %q", tc.name, code, ans, tc.code, tc.want)
		}
	}

	// A slot frees up: c is let in, and a newcomer without a ticket may
	// not take the slot while d still waits.
	a.c.Close(websocket.StatusNormalClosure, "")
	await.For(t, 10*time.Second, func() string {
		if p := c.join(); !p.Admit {
			return fmt.Sprintf("c not let in: %+v", p)
		}
		return ""
	})
	if _, code, body := s.line(poll.ID, "g").connect(""); code != http.StatusServiceUnavailable || !strings.Contains(body, `"queue":true`) {
		t.Fatalf("a newcomer while d waits: HTTP %d %s", code, body)
	}
	b.c.Close(websocket.StatusNormalClosure, "")
	var conn *websocket.Conn
	await.For(t, 10*time.Second, func() string {
		var code int
		var body string
		if conn, code, body = c.connect(pc.Ticket); conn == nil {
			return fmt.Sprintf("c with its ticket: HTTP %d %s", code, body)
		}
		return ""
	})
	if _, code, body := c.connect(pc.Ticket); code != http.StatusForbidden || !strings.Contains(body, "this ticket is in use on another connection") {
		t.Fatalf("c's ticket used twice at once: HTTP %d %s", code, body)
	}
	// A dropped connection comes back with the same ticket.
	conn.CloseNow()
	await.For(t, 10*time.Second, func() string {
		var code int
		var body string
		if conn, code, body = c.connect(pc.Ticket); conn == nil {
			return fmt.Sprintf("c reconnecting with its ticket: HTTP %d %s", code, body)
		}
		return ""
	})
	await.For(t, 10*time.Second, func() string {
		if conn, code, body := d.connect(pd.Ticket); conn == nil {
			return fmt.Sprintf("d with its ticket: HTTP %d %s", code, body)
		}
		return ""
	})
	s.waitTotals(poll.ID, []int64{1, 2})
	s.recountAgrees(poll.ID, []int64{1, 2})
}

// A poll that closes while viewers wait in line gives them the queue
// grace: a vote from the line cast after the close began counts, and one
// whose ticket was issued after the close does not.
func TestQueuedVoteDuringCloseCounts(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *serveConfig) {
		c.maxConns = 1
		c.admitRate = 0 // nobody is let in: the line only grows
		c.queueGrace = 3 * time.Second
	})
	poll := s.openPoll(2)
	s.dial(poll.ID, "a").mustVote("a1", 0, 1, "accepted")
	e, f := s.line(poll.ID, "e"), s.line(poll.ID, "f")
	pe := e.join()
	if pe.Admit {
		t.Fatalf("e let in on a full node: %+v", pe)
	}
	closed := make(chan error, 1)
	go func() { _, err := s.trySetState(poll.ID, "close"); closed <- err }()
	var until time.Time
	await.For(t, 10*time.Second, func() string {
		var p struct {
			State      string    `json:"state"`
			QueueSeq   uint64    `json:"queue_seq"`
			QueueUntil time.Time `json:"queue_until"`
		}
		s.call("GET", "/api/polls/"+poll.ID, nil, true, &p)
		if p.State != "closing" || p.QueueSeq != pe.Place {
			return fmt.Sprintf("poll %s, queue_seq %d; want closing, %d", p.State, p.QueueSeq, pe.Place)
		}
		until = p.QueueUntil
		return ""
	})
	pf := f.join() // after the close began
	if code, ans := f.vote(pf.Ticket, "f1", 1); code != http.StatusOK || ans != "retry poll is closing" {
		t.Fatalf("f joined after the close: HTTP %d %s", code, ans)
	}
	// e votes late in the grace, well past the close grace (200ms) that
	// alone would have put the markers in: the window under test is time.
	await.Until(t, 5*time.Second, "a second into the queue grace", func() bool { return time.Until(until) < 2*time.Second })
	// Answered once the markers are in, after the grace.
	if code, ans := e.vote(pe.Ticket, "e1", 1); code != http.StatusOK || ans != "accepted" {
		t.Fatalf("e's vote from the line while the poll closes: HTTP %d %s", code, ans)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if code, ans := f.vote(pf.Ticket, "f1", 1); code != http.StatusOK || ans != "rejected poll is closed" {
		t.Fatalf("f after the close: HTTP %d %s", code, ans)
	}
	s.recountAgrees(poll.ID, []int64{1, 1})
}

// Viewers who queue before the poll opens have no place until it opens;
// the opening draws their places at random, and each then learns its own.
func TestQueueBeforeOpeningIsDrawn(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *serveConfig) { c.maxConns = 1; c.admitRate = 0 })
	poll := s.createPoll(schema.PollSpec{Question: "Who wins?", Options: []string{"A", "B"}})
	s.dial(poll.ID, "first") // fills the node
	const n = 30
	lines := make([]*line, n)
	for i := range lines {
		lines[i] = s.line(poll.ID, fmt.Sprintf("early-%02d", i))
		if p := lines[i].join(); !p.Early || p.Ticket != "" || p.Place != 0 {
			t.Fatalf("joined before the opening: %+v, want early without a place", p)
		}
	}
	s.setState(poll.ID, "open")
	places := make([]uint64, n)
	seen := map[uint64]bool{}
	for i, l := range lines {
		p := l.join()
		if p.Early || p.Ticket == "" || p.Place == 0 || seen[p.Place] {
			t.Fatalf("%s after the opening: %+v", l.user, p)
		}
		seen[p.Place], places[i] = true, p.Place
	}
	if slices.IsSorted(places) {
		t.Fatalf("places follow the order of arrival: %v", places)
	}
	if late := s.line(poll.ID, "late").join(); late.Place != uint64(n+1) {
		t.Fatalf("a viewer joining after the opening got place %d, want %d (behind the draw)", late.Place, n+1)
	}
}

// Past the per-address cap the node has room: the waiting room would not
// help, so the viewer is told to try again, not to join the line.
func TestPerAddressCapIsNotTheWaitingRoom(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *serveConfig) { c.maxConnsIP = 1 })
	poll := s.openPoll(2)
	s.dial(poll.ID, "a")
	_, code, body := s.line(poll.ID, "b").connect("")
	if code != http.StatusServiceUnavailable || body != `{"error":"too many connections from your address","retry_after_ms":2000}` {
		t.Fatalf("a second connection from one address: HTTP %d %s", code, body)
	}
}
