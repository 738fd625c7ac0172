package waitroom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/votecast/votecast/internal/apispec"
	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/schema"
)

// One address joins at most a burst of 1,000 and then 200 a second;
// another address is not held back by it.
func TestJoinsPerAddressAreLimited(t *testing.T) {
	h := apispec.Check(t, Handler(HTTPOptions{Poll: func(string) (schema.Poll, bool) { return schema.Poll{}, false }}))
	join := func(addr string) int {
		r := httptest.NewRequest("POST", "/api/polls/abcdefghij/queue", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// The loop takes milliseconds: the refill meanwhile is a few joins.
	allowed := 0
	for join("192.0.2.1:5000") != http.StatusTooManyRequests {
		if allowed++; allowed > joinBurst+joinsPerSecond {
			t.Fatalf("%d joins from one address and none refused", allowed)
		}
	}
	if allowed < joinBurst {
		t.Fatalf("refused after %d joins, want at least the burst of %d", allowed, joinBurst)
	}
	if code := join("192.0.2.2:5000"); code != http.StatusNotFound {
		t.Fatalf("another address: HTTP %d", code)
	}
}

// Each answer of the line's endpoints, on a real room, is the contract's
// (api/openapi.yaml): the checking handler fails the test otherwise.
func TestLineKeepsTheContract(t *testing.T) {
	env := natstest.Start(t, "")
	var free atomic.Int64
	room := edge(t, env, "a", &free, -1) // the line does not move
	open, draft := schema.NewPollID(), schema.NewPollID()
	polls := map[string]schema.Poll{open: {ID: open, State: schema.Open}, draft: {ID: draft, State: schema.Draft}}
	var full atomic.Bool
	opts := HTTPOptions{
		Room: room, Full: full.Load,
		Poll: func(id string) (schema.Poll, bool) { p, ok := polls[id]; return p, ok },
		// The viewer is whom ?token= names.
		Identify: func(_ http.ResponseWriter, r *http.Request) (string, string, error) {
			if u := r.URL.Query().Get("token"); u != "" {
				return u, "sealed-" + u, nil
			}
			return "", "", errors.New("unauthorized: a viewer token is required")
		},
		Vote: func(_ context.Context, _, _ string, _ uint64, f schema.VoteFrame) (schema.Ack, error) {
			return schema.Ack{ID: f.ID, Status: schema.StatusAccepted, Seq: 42}, nil
		},
	}
	h := apispec.Check(t, Handler(opts))
	do := func(method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		return w
	}
	call := func(want int, method, path, body string) []byte {
		t.Helper()
		w := do(method, path, body)
		if w.Code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, w.Code, w.Body, want)
		}
		return w.Body.Bytes()
	}
	call(200, "POST", "/api/polls/"+open+"/queue?token=v0", "") // let in at once
	full.Store(true)
	var place Place
	if err := json.Unmarshal(call(200, "POST", "/api/polls/"+open+"/queue?token=v1", ""), &place); err != nil || place.Ticket == "" {
		t.Fatalf("no ticket: %+v %v", place, err)
	}
	call(200, "POST", "/api/polls/"+draft+"/queue?token=v2", "") // early: placed at the opening
	call(401, "POST", "/api/polls/"+open+"/queue", "")
	call(404, "POST", "/api/polls/abcdefghij/queue?token=v1", "")
	call(200, "GET", "/api/queue", "")

	vote := func(id string) string {
		return fmt.Sprintf(`{"ticket":%q,"vote":{"type":"vote","id":%q,"option":1}}`, place.Ticket, id)
	}
	path := "/api/polls/" + open + "/queue/vote?token=v1"
	call(200, "POST", path, vote("k1"))
	call(400, "POST", path, `{"ticket":"t","vote":{"type":"vote","id":"k1"}}`)
	call(400, "POST", path, "xxxx")
	call(413, "POST", path, strings.Repeat(" ", maxBody+1))
	call(401, "POST", "/api/polls/"+open+"/queue/vote", vote("k1"))
	call(403, "POST", "/api/polls/"+open+"/queue/vote?token=v2", vote("k1"))
	call(404, "POST", "/api/polls/abcdefghij/queue/vote?token=v1", vote("k1"))
	for i := 0; do("POST", path, vote("k1")).Code != http.StatusTooManyRequests; i++ { // 5 a second, burst 20
		if i > 100 {
			t.Fatal("votes from one place are not limited")
		}
	}
	opts.Vote = nil
	h = apispec.Check(t, Handler(opts))
	call(503, "POST", path, vote("k1"))
}
