// Package natsnode runs an embedded nats-server with JetStream for the
// single-binary mode, and declares the streams and bucket votecast needs on
// any NATS (embedded or a cluster).
//
// The embedded server has no TCP listener unless asked for one, and with
// one it admits only clients that sign with its nkey credentials, so no
// other local process can write votes, polls or snapshots.
//
// The same server runs as one node of a JetStream cluster (votecast nats)
// when given a route address: then a user and password, which clients and
// routes both present, replace the nkey, because every node must dial its
// peers with a secret it holds (an nkey seed per node would have to be
// shared anyway, and nats-server routes take only a user and password).
//
// Concurrency: Start returns a running Node; Shutdown stops it and waits,
// and is safe to call twice. Ensure is a one-shot call.
package natsnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/votecast/votecast/internal/parts"
)

// Options configures an embedded server.
type Options struct {
	// Dir is where JetStream keeps its files. Required. Start locks it:
	// one server per directory.
	Dir string
	// Listen is a TCP client address ("host:port", port -1: a free one),
	// for tools such as the nats CLI or a second node. Zero value: no
	// listener at all; only this process reaches the server (Connect).
	Listen string
	// CredentialsFile is the nkey seed every client must sign with,
	// Connect included; generated (mode 0600) on the first start and
	// reused after. Required with Listen. Zero value: no authentication,
	// which is allowed only without a listener.
	CredentialsFile string
	// Sync is JetStream's fsync policy. Zero value or "always": fsync every
	// write before the PubAck. A duration ("2m", "100ms") syncs on that
	// interval instead, as nats-server does by default.
	Sync string
	// Logger receives the server's warnings and errors; zero value: discard.
	Logger *slog.Logger
	// LogNotices also forwards the server's notices (start-up, routes,
	// leader elections) to Logger, at Info. Zero value: warnings and
	// errors only, which is all a single embedded server has to say.
	LogNotices bool

	// Name is this server's name. In a cluster every node needs its own:
	// JetStream knows its peers by name. Zero value: "votecast".
	Name string
	// Cluster is the route address ("host:port", port -1: a free one) the
	// other nodes of a JetStream cluster connect to. Requires User and
	// Password. Zero value: a single server, no routes.
	Cluster string
	// ClusterName is the name every node of one cluster shares. Zero
	// value: "votecast".
	ClusterName string
	// Routes are the route addresses of the cluster's nodes ("host:port"
	// or "nats://host:port"); this node's own may be among them, so every
	// node can be given the same list. They carry no user info: Start
	// adds User and Password. Requires Cluster. Zero value: no routes of
	// its own (other nodes may still route to this one).
	Routes []string
	// User and Password are what every client, Connect included, and in a
	// cluster every route, in both directions, must present. Both or
	// neither; exclusive with CredentialsFile. Zero value: the nkey of
	// CredentialsFile, or no authentication.
	User, Password string
}

// ErrInUse means another server (in this process or another) runs on the
// directory.
var ErrInUse = errors.New("embedded nats directory in use by a running server")

// Node is a running embedded server.
type Node struct {
	srv       *server.Server
	creds     *Credentials
	user      string
	password  string
	clustered bool
	unlock    func()
}

// Cluster nodes leave in lame duck mode: stream and meta leaders move to
// another node before this one stops, so writes go on without waiting
// for an election, and clients are told to reconnect elsewhere, spread
// over a few seconds rather than all at once.
const (
	lameDuckDuration = 3 * time.Second
	lameDuckGrace    = time.Second
)

