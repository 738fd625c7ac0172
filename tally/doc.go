// Package tally counts votes exactly once.
//
// Users are partitioned into shards; shard index i is shard i of every
// poll. A Worker is one tally node: it holds leases on some shard indices
// (owners.go: a lease per index in a KV bucket, placed by rendezvous
// hashing over the live nodes) and runs one goroutine per index it holds,
// the only code that ever touches that index's ballots. Each goroutine
// reads its index of the log in order with an ordered consumer from the
// store's checkpoint, folds events into PollShard state (fold.go, pure and
// free of I/O: a ballot only moves forward by stream sequence and knows the
// client keys it applied, so replaying any part of the log changes
// nothing), publishes settled counts as snapshots, flushes changed ballots
// to the Store and only then moves the checkpoint. Every few seconds it
// reads back the newest snapshot of each poll shard it published and
// publishes again where the stream holds another's (verify.go: a late
// snapshot of an owner that was paused).
//
// Concurrency: PollShard is not safe for concurrent use; it belongs to one
// shard goroutine. Worker.Run owns the ownership loop and the shard
// goroutines and returns when they have stopped; cancel its context to
// stop them (each does a final flush and checkpoint, then gives its lease
// up). Lag, Ready, Unread, Owns and the query handlers (ServeStored,
// ServeBallots) are safe from any goroutine.
package tally
