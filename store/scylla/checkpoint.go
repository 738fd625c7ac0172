package scylla

import (
	"context"
	"errors"

	"github.com/gocql/gocql"
)

// SaveCheckpoint writes the checkpoint of a shard index USING TIMESTAMP
// headerEpoch + seq, as headers are written (flush.go): of two writes the
// higher seq wins in any order, so a paused old owner's late, lower
// checkpoint loses to the new owner's without a read or a lightweight
// transaction. It is one idempotent single-row write at the configured
// consistency; the ballots and headers it vouches for were written by the
// Flush before it.
func (s *Store) SaveCheckpoint(ctx context.Context, shard int, seq uint64) error {
	ts, err := seqTimestamp(seq)
	if err != nil {
		return wrapErr(err, "save checkpoint of shard %d", shard)
	}
	err = s.session.ContextQuery(ctx, insertCheckpoint, nil).Bind(shard, int64(seq), ts).
		Idempotent(true).Exec()
	if err != nil {
		return wrapErr(err, "save checkpoint of shard %d at %d", shard, seq)
	}
	return nil
}

// LoadCheckpoint reads the checkpoint of a shard index; 0 when none.
func (s *Store) LoadCheckpoint(ctx context.Context, shard int) (uint64, error) {
	var seq int64
	err := s.session.ContextQuery(ctx, selectCheckpoint, nil).Bind(shard).
		Idempotent(true).Scan(&seq)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return 0, nil
	case err != nil:
		return 0, wrapErr(err, "load checkpoint of shard %d", shard)
	}
	return uint64(seq), nil
}