// Start starts the server and waits until it is ready for connections.
func Start(opts Options) (*Node, error) {
	if opts.Dir == "" {
		return nil, errors.New("start embedded nats: no directory")
	}
	if err := checkAuth(opts); err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	name := opts.Name
	if name == "" {
		name = "votecast"
	}
	so := &server.Options{
		ServerName: name,
		DontListen: opts.Listen == "",
		JetStream:  true,
		StoreDir:   opts.Dir,
		NoSigs:     true,
		MaxPayload: 64 * 1024,
	}
	if opts.Listen != "" {
		var err error
		if so.Host, so.Port, err = hostPort(opts.Listen); err != nil {
			return nil, fmt.Errorf("start embedded nats: listen address: %w", err)
		}
	}
	if opts.User != "" {
		so.Username, so.Password = opts.User, opts.Password
	}
	if opts.Cluster != "" {
		if err := applyCluster(so, opts); err != nil {
			return nil, fmt.Errorf("start embedded nats: %w", err)
		}
	}
	if err := applySync(so, opts.Sync); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	unlock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	n := &Node{unlock: unlock, user: opts.User, password: opts.Password, clustered: opts.Cluster != ""}
	if opts.CredentialsFile != "" {
		// Created under the lock: a second server starting at the same
		// time cannot swap the seed under the first.
		if n.creds, err = LoadOrCreateCredentials(opts.CredentialsFile); err != nil {
			unlock()
			return nil, fmt.Errorf("start embedded nats: %w", err)
		}
		so.Nkeys = []*server.NkeyUser{{Nkey: n.creds.PublicKey()}}
	}
	if n.srv, err = server.NewServer(so); err != nil {
		unlock()
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	if opts.Logger != nil {
		n.srv.SetLoggerV2(slogAdapter{l: opts.Logger, notices: opts.LogNotices}, false, false, false)
	}
	go parts.Do(parts.NATSServer, n.srv.Start) // the server's goroutines inherit the label
	if !n.srv.ReadyForConnections(30 * time.Second) {
		n.srv.Shutdown()
		unlock()
		return nil, errors.New("start embedded nats: not ready after 30s")
	}
	return n, nil
}

// bcryptPrefix is what nats-server takes for a bcrypt hash in a
// configured password (its own test): such a password would be compared
// as a hash, and the plain text a route dials with would never match.
var bcryptPrefix = regexp.MustCompile(`^\$2[abxy]\$\d{2}\$`)

func checkAuth(opts Options) error {
	switch {
	case (opts.User == "") != (opts.Password == ""):
		return errors.New("a user needs a password, and a password a user")
	case opts.User != "" && opts.CredentialsFile != "":
		return errors.New("give a user and password or a credentials file, not both")
	case opts.Listen != "" && opts.CredentialsFile == "" && opts.User == "":
		return errors.New("a listener needs credentials")
	case opts.Cluster != "" && opts.User == "":
		return errors.New("a cluster node needs a user and password: its clients and routes must present them")
	case len(opts.Routes) > 0 && opts.Cluster == "":
		return errors.New("routes need a cluster address of this node's own")
	case bcryptPrefix.MatchString(opts.Password):
		return errors.New("the password looks like a bcrypt hash, which nats-server would compare as one: choose another")
	case strings.ContainsAny(opts.Name, " \t\n"):
		return errors.New("a server name has no spaces")
	}
	return nil
}

func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("%q: port %q: %w", addr, p, err)
	}
	return h, port, nil
}

// applyCluster makes the server a node of a JetStream cluster whose routes
// authenticate with the client user and password, both ways: this node
// requires them of every route that connects and presents them on every
// route it dials.
func applyCluster(so *server.Options, opts Options) error {
	h, p, err := hostPort(opts.Cluster)
	if err != nil {
		return fmt.Errorf("cluster address: %w", err)
	}
	name := opts.ClusterName
	if name == "" {
		name = "votecast"
	}
	so.Cluster = server.ClusterOpts{
		Name: name, Host: h, Port: p,
		Username: opts.User, Password: opts.Password,
	}
	for i, r := range opts.Routes {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		// Before parsing: a password with a "/" would not parse as user
		// info, and no route address has an "@" otherwise.
		if strings.Contains(r, "@") {
			return fmt.Errorf("route %d of the list carries user info: give none, the node adds its user and password", i+1)
		}
		if !strings.Contains(r, "://") {
			r = "nats://" + r
		}
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			// Not quoted: a mistyped list may hold a secret.
			return fmt.Errorf("route %d of the list is not host:port or nats://host:port", i+1)
		}
		u.User = url.UserPassword(opts.User, opts.Password)
		so.Routes = append(so.Routes, u)
	}
	so.LameDuckDuration, so.LameDuckGracePeriod = lameDuckDuration, lameDuckGrace
	return nil
}

