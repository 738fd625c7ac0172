package natsnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/internal/await"
	"github.com/votecast/votecast/internal/loopback"
	"github.com/votecast/votecast/schema"
)

// The cluster's password has characters a URL escapes, so the log check
// below looks for it as written and as a route URL would carry it.
const (
	clusterUser     = "votecast"
	clusterPassword = "s3cret/pa@ss:word"
	wrongPassword   = "wrong-0f-the/w@y"
)

// clusterWait bounds every wait on the cluster: elections on 2 busy cores
// under the race detector take seconds, not minutes.
const clusterWait = 30 * time.Second

// logSink collects every line the nodes log, from any goroutine.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *logSink) logger(node string) *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", node)
}

// freeAddr is a loopback address nothing listens on: route addresses are
// known before the nodes start, as an operator writes them.
func freeAddr(t testing.TB) string {
	t.Helper()
	return loopback.FreeAddr(t)
}

// cluster is three nodes on loopback, each with its own directory.
type cluster struct {
	t     testing.TB
	opts  []Options
	nodes []*Node
	logs  *logSink
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	c := &cluster{t: t, logs: &logSink{}}
	var routes []string
	for range 3 {
		routes = append(routes, freeAddr(t))
	}
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		c.opts = append(c.opts, Options{
			Dir: filepath.Join(t.TempDir(), name), Name: name, Listen: "127.0.0.1:-1",
			Cluster: routes[i], Routes: routes, // every node the same list, its own included
			User: clusterUser, Password: clusterPassword,
			Logger: c.logs.logger(name), LogNotices: true,
		})
	}
	c.nodes = make([]*Node, 3)
	for i := range 3 {
		c.start(i)
	}
	c.awaitMetaLeader()
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.Shutdown(context.Background())
		}
	})
	return c
}

func (c *cluster) start(i int) {
	c.t.Helper()
	n, err := Start(c.opts[i])
	if err != nil {
		c.t.Fatalf("start %s: %v", c.opts[i].Name, err)
	}
	c.nodes[i] = n
}

// up is the running nodes.
func (c *cluster) up() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if n != nil && n.srv != nil {
			out = append(out, n)
		}
	}
	return out
}

// awaitMetaLeader waits until every running node knows the same meta
// leader and that leader has taken office (it answers API calls only
// then; the election is known a little earlier).
func (c *cluster) awaitMetaLeader() {
	c.t.Helper()
	await.For(c.t, clusterWait, func() string {
		known := map[string]string{}
		leaders := map[string]bool{}
		for _, n := range c.up() {
			known[n.Name()] = n.MetaLeader()
			leaders[n.MetaLeader()] = true
			if n.srv.JetStreamIsLeader() && n.MetaLeader() == n.Name() {
				leaders["in office"] = true
			}
		}
		if len(leaders) != 2 || leaders[""] || !leaders["in office"] {
			return fmt.Sprintf("no meta leader in office agreed on: %v", known)
		}
		return ""
	})
}

