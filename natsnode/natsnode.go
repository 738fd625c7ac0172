// Package natsnode runs an embedded nats-server with JetStream for the
// single-binary mode, and declares the streams and bucket votecast needs on
// any NATS (embedded or a cluster).
//
// The embedded server has no TCP listener unless asked for one, and with
// one it admits only clients that sign with its nkey credentials, so no
// other local process can write votes, polls or snapshots.
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
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
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
}

// ErrInUse means another server (in this process or another) runs on the
// directory.
var ErrInUse = errors.New("embedded nats directory in use by a running server")

// Node is a running embedded server.
type Node struct {
	srv    *server.Server
	creds  *Credentials
	unlock func()
}

// Start starts the server and waits until it is ready for connections.
func Start(opts Options) (*Node, error) {
	if opts.Dir == "" {
		return nil, errors.New("start embedded nats: no directory")
	}
	if opts.Listen != "" && opts.CredentialsFile == "" {
		return nil, errors.New("start embedded nats: a listener needs credentials")
	}
	so := &server.Options{
		ServerName: "votecast",
		DontListen: opts.Listen == "",
		JetStream:  true,
		StoreDir:   opts.Dir,
		NoSigs:     true,
		MaxPayload: 64 * 1024,
	}
	if opts.Listen != "" {
		h, p, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: listen address %q: %w", opts.Listen, err)
		}
		if so.Port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("start embedded nats: listen port %q: %w", p, err)
		}
		so.Host = h
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
	n := &Node{unlock: unlock}
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
		n.srv.SetLoggerV2(slogAdapter{opts.Logger}, false, false, false)
	}
	go n.srv.Start()
	if !n.srv.ReadyForConnections(30 * time.Second) {
		n.srv.Shutdown()
		unlock()
		return nil, errors.New("start embedded nats: not ready after 30s")
	}
	return n, nil
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

// Credentials are what clients must sign with; nil without authentication.
func (n *Node) Credentials() *Credentials { return n.creds }

// Connect opens an in-process client connection (no TCP): the roles still
// talk only through NATS subjects, exactly as they would across machines.
// It signs with the node's credentials, as any client must.
func (n *Node) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.InProcessServer(n.srv), nats.MaxReconnects(-1)}
	if n.creds != nil {
		opts = append(opts, n.creds.Option())
	}
	nc, err := nats.Connect("", append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect %s to embedded nats: %w", name, err)
	}
	return nc, nil
}

// Shutdown stops the server after its JetStream state is on disk. The
// directory stays locked until the server has really stopped, even when
// ctx ends first.
func (n *Node) Shutdown(ctx context.Context) {
	if n == nil || n.srv == nil {
		return
	}
	srv, unlock := n.srv, n.unlock
	n.srv = nil
	srv.Shutdown()
	done := make(chan struct{})
	go func() { srv.WaitForShutdown(); unlock(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(string, ...any) {}
func (a slogAdapter) Debugf(string, ...any)  {}
func (a slogAdapter) Tracef(string, ...any)  {}
func (a slogAdapter) Warnf(f string, v ...any) {
	a.l.Warn(fmt.Sprintf(f, v...), "component", "nats")
}
func (a slogAdapter) Errorf(f string, v ...any) {
	a.l.Error(fmt.Sprintf(f, v...), "component", "nats")
}
func (a slogAdapter) Fatalf(f string, v ...any) {
	a.l.Error(fmt.Sprintf(f, v...), "component", "nats", "fatal", true)
}
