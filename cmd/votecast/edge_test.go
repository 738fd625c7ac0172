package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/schema"
)

func TestBadFramesGetErrorsAndTheSocketStays(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(2)
	v := s.dial(p.ID, "fuzzy")
	tests := []struct{ frame, reason string }{
		{`not json`, "invalid JSON"},
		{`{"type":"hello","id":"x","option":0}`, `unknown type "hello"`},
		{`{"id":"x","option":0}`, `missing field "type"`},
		{`{"type":"vote","option":0}`, `missing field "id"`},
		{`{"type":"vote","id":"x"}`, `missing field "option"`},
		{`{"type":"vote","id":"x","option":0,"extra":1}`, "invalid JSON"},
		{`{"type":"vote","id":"bad key!","option":0}`, "id may hold only"},
		{`{"type":"vote","id":"x","option":"one"}`, "wrong type"},
		{`{"type":"vote","id":"x","option":0,"pad":"` + strings.Repeat("a", schema.MaxFrameBytes) + `"}`, "frame larger than"},
	}
	for _, tc := range tests {
		v.sendRaw(tc.frame)
		f := v.next("error")
		if r, _ := f["reason"].(string); !strings.Contains(r, tc.reason) {
			t.Errorf("frame %.40q: reason %q, want it to contain %q", tc.frame, r, tc.reason)
		}
	}
	v.mustVote("still-here", 1, 1, schema.StatusAccepted)
	s.waitTotals(p.ID, []int64{0, 1})
	s.recountAgrees(p.ID, []int64{0, 1})
}

func TestFloodClosesTheSocket(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *serveConfig) { c.voteRate = 1 })
	p := s.openPoll(2)
	v := s.dial(p.ID, "flooder")
	for range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := v.c.Write(ctx, websocket.MessageText, []byte(`{"type":"vote","id":"x","option":0}`))
		cancel()
		if err != nil {
			break
		}
	}
	sawRetry := false
	for f := range v.frames { // closed when the server closes the socket
		if f["type"] == "ack" && f["status"] == schema.StatusRetry {
			sawRetry = true
		}
	}
	if !sawRetry {
		t.Error("no retry ack before the socket closed")
	}
	if code := websocket.CloseStatus(v.err); code != websocket.StatusPolicyViolation {
		t.Errorf("close status %v (%v), want policy violation", code, v.err)
	}
}

