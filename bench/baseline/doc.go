// Package baseline measures the seed's designs for one-vote-per-user
// counting, the baselines BENCHMARKS.md compares votecast against: a
// PostgreSQL hot counter row, a PostgreSQL ballot insert, and a Redis Lua
// script under two AOF fsync settings.
//
// Each design enforces one vote per user itself (a primary key, or a Redis
// set); the driver only counts what the design answered and then checks the
// per-option totals it reads back against the votes it was told were
// accepted. It is a benchmark tool in its own module so that the service's
// go.mod does not carry a PostgreSQL or Redis client.
//
// Concurrency: Run is one blocking call that owns its worker goroutines
// (Config.Concurrency of them, each its own client) and has ended them all
// when it returns. A Design must allow concurrent Vote calls.
package baseline
