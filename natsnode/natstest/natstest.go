// Package natstest runs the real nats-server, embedded, for tests: one
// call gives a test a connection, JetStream and the polls bucket, on a
// temporary directory, all stopped when the test ends.
package natstest

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/natsnode"
)

// Env is a running server with votecast's streams and bucket.
type Env struct {
	NC *nats.Conn
	JS jetstream.JetStream
	KV jetstream.KeyValue
}

// Start starts a server with the given fsync policy ("" is "always").
func Start(tb testing.TB, sync string, jsOpts ...jetstream.JetStreamOpt) Env {
	tb.Helper()
	node, err := natsnode.Start(natsnode.Options{Dir: tb.TempDir(), Sync: sync})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { node.Shutdown(context.Background()) })
	nc, err := node.Connect("test")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jsOpts...)
	if err != nil {
		tb.Fatal(err)
	}
	kv, err := natsnode.Ensure(context.Background(), js, natsnode.StreamOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return Env{NC: nc, JS: js, KV: kv}
}
