package scylla

import (
	"context"
	"errors"

	"github.com/gocql/gocql"

	"github.com/votecast/votecast/tally"
)

// loadPageSize is how many ballots one page of a shard scan carries.
const loadPageSize = 5000

// LoadShard reads a poll shard's header, then all its ballots. In that
// order because a flush writes them the other way round: what is read can
// only have ballots ahead of the header, which the tally handles.
func (s *Store) LoadShard(ctx context.Context, poll string, shard int) (tally.ShardState, error) {
	st := tally.ShardState{Header: tally.ShardHeader{Poll: poll, Shard: shard}}
	var (
		seq    int64
		closed bool
		counts []int64
	)
	err := s.session.ContextQuery(ctx, selectHeader, nil).Bind(poll, shard).
		Idempotent(true).Scan(&seq, &closed, &counts)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
	case err != nil:
		return st, wrapErr(err, "load shard %s/%d header", poll, shard)
	default:
		st.Header.LastSeq, st.Header.Closed, st.Header.Counts = uint64(seq), closed, counts
	}

	iter := s.session.ContextQuery(ctx, selectBallots, nil).Bind(poll, shard).
		Idempotent(true).PageSize(loadPageSize).Iter()
	var (
		user    string
		choices []choice
		keys    []int64
	)
	for iter.Scan(&user, &seq, &choices, &keys) {
		st.Ballots = append(st.Ballots, tally.BallotRecord{User: user, LastSeq: uint64(seq), Choices: fromRow(choices), Keys: keysFromRow(keys)})
	}
	if err := iter.Close(); err != nil {
		return st, wrapErr(err, "load shard %s/%d ballots", poll, shard)
	}
	return st, nil
}

// Headers returns the header of every flushed shard of a poll: one
// partition read.
func (s *Store) Headers(ctx context.Context, poll string) ([]tally.ShardHeader, error) {
	iter := s.session.ContextQuery(ctx, selectHeaders, nil).Bind(poll).Idempotent(true).Iter()
	var out []tally.ShardHeader
	for {
		h := tally.ShardHeader{Poll: poll}
		var seq int64
		if !iter.Scan(&h.Shard, &seq, &h.Closed, &h.Counts) {
			break
		}
		h.LastSeq = uint64(seq)
		out = append(out, h)
	}
	if err := iter.Close(); err != nil {
		return nil, wrapErr(err, "read headers of poll %s", poll)
	}
	return out, nil
}

// LoadBallot reads one user's ballot in a poll shard: one row.
func (s *Store) LoadBallot(ctx context.Context, poll string, shard int, user string) (tally.BallotRecord, bool, error) {
	r := tally.BallotRecord{User: user}
	var (
		seq     int64
		choices []choice
		keys    []int64
	)
	err := s.session.ContextQuery(ctx, selectBallot, nil).Bind(poll, shard, user).
		Idempotent(true).Scan(&seq, &choices, &keys)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return r, false, nil
	case err != nil:
		return r, false, wrapErr(err, "load ballot %s/%d/%s", poll, shard, user)
	}
	r.LastSeq, r.Choices, r.Keys = uint64(seq), fromRow(choices), keysFromRow(keys)
	return r, true, nil
}
