// Package scylla is the tally.Store on ScyllaDB (or Apache Cassandra),
// through gocqlx and the shard-aware gocql driver.
//
// Data model (schema/cql): one partition per poll shard in ballots, so a
// shard loads with one partition scan and a flush writes each partition with
// single-partition unlogged batches; one partition per poll in
// shard_headers, so Headers reads a whole poll at once. There are no counter
// columns and no lightweight transactions: a shard has one owner, and every
// write is an idempotent overwrite that the driver may retry.
//
// Every write carries a timestamp made from a stream sequence: a ballot's
// USING TIMESTAMP is its last sequence, a shard header's and a shard
// index's checkpoint's (table tally_checkpoints, shared by every tally
// node) headerEpoch + its sequence. So the write with the highest sequence
// wins whatever order writes land in: a retry, a late write of a previous
// owner that was paused while its shards moved, or clocks that disagree
// between tally workers cannot move anything back. See flush.go.
//
// Migrate creates the keyspace and tables; Open never changes the schema.
//
// Concurrency: a Store is safe for concurrent use. Flush runs its batches
// on up to Options.MaxConcurrentFlushes goroutines and waits for them all
// before it returns. The driver's own goroutines (connection pools, event
// listeners) run from Open until Close.
package scylla

import (
	"context"
	"fmt"
	"sync"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/votecast/votecast/tally"
)

// Store is the ScyllaDB tally.Store.
type Store struct {
	session     gocqlx.Session
	concurrency int
	closeOnce   sync.Once
}

var _ tally.Store = (*Store)(nil)

// Open validates opts and connects to the cluster. The keyspace and its
// tables must exist already: run Migrate first.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open scylla store: %w", err)
	}
	session, err := connect(ctx, opts, opts.Keyspace)
	if err != nil {
		return nil, wrapErr(diagnose(ctx, opts, err), "open scylla store on %v, keyspace %s", opts.Hosts, opts.Keyspace)
	}
	return &Store{session: session, concurrency: opts.MaxConcurrentFlushes}, nil
}

// Close closes the connections; safe to call twice and concurrently.
func (s *Store) Close() error {
	s.closeOnce.Do(s.session.Close)
	return nil
}

// Ping runs a query that touches no table, on one node: it proves a
// connection works, not that a quorum of replicas is up (a write at the
// configured consistency would then fail with ErrStoreUnavailable).
func (s *Store) Ping(ctx context.Context) error {
	var now gocql.UUID
	err := s.session.ContextQuery(ctx, "SELECT now() FROM system.local", nil).
		Consistency(gocql.One).Idempotent(true).Scan(&now)
	if err != nil {
		return wrapErr(err, "ping scylla store")
	}
	return nil
}
