// Package ingest owns the viewer WebSocket: it identifies the viewer,
// checks the Origin, admits or sheds votes, publishes each vote to
// votes.<poll>.<shard> with its dedup key and answers only once JetStream's
// PubAck says the vote is durable. The same connection carries live totals
// from a Feed (the broadcast hub), which ingest knows only as an interface.
// A node without the broadcast role gives no Feed (acks only); one without
// the ingest role sets RefuseVotes, and every vote there gets an error
// frame with that reason (never an ack: it stays pending on the client),
// and is never published.
//
// Admission: a node caps its connections (in all and per IP), each
// connection's vote rate, and its publishes in flight. Past a cap a viewer
// gets a clear answer (HTTP 503 or an ack "retry" with retry_after_ms),
// never a timeout; only a flood far past the rate limit closes a connection.
//
// Concurrency: each connection has two goroutines, its reader (the HTTP
// handler's) and its writer, plus one short-lived goroutine per vote in
// flight; one janitor goroutine per Server closes sockets stuck in a write
// (no timer per write). Server.Close stops accepting and waits for
// in-flight publishes; GoingAway closes the sockets with 1001; Stop ends
// the janitor.
package ingest