// client connects over TCP with the cluster's user and password.
func (c *cluster) client(i int) (*nats.Conn, jetstream.JetStream) {
	c.t.Helper()
	nc, err := nats.Connect(c.nodes[i].ClientURL(), nats.UserInfo(clusterUser, clusterPassword), nats.MaxReconnects(-1))
	if err != nil {
		c.t.Fatalf("connect to %s: %v", c.opts[i].Name, err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	return nc, js
}

// replicasCurrent says what keeps stream from having want replicas, all
// of them current: "" when nothing does.
func replicasCurrent(ctx context.Context, js jetstream.JetStream, stream string, want int, lastSeq uint64) string {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Sprintf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	switch {
	case err != nil:
		return fmt.Sprintf("stream %s info: %v", stream, err)
	case info.Config.Replicas != want:
		return fmt.Sprintf("stream %s: %d replicas configured, want %d", stream, info.Config.Replicas, want)
	case info.Cluster == nil || info.Cluster.Leader == "":
		return fmt.Sprintf("stream %s: no leader", stream)
	case len(info.Cluster.Replicas) != want-1:
		return fmt.Sprintf("stream %s: leader %s and %d peers, want %d", stream, info.Cluster.Leader, len(info.Cluster.Replicas), want-1)
	case info.State.LastSeq != lastSeq:
		return fmt.Sprintf("stream %s: last sequence %d, want %d", stream, info.State.LastSeq, lastSeq)
	}
	for _, p := range info.Cluster.Replicas {
		if !p.Current || p.Offline || p.Lag != 0 || p.Pending {
			return fmt.Sprintf("stream %s: peer %s current=%v offline=%v lag=%d pending=%v", stream, p.Name, p.Current, p.Offline, p.Lag, p.Pending)
		}
	}
	return ""
}

// publish sends one vote with a dedup id until the cluster acknowledges
// it: a resend with the same id is stored once, so retrying through an
// election is safe.
func publish(t *testing.T, js jetstream.JetStream, subject, id string) *jetstream.PubAck {
	t.Helper()
	var ack *jetstream.PubAck
	var last error
	if !await.Within(clusterWait, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ack, last = js.Publish(ctx, subject, []byte(id), jetstream.WithMsgID(id))
		return last == nil
	}) {
		t.Fatalf("publish %s: %v", id, last)
	}
	return ack
}

func TestClusterReplicatesAndSurvivesTheLossOfOneNode(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	_, js1 := c.client(0)
	_, js3 := c.client(2)

	// A stream made on one node with 1 replica, as serve did before
	// --replicas, is scaled to 3 in place by the next Ensure.
	if _, err := Ensure(ctx, js1, StreamOptions{Replicas: 1}); err != nil {
		t.Fatalf("ensure with 1 replica: %v", err)
	}
	publish(t, js1, "votes.p1.0", "p1:alice")
	if _, err := Ensure(ctx, js1, StreamOptions{Replicas: 3}); err != nil {
		t.Fatalf("ensure with 3 replicas: %v", err)
	}
	publish(t, js1, "votes.p1.0", "p1:bob")
	for _, stream := range []string{schema.VotesStream, schema.TallyStream, "KV_" + schema.PollsBucket, "KV_" + schema.OwnersBucket} {
		want := uint64(0)
		if stream == schema.VotesStream {
			want = 2
		}
		await.For(t, clusterWait, func() string { return replicasCurrent(ctx, js3, stream, 3, want) })
	}

	// Read back through another node: both votes, once each.
	votes, err := js3.Stream(ctx, schema.VotesStream)
	if err != nil {
		t.Fatal(err)
	}
	for seq, want := range map[uint64]string{1: "p1:alice", 2: "p1:bob"} {
		m, err := votes.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get %d through n3: %v", seq, err)
		}
		if string(m.Data) != want {
			t.Errorf("message %d through n3 = %q, want %q", seq, m.Data, want)
		}
	}
	if ack := publish(t, js3, "votes.p1.0", "p1:alice"); !ack.Duplicate {
		t.Errorf("a resend of p1:alice through n3 was stored again (seq %d)", ack.Sequence)
	}

	// Stop the stream's leader, the node whose loss matters most: the
	// other two are a quorum and go on taking writes.
	info, err := votes.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	down := slices.IndexFunc(c.opts, func(o Options) bool { return o.Name == info.Cluster.Leader })
	if down < 0 {
		t.Fatalf("leader %q is none of the nodes", info.Cluster.Leader)
	}
	other := (down + 1) % 3
	_, jsOther := c.client(other)
	c.nodes[down].Shutdown(context.Background())
	for i := range 5 {
		publish(t, jsOther, "votes.p1.1", fmt.Sprintf("p1:during-%d", i))
	}
	await.For(t, clusterWait, func() string {
		s, err := jsOther.Stream(ctx, schema.VotesStream)
		if err != nil {
			return err.Error()
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err.Error()
		}
		if info.State.Msgs != 7 {
			return fmt.Sprintf("%d messages with %s down, want 7", info.State.Msgs, c.opts[down].Name)
		}
		return ""
	})

	// Back on its directory, it catches up: three current replicas again,
	// and it serves the writes it missed.
	c.start(down)
	c.awaitMetaLeader()
	await.For(t, clusterWait, func() string { return replicasCurrent(ctx, jsOther, schema.VotesStream, 3, 7) })
	if !c.nodes[down].srv.JetStreamIsStreamCurrent("$G", schema.VotesStream) {
		t.Errorf("%s says its copy of %s is not current", c.opts[down].Name, schema.VotesStream)
	}
}

