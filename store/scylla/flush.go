package scylla

import (
	"context"
	"fmt"
	"math"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"github.com/votecast/votecast/tally"
)

// Limits of one unlogged batch. Cassandra and ScyllaDB do not hold
// single-partition batches to batch_size_fail_threshold (CASSANDRA-10876),
// but a small batch is a short request: one slow batch times out alone and
// a retry resends little. 100 typical ballots are about 6 KiB; the byte cap
// is for long user ids.
const (
	maxBatchRows  = 100
	maxBatchBytes = 32 << 10
)

// headerEpoch is added to a sequence to make the write timestamp (µs) of a
// shard header or a checkpoint. Releases before 0003_checkpoints wrote
// headers with the wall clock, about 1.76e15 µs in 2025, which a bare
// sequence would never beat: such a legacy header would stay forever.
// 2^52 µs is above every wall-clock timestamp until about the year 2112,
// so a header written now replaces a legacy one, and new writes order
// among themselves by sequence. The price: deleting a poll's headers, or a
// checkpoint, takes USING TIMESTAMP above headerEpoch + the highest
// sequence written there; a delete at the current time removes nothing.
// Ballots need no offset: they were always written at their sequence.
const headerEpoch int64 = 1 << 52

// seqTimestamp is the write timestamp of a header or a checkpoint at seq.
// A sequence too large for it (beyond 2^63 - 2^52, which no stream
// reaches) is an error rather than a timestamp that wraps negative.
func seqTimestamp(seq uint64) (int64, error) {
	if seq > uint64(math.MaxInt64-headerEpoch) {
		return 0, fmt.Errorf("sequence %d is beyond the largest write timestamp", seq)
	}
	return headerEpoch + int64(seq), nil
}

// Flush writes the ballots of every update in single-partition unlogged
// batches of at most maxBatchRows rows and about maxBatchBytes bytes, up to
// MaxConcurrentFlushes at once, and then, only once all of them are in, the
// shard headers, batched per poll. A flush cut anywhere leaves ballots
// ahead of their header, never behind it: the tally recomputes counts from
// ballots on load, so that is still exact.
//
// Every write is an idempotent overwrite ordered by stream sequence, so a
// retry, or a late write of a previous owner that was paused (SIGSTOP, a
// GC pause) while its shards moved, cannot move anything back. A ballot is
// written with USING TIMESTAMP = its last sequence: of two writes of one
// user's ballot the higher sequence wins in any order, and the same
// sequence carries the same ballot. A header is written with USING
// TIMESTAMP = headerEpoch + its LastSeq (see headerEpoch). The tally writes
// a header only when its counts are the fold of the log up to LastSeq, so
// two writers of one LastSeq write the same cells, and the higher LastSeq
// wins.
func (s *Store) Flush(ctx context.Context, updates []tally.ShardUpdate) error {
	for _, u := range updates {
		if _, err := seqTimestamp(u.Header.LastSeq); err != nil {
			return fmt.Errorf("flush shard %s/%d: %w", u.Header.Poll, u.Header.Shard, err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for _, u := range updates {
		for _, chunk := range chunkBallots(u.Ballots) {
			g.Go(func() error {
				if err := s.writeBallots(gctx, u.Header, chunk); err != nil {
					return wrapErr(err, "flush shard %s/%d: write %d ballots", u.Header.Poll, u.Header.Shard, len(chunk))
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for _, hs := range headersByPoll(updates) {
		g.Go(func() error {
			if err := s.writeHeaders(gctx, hs); err != nil {
				return wrapErr(err, "flush poll %s: write %d shard headers", hs[0].Poll, len(hs))
			}
			return nil
		})
	}
	return g.Wait()
}

// chunkBallots splits one partition's ballots into batches within the
// limits. The size is an estimate of the serialized row, which is enough
// to stay far from any server limit.
func chunkBallots(bs []tally.BallotRecord) [][]tally.BallotRecord {
	var chunks [][]tally.BallotRecord
	start, size := 0, 0
	for i, b := range bs {
		n := ballotSize(b)
		if i > start && (i-start == maxBatchRows || size+n > maxBatchBytes) {
			chunks = append(chunks, bs[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(bs) {
		chunks = append(chunks, bs[start:])
	}
	return chunks
}

// ballotSize approximates a ballot row in a batch: the user id, the
// sequence and timestamp, each choice as a 6-byte tuple with its length
// prefixes, each key hash as a bigint with its length prefix, and the
// per-row overhead of a batch entry.
func ballotSize(b tally.BallotRecord) int {
	return len(b.User) + 16 + 14*len(b.Choices) + 12*len(b.Keys) + 32
}

func (s *Store) writeBallots(ctx context.Context, h tally.ShardHeader, bs []tally.BallotRecord) error {
	b := s.session.BatchWithContext(ctx, gocql.UnloggedBatch)
	// The statements carry their own timestamps; no batch-wide default.
	b.DefaultTimestamp(false)
	for _, r := range bs {
		seq := int64(r.LastSeq)
		b.Entries = append(b.Entries, gocql.BatchEntry{
			Stmt:       insertBallot,
			Args:       []any{h.Poll, h.Shard, r.User, seq, toRow(r.Choices), keysToRow(r.Keys), seq},
			Idempotent: true,
		})
	}
	return s.session.ExecuteBatch(b)
}

// headersByPoll groups the headers of one flush by poll, the partition of
// shard_headers, in chunks that fit one batch.
func headersByPoll(updates []tally.ShardUpdate) [][]tally.ShardHeader {
	byPoll := map[string][]tally.ShardHeader{}
	var polls []string
	for _, u := range updates {
		p := u.Header.Poll
		if _, ok := byPoll[p]; !ok {
			polls = append(polls, p)
		}
		byPoll[p] = append(byPoll[p], u.Header)
	}
	var out [][]tally.ShardHeader
	for _, p := range polls {
		hs := byPoll[p]
		for len(hs) > maxBatchRows {
			out = append(out, hs[:maxBatchRows])
			hs = hs[maxBatchRows:]
		}
		out = append(out, hs)
	}
	return out
}

func (s *Store) writeHeaders(ctx context.Context, hs []tally.ShardHeader) error {
	b := s.session.BatchWithContext(ctx, gocql.UnloggedBatch)
	// The statements carry their own timestamps; no batch-wide default.
	b.DefaultTimestamp(false)
	for _, h := range hs {
		counts := h.Counts
		if counts == nil {
			counts = []int64{} // not a null: no tombstone
		}
		ts, err := seqTimestamp(h.LastSeq)
		if err != nil {
			return err // Flush checked already
		}
		b.Entries = append(b.Entries, gocql.BatchEntry{
			Stmt:       insertHeader,
			Args:       []any{h.Poll, h.Shard, int64(h.LastSeq), h.Closed, counts, ts},
			Idempotent: true,
		})
	}
	return s.session.ExecuteBatch(b)
}
