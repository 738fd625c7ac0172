package parts

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// A profile taken between start and stop attributes a labelled
// goroutine's CPU to its part, and a second start or a stop without a
// start is refused with a clear message.
func TestCPUProfileBetweenStartAndStop(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	post := func(path string) (int, []byte) {
		t.Helper()
		res, err := http.Post(srv.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, b.Bytes()
	}
	if code, body := post("/debug/votecast/cpu/stop"); code != http.StatusConflict || !bytes.Contains(body, []byte("no CPU profile is running")) {
		t.Fatalf("stop without start: %d %s", code, body)
	}
	if code, body := post("/debug/votecast/cpu/start"); code != http.StatusNoContent {
		t.Fatalf("start: %d %s", code, body)
	}
	if code, body := post("/debug/votecast/cpu/start"); code != http.StatusConflict || !bytes.Contains(body, []byte("already running")) {
		t.Fatalf("second start: %d %s", code, body)
	}
	// Burn CPU in a labelled goroutine until the profile has samples of it.
	var raw []byte
	for deadline := time.Now().Add(10 * time.Second); ; {
		Do(Fold, func() {
			for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
			}
		})
		code, body := post("/debug/votecast/cpu/stop")
		if code != http.StatusOK {
			t.Fatalf("stop: %d %s", code, body)
		}
		if samples(t, body, Fold) > 0 || time.Now().After(deadline) {
			raw = body
			break
		}
		post("/debug/votecast/cpu/start")
	}
	if samples(t, raw, Fold) == 0 {
		t.Fatal("no CPU sample labelled fold in the profile")
	}
}

func samples(t *testing.T, raw []byte, part string) int {
	t.Helper()
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range p.Sample {
		if l := s.Label[Label]; len(l) == 1 && l[0] == part {
			n++
		}
	}
	return n
}
