package scylla_test

import (
	"fmt"
	"testing"

	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/tally"
)

// BenchmarkFlush measures ballots per second into the CQL server, in
// flushes shaped like a tally worker's: 8 shards of 250 changed ballots.
func BenchmarkFlush(b *testing.B) {
	needServer(b)
	const shards, perShard = 8, 250
	s := openStore(b, options(testKeyspace))
	poll := schema.NewPollID()
	seq := uint64(0)
	for b.Loop() {
		updates := make([]tally.ShardUpdate, shards)
		for sh := range updates {
			ballots := make([]tally.BallotRecord, perShard)
			for i := range ballots {
				seq++
				ballots[i] = tally.BallotRecord{
					User:    fmt.Sprintf("user-%08d", seq),
					LastSeq: seq,
					Choices: []tally.Choice{{Option: uint8(seq % 4), Count: 1}},
				}
			}
			updates[sh] = tally.ShardUpdate{Header: tally.ShardHeader{Poll: poll, Shard: sh, LastSeq: seq, Counts: []int64{1, 2, 3, 4}}, Ballots: ballots}
		}
		if err := s.Flush(b.Context(), updates); err != nil {
			b.Fatalf("Flush: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*shards*perShard)/b.Elapsed().Seconds(), "ballots/s")
}
