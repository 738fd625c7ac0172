package scylla

import (
	"github.com/scylladb/gocqlx/v2/table"

	"github.com/votecast/votecast/tally"
)

// The tables of schema/cql as its files leave them: 0001_init made the
// first two, 0002_ballot_keys added ballots.applied_keys, 0003_checkpoints
// made tally_checkpoints. The statements are built
// once: the driver prepares each on first use and routes it by partition
// key.
var (
	ballots = table.New(table.Metadata{
		Name:    "ballots",
		Columns: []string{"poll", "shard", "user_id", "last_seq", "choices", "applied_keys"},
		PartKey: []string{"poll", "shard"},
		SortKey: []string{"user_id"},
	})
	headers = table.New(table.Metadata{
		Name:    "shard_headers",
		Columns: []string{"poll", "shard", "last_seq", "closed", "counts"},
		PartKey: []string{"poll"},
		SortKey: []string{"shard"},
	})
	checkpoints = table.New(table.Metadata{
		Name:    "tally_checkpoints",
		Columns: []string{"shard", "seq"},
		PartKey: []string{"shard"},
	})

	// The write timestamp of a ballot is its stream sequence, that of a
	// header or a checkpoint headerEpoch + its sequence: see flush.go.
	insertBallot, _     = ballots.InsertBuilder().TimestampNamed("seq").ToCql()
	insertHeader, _     = headers.InsertBuilder().TimestampNamed("ts").ToCql()
	insertCheckpoint, _ = checkpoints.InsertBuilder().TimestampNamed("ts").ToCql()
	selectCheckpoint, _ = checkpoints.Get("seq")
	selectBallots, _    = ballots.Select("user_id", "last_seq", "choices", "applied_keys")
	selectBallot, _     = ballots.Get("last_seq", "choices", "applied_keys")
	selectHeader, _     = headers.Get("last_seq", "closed", "counts")
	selectHeaders, _    = headers.Select("shard", "last_seq", "closed", "counts")
)

// choice is a tally.Choice as the CQL tuple<smallint, int> holds it: wide
// enough for every uint8 option and uint16 count, so cqlsh shows them as
// they are. The fields have the driver's own Go types for smallint and int
// because it fills a tuple struct by assignment, not conversion.
type choice struct {
	Option int16
	Count  int
}

func toRow(cs []tally.Choice) []choice {
	// Never nil: a nil list would be written as a null, that is a
	// tombstone, for every ballot without choices.
	out := make([]choice, len(cs))
	for i, c := range cs {
		out[i] = choice{int16(c.Option), int(c.Count)}
	}
	return out
}

func fromRow(cs []choice) []tally.Choice {
	if len(cs) == 0 {
		return nil
	}
	out := make([]tally.Choice, len(cs))
	for i, c := range cs {
		out[i] = tally.Choice{Option: uint8(c.Option), Count: uint16(c.Count)}
	}
	return out
}

// keysToRow holds each uint64 key hash in a bigint with the same 64 bits:
// a hash at or above 2^63 is stored negative and comes back as it was.
func keysToRow(ks []uint64) []int64 {
	// Never nil, as in toRow: no tombstone for a ballot without keys.
	out := make([]int64, len(ks))
	for i, k := range ks {
		out[i] = int64(k)
	}
	return out
}

// keysFromRow also reads the null of a row written before
// 0002_ballot_keys: no keys.
func keysFromRow(ks []int64) []uint64 {
	if len(ks) == 0 {
		return nil
	}
	out := make([]uint64, len(ks))
	for i, k := range ks {
		out[i] = uint64(k)
	}
	return out
}
