package waitroom

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/votecast/votecast/schema"
)

// One address joins at most a burst of 1,000 and then 200 a second;
// another address is not held back by it.
func TestJoinsPerAddressAreLimited(t *testing.T) {
	h := Handler(HTTPOptions{Poll: func(string) (schema.Poll, bool) { return schema.Poll{}, false }})
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
