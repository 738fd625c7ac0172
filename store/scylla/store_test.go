package scylla_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/store/scylla"
	"github.com/votecast/votecast/store/storetest"
	"github.com/votecast/votecast/tally"
)

func openStore(t testing.TB, opts scylla.Options) *scylla.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := scylla.Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Every subtest shares the run's keyspace: the suite gives each its own
// polls, and a reopen is a new session on the same keyspace.
func TestStoreSuite(t *testing.T) {
	needServer(t)
	storetest.Run(t, func(t *testing.T, fresh bool) tally.Store {
		return openStore(t, options(testKeyspace))
	})
}

func TestPing(t *testing.T) {
	needServer(t)
	s := openStore(t, options(testKeyspace))
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// A flush far past one batch, by row count and by bytes, with choices in
// the order the tally keeps them (not sorted), round-trips exactly, with
// every batch in flight at once or one at a time.
func TestFlushChunks(t *testing.T) {
	needServer(t)
	tests := []struct {
		name        string
		users       int
		userLen     int // long ids make the byte cap cut, not the row cap
		concurrency int
	}{
		{"RowCap", 1234, 12, 0},
		{"ByteCap", 300, 2000, 0},
		{"OneAtATime", 450, 12, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := options(testKeyspace)
			opts.MaxConcurrentFlushes = tc.concurrency
			s := openStore(t, opts)
			poll := schema.NewPollID()
			var want []tally.BallotRecord
			pad := strings.Repeat("x", tc.userLen)
			for i := range tc.users {
				want = append(want, tally.BallotRecord{
					User:    fmt.Sprintf("%s-%06d", pad, i),
					LastSeq: uint64(i + 1),
					Choices: []tally.Choice{{Option: 255, Count: 65535}, {Option: uint8(i % 3), Count: 1}},
				})
			}
			up := tally.ShardUpdate{Header: tally.ShardHeader{Poll: poll, Shard: 9, LastSeq: uint64(tc.users), Counts: []int64{1, 2, 3}}, Ballots: want}
			if err := s.Flush(t.Context(), []tally.ShardUpdate{up}); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			st, err := s.LoadShard(t.Context(), poll, 9)
			if err != nil {
				t.Fatalf("LoadShard: %v", err)
			}
			if len(st.Ballots) != len(want) {
				t.Fatalf("loaded %d ballots, want %d", len(st.Ballots), len(want))
			}
			// ballots come back in user order, which is also ours
			for i := range want {
				g, w := st.Ballots[i], want[i]
				if g.User != w.User || g.LastSeq != w.LastSeq || !slices.Equal(g.Choices, w.Choices) {
					t.Fatalf("ballot %d = %+v, want %+v", i, g, w)
				}
			}
			if !slices.Equal(st.Header.Counts, []int64{1, 2, 3}) || st.Header.LastSeq != uint64(tc.users) {
				t.Fatalf("header = %+v", st.Header)
			}
		})
	}
}

// A ballot is a register ordered by sequence: an older write that lands
// after a newer one (a retry, a previous owner still flushing) changes
// nothing.
func TestOlderBallotLoses(t *testing.T) {
	needServer(t)
	s := openStore(t, options(testKeyspace))
	poll := schema.NewPollID()
	newer := tally.BallotRecord{User: "u", LastSeq: 20, Choices: []tally.Choice{{Option: 1, Count: 1}}}
	older := tally.BallotRecord{User: "u", LastSeq: 10, Choices: []tally.Choice{{Option: 0, Count: 1}}}
	for _, b := range []tally.BallotRecord{newer, older} {
		up := tally.ShardUpdate{Header: tally.ShardHeader{Poll: poll, Shard: 0, LastSeq: b.LastSeq, Counts: []int64{0, 1}}, Ballots: []tally.BallotRecord{b}}
		if err := s.Flush(t.Context(), []tally.ShardUpdate{up}); err != nil {
			t.Fatalf("Flush seq %d: %v", b.LastSeq, err)
		}
	}
	st, err := s.LoadShard(t.Context(), poll, 0)
	if err != nil {
		t.Fatalf("LoadShard: %v", err)
	}
	if len(st.Ballots) != 1 || st.Ballots[0].LastSeq != 20 || !slices.Equal(st.Ballots[0].Choices, newer.Choices) {
		t.Fatalf("ballots = %+v, want only %+v", st.Ballots, newer)
	}
}

// With no node to talk to, Open fails fast with an error a retry may cure.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := scylla.Open(ctx, scylla.Options{Hosts: []string{"127.0.0.1:1"}, ConnectTimeout: time.Second})
	if !errors.Is(err, tally.ErrStoreUnavailable) {
		t.Fatalf("Open on a closed port: %v, want ErrStoreUnavailable", err)
	}
}

func TestOpenValidates(t *testing.T) {
	tests := []struct {
		name string
		opts scylla.Options
		want string
	}{
		{"NoHosts", scylla.Options{}, "no hosts"},
		{"BadKeyspace", scylla.Options{Hosts: []string{"h"}, Keyspace: "Vote-Cast"}, "keyspace"},
		{"BadConsistency", scylla.Options{Hosts: []string{"h"}, Consistency: "MOST"}, "consistency"},
		{"SerialConsistency", scylla.Options{Hosts: []string{"h"}, Consistency: "local_serial"}, "consistency"},
		{"NegativeTimeout", scylla.Options{Hosts: []string{"h"}, Timeout: -time.Second}, "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scylla.Open(t.Context(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%+v) = %v, want an error about %s", tc.opts, err, tc.want)
			}
			if errors.Is(err, tally.ErrStoreUnavailable) {
				t.Fatalf("bad options reported as retriable: %v", err)
			}
		})
	}
}

// A keyspace nobody migrated is a permanent error, not one to retry.
func TestOpenMissingKeyspace(t *testing.T) {
	needServer(t)
	_, err := scylla.Open(t.Context(), options(randomKeyspace()))
	if err == nil || errors.Is(err, tally.ErrStoreUnavailable) {
		t.Fatalf("Open on a missing keyspace = %v, want a permanent error", err)
	}
	t.Log(err)
}

// A ballot without keys or choices is written with empty lists, not
// nulls: a null cell is a tombstone, one for every such ballot, which
// reads of the shard would have to step over. The driver reads a null list
// as nil and an empty one as an empty slice.
func TestNoNullLists(t *testing.T) {
	needServer(t)
	s := openStore(t, options(testKeyspace))
	poll := schema.NewPollID()
	up := tally.ShardUpdate{Header: tally.ShardHeader{Poll: poll, Shard: 0, LastSeq: 3}, Ballots: []tally.BallotRecord{{User: "u", LastSeq: 3}}}
	if err := s.Flush(t.Context(), []tally.ShardUpdate{up}); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	c := gocql.NewCluster(strings.Split(serverAddr, ",")...)
	c.Keyspace = testKeyspace
	c.Timeout = time.Minute
	raw, err := c.CreateSession()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer raw.Close()
	var keys, choices []byte // the cells' bytes: nil for a null
	err = raw.Query("SELECT applied_keys, choices FROM ballots WHERE poll = ? AND shard = 0 AND user_id = 'u'", poll).
		WithContext(t.Context()).Scan(&keys, &choices)
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	if keys == nil || choices == nil {
		t.Fatalf("applied_keys = %#v, choices = %#v: want empty lists, not nulls", keys, choices)
	}
}
