package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/votecast/votecast/identity"
	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/natsnode/natstest"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/store/embedded"
	"github.com/votecast/votecast/tally"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testToken  = "node-test-admin-token"
	testSecret = "node-test-viewer-secret-0123456789"
	wait       = 20 * time.Second
)

func testIdentity(t *testing.T) *identity.Verifier {
	t.Helper()
	ids, err := identity.New(identity.Options{ViewerSecret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// storeIn opens the embedded store in dir, as serve does.
func storeIn(dir string) func(context.Context) (tally.Store, error) {
	return func(context.Context) (tally.Store, error) { return embedded.Open(embedded.Options{Dir: dir}) }
}

// openNode opens a node on env with its own store directory; tweak sets
// roles and the rest.
func openNode(t *testing.T, env natstest.Env, tweak func(*Options)) (*Node, error) {
	t.Helper()
	opts := Options{
		NC: env.NC, JS: env.JS, NodeID: "node-a", AdminToken: testToken, Identity: testIdentity(t),
		OpenStore: storeIn(t.TempDir()), Shards: 2, TotalsInterval: 10 * time.Millisecond, CloseGrace: time.Millisecond,
	}
	if tweak != nil {
		tweak(&opts)
	}
	return Open(context.Background(), opts)
}

func TestOptionsAreChecked(t *testing.T) {
	env := natstest.Start(t, "")
	tests := []struct {
		name  string
		tweak func(*Options)
		want  string
	}{
		{"no connection", func(o *Options) { o.NC = nil }, "a NATS connection is required"},
		{"viewers without identity", func(o *Options) { o.Roles, o.Identity = Broadcast, nil }, "roles broadcast serve viewers and need Identity"},
		{"tally without a store", func(o *Options) { o.Roles, o.OpenStore = Tally, nil }, "the tally role needs OpenStore"},
		{"a role that does not exist", func(o *Options) { o.Roles = 1 << 6 }, "unknown roles"},
		{"an API without a real token", func(o *Options) { o.Roles, o.AdminToken = Ingest, "short" }, "at least 16 characters"},
		{"a store that does not open", func(o *Options) {
			o.Roles = Tally
			o.OpenStore = func(context.Context) (tally.Store, error) { return nil, errors.New("disk on fire") }
		}, "tally role: open the store: disk on fire"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := openNode(t, env, tc.tweak)
			if err == nil {
				n.Close(context.Background())
				t.Fatalf("opened, want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
}

// A start that fails after the tally began folding stops it again and
// leaves nothing running (goleak checks at the end), and the same node
// opens at once afterwards: nothing it took was left held.
func TestFailedOpenLeavesNothingRunning(t *testing.T) {
	env := natstest.Start(t, "")
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name  string
		tweak func(*Options)
		want  string
	}{
		{"bad partner origin, found after the tally started", func(o *Options) { o.AllowOrigins = []string{"ftp://partner"} }, "allowed origin"},
		{"port taken", func(o *Options) { o.HTTPAddr = taken.Addr().String() }, "listen on " + taken.Addr().String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := openNode(t, env, func(o *Options) { o.OpenStore = storeIn(dir); tc.tweak(o) })
			if err == nil {
				n.Close(context.Background())
				t.Fatalf("opened, want an error with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q", err, tc.want)
			}
		})
	}
	n, err := openNode(t, env, func(o *Options) { o.OpenStore = storeIn(dir) })
	if err != nil {
		t.Fatalf("open after the failed starts (store or lease left held?): %v", err)
	}
	defer n.Close(context.Background())
	await.For(t, wait, func() string { return errText(n.Ready(context.Background())) })
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Close stops in order and waits: the vote in the log is counted in the
// store, the viewer's socket is closed as going away, and Closes at the
// same time or after wait for the first and give its answer.
func TestCloseStopsInOrderAndTwice(t *testing.T) {
	env := natstest.Start(t, "")
	dir := t.TempDir()
	n, err := openNode(t, env, func(o *Options) { o.OpenStore = storeIn(dir) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(n.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr %q, want 127.0.0.1:<port> (the zero HTTPAddr)", n.Addr())
	}
	poll := createOpenPoll(t, n.Addr())
	c := dialViewer(t, n.Addr(), poll, "u1")
	ack := voteOn(t, c, "k1", 1)
	if ack["status"] != schema.StatusAccepted {
		t.Fatalf("vote: %v", ack)
	}
	// Folded before Close, so the final flush must hold it: an accepted
	// vote not yet folded would stay in the log for the next start.
	await.For(t, wait, func() string {
		resp, err := http.Get("http://" + n.Addr() + "/api/polls/" + poll + "/results")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var tot schema.Totals
		_ = json.NewDecoder(resp.Body).Decode(&tot)
		if !slices.Equal(tot.Counts, []int64{0, 1}) {
			return fmt.Sprintf("results %v, want [0 1]", tot.Counts)
		}
		return ""
	})
	// The socket is read until the server closes it.
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				closed <- err
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// Two at once (a signal and a test cleanup, say), then one more.
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- n.Close(ctx) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("close: %v", err)
		}
	}
	if err := n.Close(ctx); err != nil {
		t.Fatalf("third close: %v", err)
	}
	select {
	case err := <-closed:
		if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
			t.Fatalf("socket closed with %v (%v), want going away", code, err)
		}
	case <-time.After(wait):
		t.Fatal("the viewer's socket is still open after Close")
	}
	if _, err := http.Get("http://" + n.Addr() + "/livez"); err == nil {
		t.Fatal("still serving HTTP after Close")
	}
	// The store was closed after the final flush: open it again and read.
	st, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen the store (was it closed?): %v", err)
	}
	defer st.Close()
	hs, err := st.Headers(context.Background(), poll)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int64, 2)
	for _, h := range hs {
		for i, c := range h.Counts {
			got[i] += c
		}
	}
	if !slices.Equal(got, []int64{0, 1}) {
		t.Fatalf("stored totals %v, want [0 1]", got)
	}
}

// createOpenPoll makes a two-option poll through the node's API and opens it.
func createOpenPoll(t *testing.T, addr string) string {
	t.Helper()
	var p schema.Poll
	if code := apiCall(t, addr, "POST", "/api/polls", `{"question":"q","options":["a","b"]}`, &p); code != http.StatusCreated {
		t.Fatalf("create poll: %d", code)
	}
	if code := apiCall(t, addr, "POST", "/api/polls/"+p.ID+"/open", "", &p); code != http.StatusOK {
		t.Fatalf("open poll: %d", code)
	}
	return p.ID
}

func apiCall(t *testing.T, addr, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v (%s)", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func dialViewer(t *testing.T, addr, poll, user string) *websocket.Conn {
	t.Helper()
	tok, err := identity.Mint([]byte(testSecret), user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws?poll="+poll+"&token="+tok, nil)
	if err != nil {
		t.Fatalf("dial as %s: %v", user, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// voteOn sends a vote and returns its ack, skipping other frames.
func voteOn(t *testing.T, c *websocket.Conn, id string, option int) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"vote","id":%q,"option":%d,"count":1}`, id, option)); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the ack of %s: %v", id, err)
		}
		var f map[string]any
		if json.Unmarshal(b, &f) == nil && f["type"] == "ack" && f["id"] == id {
			return f
		}
	}
}

func TestParseRoles(t *testing.T) {
	tests := []struct {
		in      string
		want    Roles
		wantErr string
	}{
		{"ingest,broadcast,tally", AllRoles, ""},
		{"tally", Tally, ""},
		{" broadcast , ingest ", Ingest | Broadcast, ""},
		{"tally,tally", Tally, ""},
		{"", 0, "no roles given"},
		{"  ", 0, "no roles given"},
		{"ingest,,tally", 0, "empty role name"},
		{"ingest,", 0, "empty role name"},
		{"ingest,count", 0, `unknown role "count"`},
		{"Tally", 0, `unknown role "Tally"`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRoles(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseRoles(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRoles(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if back, err := ParseRoles(got.String()); err != nil || back != got {
				t.Fatalf("%v does not read back from %q: %v, %v", got, got.String(), back, err)
			}
		})
	}
}
