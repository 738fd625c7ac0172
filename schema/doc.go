// Package schema holds votecast's contracts: the poll definition, the
// WebSocket frames viewers exchange with ingest, the vote events and close
// markers that travel through the VOTES stream, the shard snapshots tally
// publishes for broadcast, and the subjects all of them use.
//
// Nothing here knows about a process role. Every type is a plain value, safe
// to share between goroutines once built; the decoders allocate nothing that
// outlives the call and are fuzzed (see *_fuzz_test.go).
package schema
