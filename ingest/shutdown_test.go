package ingest

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/votecast/votecast/schema"
)

// TestViewerLetInDuringShutdownIsToldToGo: a viewer whose upgrade
// finishes after GoingAway took its list of viewers is closed with 1001
// at once, like the others, rather than left open until Stop cuts it off.
func TestViewerLetInDuringShutdownIsToldToGo(t *testing.T) {
	s, p, _ := newTestServer(t, schema.PollSpec{Question: "q", Options: []string{"a", "b"}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.GoingAway()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws?poll="+p.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	// Within 3s: well before the 6s Stop would wait before cutting it.
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	for {
		_, _, err := c.Read(rctx)
		if err == nil {
			continue // the hello frame
		}
		if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
			t.Fatalf("read: %v (status %d), want a close with 1001", err, code)
		}
		return
	}
}