func TestClusterClientsNeedThePassword(t *testing.T) {
	c := startCluster(t)
	tests := []struct {
		name string
		opts []nats.Option
		ok   bool
	}{
		{"anonymous", nil, false},
		{"no password", []nats.Option{nats.UserInfo(clusterUser, "")}, false},
		{"wrong password", []nats.Option{nats.UserInfo(clusterUser, wrongPassword)}, false},
		{"a token", []nats.Option{nats.Token(clusterPassword)}, false},
		{"the user and password", []nats.Option{nats.UserInfo(clusterUser, clusterPassword)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, n := range c.nodes {
				nc, err := nats.Connect(n.ClientURL(), append(tc.opts, nats.MaxReconnects(0))...)
				if !tc.ok {
					if err == nil {
						nc.Close()
						t.Fatalf("n%d let the client in", i+1)
					}
					if !errors.Is(err, nats.ErrAuthorization) {
						t.Fatalf("n%d refused with %v, want an authorization violation", i+1, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("n%d: %v", i+1, err)
				}
				usable(t, nc)
				nc.Close()
			}
		})
	}
	nc, err := c.nodes[0].Connect("in-process")
	if err != nil {
		t.Fatalf("in-process connection with the node's own user: %v", err)
	}
	usable(t, nc)
	nc.Close()
}

// TestClusterRefusesARouteWithTheWrongPassword: a node that knows the
// cluster's addresses but not its password never joins, and nothing any
// node logs, the intruder's included, carries a password.
func TestClusterRefusesARouteWithTheWrongPassword(t *testing.T) {
	c := startCluster(t)
	intruderLogs := &logSink{}
	intruder, err := Start(Options{
		Dir: t.TempDir(), Name: "intruder", Listen: "127.0.0.1:-1",
		Cluster: "127.0.0.1:-1", Routes: c.opts[0].Routes,
		User: clusterUser, Password: wrongPassword,
		Logger: intruderLogs.logger("intruder"), LogNotices: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { intruder.Shutdown(context.Background()) })

	// The refusal itself, seen by a member, is the sign the intruder tried.
	await.Until(t, clusterWait, "a member logs the intruder's refused route", func() bool {
		return strings.Contains(c.logs.String(), "Router connection closed: Authentication Failure")
	})
	await.Until(t, clusterWait, "the intruder logs its refusal", func() bool {
		return strings.Contains(intruderLogs.String(), "Authorization Violation")
	})
	if l := intruder.MetaLeader(); l != "" {
		t.Errorf("the intruder knows a meta leader: %s", l)
	}
	for i, n := range c.nodes {
		rz, err := n.srv.Routez(&server.RoutezOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var remotes []string
		for _, r := range rz.Routes {
			remotes = append(remotes, r.RemoteName)
		}
		if slices.Contains(remotes, "intruder") || len(remotes) == 0 {
			t.Errorf("n%d routes to %v, want its two peers and never the intruder", i+1, remotes)
		}
	}
	// Only the meta leader answers, and only with peers it has heard from.
	await.For(t, clusterWait, func() string {
		for _, n := range c.nodes {
			if peers := n.srv.JetStreamClusterPeers(); peers != nil {
				slices.Sort(peers)
				if !slices.Equal(peers, []string{"n1", "n2", "n3"}) {
					return fmt.Sprintf("the meta leader %s counts %v among JetStream's peers, want the three members", n.Name(), peers)
				}
				return ""
			}
		}
		return "no meta leader lists the peers"
	})

	for name, logs := range map[string]string{"members": c.logs.String(), "intruder": intruderLogs.String()} {
		if logs == "" {
			t.Errorf("the %s logged nothing: the check below would prove nothing", name)
		}
		for _, secret := range []string{clusterPassword, wrongPassword, url.UserPassword("u", clusterPassword).String(), url.UserPassword("u", wrongPassword).String()} {
			secret = strings.TrimPrefix(secret, "u:")
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, secret) {
					t.Errorf("the %s logged a password (%q): %s", name, secret, line)
				}
			}
		}
	}
}

func TestEnsureMoreReplicasThanOneServerHolds(t *testing.T) {
	n := start(t, Options{Dir: t.TempDir()})
	nc, err := n.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		replicas int
		want     string // in the error; "" for none
	}{
		{0, ""},
		{1, ""},
		{3, "3 replicas need a JetStream cluster, and this NATS is a single server"},
		{-1, "JetStream keeps 1 to 5"},
		{6, "JetStream keeps 1 to 5"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.replicas), func(t *testing.T) {
			_, err := Ensure(context.Background(), js, StreamOptions{Replicas: tc.replicas})
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Ensure with %d replicas: %v, want an error saying %q", tc.replicas, err, tc.want)
			}
		})
	}
}

func TestClusterOptionsRefused(t *testing.T) {
	const pw = "a-password-not-to-show"
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"cluster without credentials", Options{Cluster: "127.0.0.1:-1"}, "needs a user and password"},
		{"cluster with an nkey only", Options{Cluster: "127.0.0.1:-1", CredentialsFile: "x.nkey"}, "needs a user and password"},
		{"user without password", Options{User: "u", Cluster: "127.0.0.1:-1"}, "a user needs a password"},
		{"password without user", Options{Password: pw}, "a user needs a password"},
		{"user and nkey", Options{User: "u", Password: pw, CredentialsFile: "x.nkey"}, "not both"},
		{"routes without a cluster address", Options{User: "u", Password: pw, Routes: []string{"127.0.0.1:6222"}}, "routes need a cluster address"},
		{"route with user info", Options{User: "u", Password: pw, Cluster: "127.0.0.1:-1", Routes: []string{"127.0.0.1:1", "nats://u:" + pw + "@127.0.0.1:2"}}, "route 2 of the list carries user info"},
		{"route with user info that is no URL", Options{User: "u", Password: pw, Cluster: "127.0.0.1:-1", Routes: []string{"nats://u:" + pw + "/x@127.0.0.1:1"}}, "route 1 of the list carries user info"},
		{"route that is no URL", Options{User: "u", Password: pw, Cluster: "127.0.0.1:-1", Routes: []string{"nats://[::1"}}, "route 1 of the list is not"},
		{"bcrypt-looking password", Options{User: "u", Password: "$2a$11$" + pw, Cluster: "127.0.0.1:-1"}, "bcrypt"},
		{"name with a space", Options{Name: "n 1", User: "u", Password: pw, Cluster: "127.0.0.1:-1"}, "no spaces"},
		{"cluster address without a port", Options{User: "u", Password: pw, Cluster: "127.0.0.1"}, "cluster address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Dir = t.TempDir()
			n, err := Start(tc.opts)
			if err == nil {
				n.Shutdown(context.Background())
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