func applySync(so *server.Options, sync string) error {
	switch sync {
	case "", "always":
		so.SyncAlways = true
		so.SyncInterval = 2 * time.Minute // unused with SyncAlways, but must be set
		return nil
	}
	d, err := time.ParseDuration(sync)
	if err != nil || d <= 0 {
		return fmt.Errorf("start embedded nats: --js-sync %q: want \"always\" or a positive duration", sync)
	}
	so.SyncInterval = d
	return nil
}

// ClientURL is the address clients outside this process use; empty when
// the server has no listener.
func (n *Node) ClientURL() string {
	if n.srv.Addr() == nil {
		return ""
	}
	return n.srv.ClientURL()
}

// RouteURL is the address other cluster nodes route to (no user info);
// empty when the server is not a cluster node.
func (n *Node) RouteURL() string {
	a := n.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats://" + a.String()
}

// Name is the server's name, as JetStream's peers know it.
func (n *Node) Name() string { return n.srv.Name() }

// MetaLeader is the name of the JetStream cluster's meta leader as this
// node knows it: empty while there is none (the cluster has no quorum of
// nodes yet) and on a single server, which needs none.
func (n *Node) MetaLeader() string {
	info, err := n.srv.Jsz(&server.JSzOptions{})
	if err != nil || info.Meta == nil {
		return ""
	}
	return info.Meta.Leader
}

// Credentials are what clients must sign with; nil without authentication
// or with a user and password.
func (n *Node) Credentials() *Credentials { return n.creds }

// Connect opens an in-process client connection (no TCP): the roles still
// talk only through NATS subjects, exactly as they would across machines.
// It signs with the node's credentials, as any client must.
func (n *Node) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.InProcessServer(inProcess{n.srv}), nats.MaxReconnects(-1)}
	switch {
	case n.creds != nil:
		opts = append(opts, n.creds.Option())
	case n.user != "":
		opts = append(opts, nats.UserInfo(n.user, n.password))
	}
	var nc *nats.Conn
	var err error
	parts.Do(parts.NATSClient, func() { nc, err = nats.Connect("", append(opts, extra...)...) })
	if err != nil {
		return nil, fmt.Errorf("connect %s to embedded nats: %w", name, err)
	}
	return nc, nil
}

// inProcess opens in-process connections so that the server's goroutines
// for them carry its label in CPU profiles, not the client's.
type inProcess struct{ srv *server.Server }

func (p inProcess) InProcessConn() (c net.Conn, err error) {
	parts.Do(parts.NATSServer, func() { c, err = p.srv.InProcessConn() })
	return c, err
}

// Shutdown stops the server after its JetStream state is on disk. A
// cluster node with a client listener first hands its leaderships to
// other nodes and moves its clients away (lame duck mode, a few seconds);
// when ctx ends first it stops at once. The directory stays locked until
// the server has really stopped, even when ctx ends first.
func (n *Node) Shutdown(ctx context.Context) {
	if n == nil || n.srv == nil {
		return
	}
	srv, unlock := n.srv, n.unlock
	n.srv = nil
	done := make(chan struct{})
	go func() {
		if n.clustered && srv.Addr() != nil { // lame duck mode does nothing without a listener
			srv.LameDuckShutdown()
		}
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		srv.Shutdown()
	}
}

type slogAdapter struct {
	l       *slog.Logger
	notices bool
}

func (a slogAdapter) Noticef(f string, v ...any) {
	if a.notices {
		a.l.Info(fmt.Sprintf(f, v...), "component", "nats")
	}
}
func (a slogAdapter) Debugf(string, ...any) {}
func (a slogAdapter) Tracef(string, ...any) {}
func (a slogAdapter) Warnf(f string, v ...any) {
	a.l.Warn(fmt.Sprintf(f, v...), "component", "nats")
}
func (a slogAdapter) Errorf(f string, v ...any) {
	a.l.Error(fmt.Sprintf(f, v...), "component", "nats")
}
func (a slogAdapter) Fatalf(f string, v ...any) {
	a.l.Error(fmt.Sprintf(f, v...), "component", "nats", "fatal", true)
}
