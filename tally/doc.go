// Package tally counts votes exactly once.
//
// Users are partitioned into shards; a Worker owns a set of shard indices and
// runs one goroutine per shard, which is the only code that ever touches that
// shard's ballots. Each goroutine folds events from its durable JetStream
// consumer into PollShard state (fold.go, pure and free of I/O), publishes
// the new counts as a snapshot, flushes changed ballots to the Store, and only
// then acks the events. A ballot only moves forward by stream sequence, so
// replaying any part of the log after a crash or a redelivery changes nothing.
//
// Concurrency: PollShard is not safe for concurrent use; it belongs to one
// shard goroutine. Worker.Run starts the goroutines and returns when they
// have stopped; cancel its context to stop them (each does a final flush).
package tally
