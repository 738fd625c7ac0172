package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/natsnode"
)

// natsConfig says where NATS is: a URL, or an embedded server on the data
// directory.
type natsConfig struct {
	url    string
	dir    string
	listen string
	sync   string
}

// natsLink is a connection and, in embedded mode, the server behind it.
type natsLink struct {
	node *natsnode.Node
	nc   *nats.Conn
	js   jetstream.JetStream
}

func (c natsConfig) urlFile() string { return filepath.Join(c.dir, "nats.url") }

// dial connects to NATS, starting the embedded server when no URL is set.
func (c natsConfig) dial(name string, log *slog.Logger, jsOpts ...jetstream.JetStreamOpt) (*natsLink, error) {
	l := &natsLink{}
	var err error
	if c.url != "" {
		l.nc, err = nats.Connect(c.url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
		if err != nil {
			return nil, fmt.Errorf("connect to nats at %s: %w", c.url, err)
		}
	} else {
		l.node, err = natsnode.Start(natsnode.Options{Dir: filepath.Join(c.dir, "nats"), Listen: c.listen, Sync: c.sync, Logger: log})
		if err != nil {
			return nil, err
		}
		if l.nc, err = l.node.Connect(name); err != nil {
			l.node.Shutdown(context.Background())
			return nil, err
		}
		// Tools (recount, the nats CLI) find a running server here.
		_ = os.WriteFile(c.urlFile(), []byte(l.node.ClientURL()+"\n"), 0o600)
	}
	if l.js, err = jetstream.New(l.nc, jsOpts...); err != nil {
		l.close(context.Background())
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return l, nil
}

// runningURL returns the URL a running embedded server left in dir, if it
// still answers.
func runningURL(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "nats.url"))
	if err != nil {
		return ""
	}
	u := strings.TrimSpace(string(b))
	nc, err := nats.Connect(u, nats.Timeout(time.Second), nats.MaxReconnects(0))
	if err != nil {
		return ""
	}
	nc.Close()
	return u
}

func (l *natsLink) close(ctx context.Context) {
	if l.nc != nil {
		_ = l.nc.FlushWithContext(ctx) // the roles have stopped: send what they left
		l.nc.Close()
	}
	if l.node != nil {
		l.node.Shutdown(ctx)
	}
}