func TestViewerAdmission(t *testing.T) {
	s := startServer(t, t.TempDir())
	p := s.openPoll(2)
	good, _ := identity.Mint([]byte(testSecret), "u", time.Hour)
	expired, _ := identity.Mint([]byte(testSecret), "u", -time.Hour)
	forged, _ := identity.Mint([]byte("some-other-secret-0123456789abcd"), "u", time.Hour)
	tests := []struct {
		name, query, origin string
		wantStatus          int
	}{
		{"no token", "poll=" + p.ID, "", http.StatusUnauthorized},
		{"expired token", "poll=" + p.ID + "&token=" + expired, "", http.StatusUnauthorized},
		{"forged token", "poll=" + p.ID + "&token=" + forged, "", http.StatusUnauthorized},
		{"unknown poll", "poll=zzzzzzzzzz&token=" + good, "", http.StatusNotFound},
		{"foreign origin", "poll=" + p.ID + "&token=" + good, "http://evil.test", http.StatusForbidden},
		{"partner origin", "poll=" + p.ID + "&token=" + good, "http://partner.test:9000", http.StatusSwitchingProtocols},
		{"same origin", "poll=" + p.ID + "&token=" + good, "http://" + s.addr, http.StatusSwitchingProtocols},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c, resp, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws?"+tc.query, &websocket.DialOptions{HTTPHeader: h})
			if c != nil {
				c.CloseNow()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tc.wantStatus, err)
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	s := startServer(t, t.TempDir())
	open := s.openPoll(2)
	closed := s.openPoll(2)
	s.setState(closed.ID, "close")
	hidden := s.openPoll(2, func(sp *schema.PollSpec) { sp.Results = schema.ResultsHidden })
	big := `{"question":"` + strings.Repeat("q", 20<<10) + `"}`
	tests := []struct {
		name, method, path string
		body               any
		admin              bool
		wantStatus         int
		wantErr            string
	}{
		{"empty question", "POST", "/api/polls", map[string]any{"question": " ", "options": []string{"a", "b"}}, true, 400, "question is empty"},
		{"one option", "POST", "/api/polls", map[string]any{"question": "q", "options": []string{"a"}}, true, 400, "at least 2 options"},
		{"unknown field", "POST", "/api/polls", map[string]any{"question": "q", "options": []string{"a", "b"}, "colour": "red"}, true, 400, "unknown field"},
		{"oversized body", "POST", "/api/polls", rawJSON(big), true, 413, "larger than"},
		{"bad results mode", "POST", "/api/polls", map[string]any{"question": "q", "options": []string{"a", "b"}, "results": "sometimes"}, true, 400, "results must be"},
		{"no token", "POST", "/api/polls", map[string]any{}, false, 401, "missing producer token"},
		{"list all without token", "GET", "/api/polls", nil, false, 401, "producer token"},
		{"unknown poll", "GET", "/api/polls/zzzzzzzzzz", nil, false, 404, "poll not found"},
		{"open a closed poll", "POST", "/api/polls/" + closed.ID + "/open", nil, true, 409, "cannot be opened"},
		{"edit an open poll", "PUT", "/api/polls/" + open.ID, map[string]any{"question": "q", "options": []string{"a", "b"}}, true, 409, "only a draft"},
		{"hidden results", "GET", "/api/polls/" + hidden.ID + "/results", nil, false, 403, "hidden until the poll closes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out map[string]any
			code := s.call(tc.method, tc.path, tc.body, tc.admin, &out)
			if code != tc.wantStatus || !strings.Contains(out["error"].(string), tc.wantErr) {
				t.Fatalf("%d %v, want %d %q", code, out, tc.wantStatus, tc.wantErr)
			}
		})
	}
	req, _ := http.NewRequest("GET", s.url("/api/stats"), nil)
	req.Header.Set("Authorization", "Bearer wrong-token-of-some-length")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong token: %v %v, want 403", resp.StatusCode, err)
	}
	resp.Body.Close()
}

// rawJSON is a body sent as is.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// TestAnonymousViewerWithoutCookies plays a partner's frame, where the
// browser keeps no cookie: the sealed id from the hello frame, presented as
// ?viewer=, keeps the viewer one voter.
func TestAnonymousViewerWithoutCookies(t *testing.T) {
	s := startServer(t, t.TempDir(), func(c *serveConfig) { c.viewerSecret = "" })
	p := s.openPoll(2)
	dial := func(query string) *viewer {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws?poll="+p.ID+query, nil) // no cookie jar
		if err != nil {
			t.Fatal(err)
		}
		v := &viewer{t: t, c: c, frames: make(chan map[string]any, 64)}
		go v.read()
		t.Cleanup(func() { c.CloseNow() })
		return v
	}
	first := dial("")
	sealed, _ := first.next("hello")["viewer"].(string)
	if sealed == "" {
		t.Fatal("no sealed viewer id in the hello frame")
	}
	first.mustVote("a", 0, 1, schema.StatusAccepted)
	again := dial("&viewer=" + url.QueryEscape(sealed))
	if st, reason := again.vote("b", 1, 1); st != schema.StatusDuplicate {
		t.Fatalf("same viewer, new socket: %s (%s), want duplicate", st, reason)
	}
	stranger := dial("&viewer=" + url.QueryEscape(sealed[:len(sealed)-2]+"xx"))
	stranger.mustVote("c", 1, 1, schema.StatusAccepted) // a forged id is a new viewer
	s.waitTotals(p.ID, []int64{1, 1})
	s.recountAgrees(p.ID, []int64{1, 1})
}
