// Package natsnode runs an embedded nats-server with JetStream for the
// single-binary mode, and declares the streams and bucket votecast needs on
// any NATS (embedded or a cluster).
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
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configures an embedded server.
type Options struct {
	// Dir is where JetStream keeps its files. Required.
	Dir string
	// Listen is the client address; zero value: 127.0.0.1 on a free port,
	// so tools such as the nats CLI can reach it and nothing else can.
	Listen string
	// Sync is JetStream's fsync policy. Zero value or "always": fsync every
	// write before the PubAck. A duration ("2m", "100ms") syncs on that
	// interval instead, as nats-server does by default.
	Sync string
	// Logger receives the server's warnings and errors; zero value: discard.
	Logger *slog.Logger
}

// Node is a running embedded server.
type Node struct {
	srv *server.Server
}

// Start starts the server and waits until it is ready for connections.
func Start(opts Options) (*Node, error) {
	if opts.Dir == "" {
		return nil, errors.New("start embedded nats: no directory")
	}
	host, port := "127.0.0.1", -1
	if opts.Listen != "" {
		h, p, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: listen address %q: %w", opts.Listen, err)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("start embedded nats: listen port %q: %w", p, err)
		}
		host = h
	}
	so := &server.Options{
		ServerName: "votecast",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.Dir,
		NoSigs:     true,
		MaxPayload: 64 * 1024,
	}
	if err := applySync(so, opts.Sync); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	if opts.Logger != nil {
		srv.SetLoggerV2(slogAdapter{opts.Logger}, false, false, false)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("start embedded nats: not ready after 30s")
	}
	return &Node{srv: srv}, nil
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

// ClientURL is the address clients outside this process use.
func (n *Node) ClientURL() string { return n.srv.ClientURL() }

// Connect opens an in-process client connection (no TCP): the roles still
// talk only through NATS subjects, exactly as they would across machines.
func (n *Node) Connect(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := append([]nats.Option{nats.Name(name), nats.InProcessServer(n.srv), nats.MaxReconnects(-1)}, extra...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s to embedded nats: %w", name, err)
	}
	return nc, nil
}

// Shutdown stops the server after its JetStream state is on disk.
func (n *Node) Shutdown(ctx context.Context) {
	if n == nil || n.srv == nil {
		return
	}
	n.srv.Shutdown()
	done := make(chan struct{})
	go func() { n.srv.WaitForShutdown(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	n.srv = nil
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
