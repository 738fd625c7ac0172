// Package embedded is the single-machine tally.Store, on Pebble.
//
// Pebble is an LSM tree built for write-heavy work: a flush is one atomic,
// fsynced batch, and concurrent flushes from many shard goroutines share
// fsyncs through its commit pipeline. All methods are safe for concurrent use.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/votecast/votecast/tally"
)

// Key layout, one key space per poll shard so a shard loads with one scan:
//
//	h/<poll>/<shard:u16>         header: last seq, closed, counts
//	b/<poll>/<shard:u16>/<user>  ballot: last seq, choices, client key hashes (codec.go)
//	c/<shard:u16>                checkpoint of a shard index: seq u64 BE
const (
	headerPrefix     = 'h'
	ballotPrefix     = 'b'
	checkpointPrefix = 'c'
)

// Options configures Open.
type Options struct {
	// Dir is where Pebble keeps its files. Required.
	Dir string
	// NoSync skips the fsync of each flush: only for tests and benchmarks
	// that measure something else. Zero value: every flush is fsynced.
	NoSync bool
}

// Store is the embedded tally.Store.
type Store struct {
	db   *pebble.DB
	sync *pebble.WriteOptions
	// cpMu makes SaveCheckpoint's read and write one step, so two callers
	// in this process cannot move a checkpoint back between them. It is
	// held for a NoSync write only, so it costs nothing worth saving.
	cpMu sync.Mutex
}

var _ tally.Store = (*Store)(nil)

// Open opens or creates the store in opts.Dir.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open embedded store: no directory")
	}
	db, err := pebble.Open(opts.Dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("open embedded store in %s: %w", opts.Dir, err)
	}
	wo := pebble.Sync
	if opts.NoSync {
		wo = pebble.NoSync
	}
	return &Store{db: db, sync: wo}, nil
}

// Close closes the database; safe to call twice.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("close embedded store: %w", err)
	}
	return nil
}

// Ping always succeeds: the store is in this process.
func (s *Store) Ping(context.Context) error { return nil }

func shardKey(prefix byte, poll string, shard int) []byte {
	k := make([]byte, 0, 4+len(poll)+2)
	k = append(k, prefix, '/')
	k = append(k, poll...)
	k = append(k, '/')
	return binary.BigEndian.AppendUint16(k, uint16(shard))
}

// LoadShard reads a poll shard's header and all its ballots.
func (s *Store) LoadShard(_ context.Context, poll string, shard int) (tally.ShardState, error) {
	st := tally.ShardState{Header: tally.ShardHeader{Poll: poll, Shard: shard}}
	v, closer, err := s.db.Get(shardKey(headerPrefix, poll, shard))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return st, fmt.Errorf("load shard %s/%d header: %w", poll, shard, err)
	default:
		h, derr := decodeHeader(poll, shard, v)
		closer.Close()
		if derr != nil {
			return st, fmt.Errorf("load shard %s/%d header: %w", poll, shard, derr)
		}
		st.Header = h
	}
	prefix := append(shardKey(ballotPrefix, poll, shard), '/')
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return st, fmt.Errorf("load shard %s/%d ballots: %w", poll, shard, err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		r, err := decodeBallot(string(bytes.TrimPrefix(it.Key(), prefix)), it.Value())
		if err != nil {
			return st, fmt.Errorf("load shard %s/%d ballots: %w", poll, shard, err)
		}
		st.Ballots = append(st.Ballots, r)
	}
	if err := it.Error(); err != nil {
		return st, fmt.Errorf("load shard %s/%d ballots: %w", poll, shard, err)
	}
	return st, nil
}

// Flush writes every update in one atomic batch.
//
// A header never moves back: when the stored header of a poll shard has a
// higher LastSeq than the update's (a late write of an owner that was
// paused), the stored one stays; ballots are written as they come, the
// fold only sends ballots that moved forward. The stored header is read
// here, one Get per poll shard, and the read and the batch are not one
// atomic step: that holds because this store has one writer. The data
// directory lock keeps every other process off it, and the tally flushes
// a poll shard only from the one goroutine that owns its shard index, one
// flush at a time. A lock around the read and the synced commit would
// instead make concurrent flushes wait for each other's fsync.
func (s *Store) Flush(_ context.Context, updates []tally.ShardUpdate) error {
	b := s.db.NewBatch()
	defer b.Close()
	staged := map[string]uint64{} // header keys this batch sets, by LastSeq
	for _, u := range updates {
		h := u.Header
		prefix := append(shardKey(ballotPrefix, h.Poll, h.Shard), '/')
		for _, r := range u.Ballots {
			if err := b.Set(append(prefix[:len(prefix):len(prefix)], r.User...), encodeBallot(r), nil); err != nil {
				return fmt.Errorf("flush shard %s/%d: %w", h.Poll, h.Shard, err)
			}
		}
		key := shardKey(headerPrefix, h.Poll, h.Shard)
		newer, err := s.headerNewer(key, h, staged)
		if err != nil {
			return fmt.Errorf("flush shard %s/%d: read stored header: %w", h.Poll, h.Shard, err)
		}
		if newer {
			continue
		}
		if err := b.Set(key, encodeHeader(h), nil); err != nil {
			return fmt.Errorf("flush shard %s/%d: %w", h.Poll, h.Shard, err)
		}
		staged[string(key)] = h.LastSeq
	}
	if err := b.Commit(s.sync); err != nil {
		return fmt.Errorf("flush %d shards: %w", len(updates), err)
	}
	return nil
}

