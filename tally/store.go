package tally

import (
	"context"
	"errors"
)

// ErrStoreUnavailable is wrapped by store errors that a retry may cure
// (the database is down or overloaded), as opposed to bugs or bad data.
var ErrStoreUnavailable = errors.New("store unavailable")

// Store keeps ballots and shard counts. Implementations live under store/;
// every write is idempotent because ballots only move forward by sequence.
type Store interface {
	// LoadShard returns everything stored for one shard of one poll;
	// an empty state when nothing was ever flushed.
	LoadShard(ctx context.Context, poll string, shard int) (ShardState, error)
	// Flush durably writes changed ballots and shard headers. When it
	// returns nil everything in it survives a crash; when it fails, any
	// part of it may have been written.
	Flush(ctx context.Context, updates []ShardUpdate) error
	// LoadBallot returns one user's stored ballot in a poll shard; ok is
	// false when the user has none.
	LoadBallot(ctx context.Context, poll string, shard int, user string) (b BallotRecord, ok bool, err error)
	// SaveCheckpoint records that every event of shard index shard (all
	// polls) up to stream sequence seq is durably folded into this store:
	// call it only after the Flush that covers them returned nil. It never
	// moves back: a lower seq than the stored one changes nothing (a
	// paused old owner may write late). It need not be synced on its own:
	// losing it only means replaying more.
	SaveCheckpoint(ctx context.Context, shard int, seq uint64) error
	// LoadCheckpoint returns the shard index's checkpoint; 0 when none.
	LoadCheckpoint(ctx context.Context, shard int) (uint64, error)
	// Headers returns the stored header of every flushed shard of a poll.
	Headers(ctx context.Context, poll string) ([]ShardHeader, error)
	// Ping reports whether the store can take writes now.
	Ping(ctx context.Context) error
	Close() error
}

// ShardHeader is a poll shard's flush state: the counts its ballots add up
// to, the last sequence folded and whether its close marker was folded.
type ShardHeader struct {
	Poll    string
	Shard   int
	LastSeq uint64
	Closed  bool
	Counts  []int64
}

// BallotRecord is a ballot as stored.
type BallotRecord struct {
	User    string
	LastSeq uint64
	Choices []Choice
	// Keys are the hashes (KeyHash) of the client keys the fold applied to
	// this ballot, oldest first: a resend of any of them, however late, is
	// recognised. Ballots stored before keys were kept have none.
	Keys []uint64
}

// ShardState is a stored poll shard.
type ShardState struct {
	Header  ShardHeader
	Ballots []BallotRecord
}

// ShardUpdate is what one flush writes for one poll shard.
type ShardUpdate struct {
	Header  ShardHeader
	Ballots []BallotRecord
}

// SumHeaders adds up the counts of a poll's shards.
func SumHeaders(hs []ShardHeader, options int) []int64 {
	out := make([]int64, options)
	for _, h := range hs {
		for i, c := range h.Counts {
			if i < options {
				out[i] += c
			}
		}
	}
	return out
}