// headerNewer says whether a header with a higher LastSeq than h's is
// stored under key, or set under it earlier in the same batch.
func (s *Store) headerNewer(key []byte, h tally.ShardHeader, staged map[string]uint64) (bool, error) {
	if seq, ok := staged[string(key)]; ok {
		return seq > h.LastSeq, nil
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	stored, err := decodeHeader(h.Poll, h.Shard, v)
	if err != nil {
		return false, err
	}
	return stored.LastSeq > h.LastSeq, nil
}

func checkpointKey(shard int) []byte {
	return binary.BigEndian.AppendUint16([]byte{checkpointPrefix, '/'}, uint16(shard))
}

// SaveCheckpoint stores max(stored, seq) as the checkpoint of a shard
// index, without an fsync of its own. That is safe because the caller
// saves it only after the Flush that covers seq returned, and Pebble
// writes batches to its write-ahead log in commit order and recovers a
// prefix of that log: a checkpoint that survives a crash implies every
// batch committed before it, the covered flushes included, survived too
// (even with Options.NoSync, where those flushes were not synced either).
// A checkpoint lost in a crash only means a longer replay.
func (s *Store) SaveCheckpoint(_ context.Context, shard int, seq uint64) error {
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	stored, err := s.loadCheckpoint(shard)
	if err != nil {
		return fmt.Errorf("save checkpoint of shard %d: %w", shard, err)
	}
	if stored >= seq {
		return nil // never back: a late caller changes nothing
	}
	if err := s.db.Set(checkpointKey(shard), binary.BigEndian.AppendUint64(nil, seq), pebble.NoSync); err != nil {
		return fmt.Errorf("save checkpoint of shard %d at %d: %w", shard, seq, err)
	}
	return nil
}

// LoadCheckpoint returns the checkpoint of a shard index; 0 when none.
func (s *Store) LoadCheckpoint(_ context.Context, shard int) (uint64, error) {
	seq, err := s.loadCheckpoint(shard)
	if err != nil {
		return 0, fmt.Errorf("load checkpoint of shard %d: %w", shard, err)
	}
	return seq, nil
}

func (s *Store) loadCheckpoint(shard int) (uint64, error) {
	v, closer, err := s.db.Get(checkpointKey(shard))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, errCorrupt
	}
	return binary.BigEndian.Uint64(v), nil
}

// Headers returns the header of every flushed shard of a poll.
func (s *Store) Headers(_ context.Context, poll string) ([]tally.ShardHeader, error) {
	prefix := append([]byte{headerPrefix, '/'}, poll...)
	prefix = append(prefix, '/')
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("read headers of %s: %w", poll, err)
	}
	defer it.Close()
	var out []tally.ShardHeader
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(prefix):]
		if len(k) != 2 {
			continue
		}
		h, err := decodeHeader(poll, int(binary.BigEndian.Uint16(k)), it.Value())
		if err != nil {
			return nil, fmt.Errorf("read headers of %s: %w", poll, err)
		}
		out = append(out, h)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("read headers of %s: %w", poll, err)
	}
	return out, nil
}

func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// LoadBallot reads one user's ballot in a poll shard.
func (s *Store) LoadBallot(_ context.Context, poll string, shard int, user string) (tally.BallotRecord, bool, error) {
	key := append(append(shardKey(ballotPrefix, poll, shard), '/'), user...)
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return tally.BallotRecord{}, false, nil
	}
	if err != nil {
		return tally.BallotRecord{}, false, fmt.Errorf("load ballot %s/%d/%s: %w", poll, shard, user, err)
	}
	defer closer.Close()
	r, err := decodeBallot(user, v)
	if err != nil {
		return r, false, fmt.Errorf("load ballot %s/%d/%s: %w", poll, shard, user, err)
	}
	return r, true, nil
}
