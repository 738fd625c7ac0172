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
// Concurrency: each connection has its reader, a goroutine the Server
// starts after the upgrade (the HTTP handler returns, so the HTTP server's
// per-connection state and buffers are freed; wire.go gives the socket
// small buffers instead) and, while frames are owed, a writer whose frames
// of one round leave in one write. Per Server, one
// goroutine answers PubAcks in publish order (acker.go: no goroutine or
// timer per vote in flight), and one janitor closes sockets stuck in a
// write (no timer per write) and watches the log for a stall (stall.go).
// Server.Close stops accepting and waits for in-flight publishes;
// GoingAway closes the sockets with 1001; Stop waits for the viewer
// goroutines (cutting off sockets still open after their close
// handshake's time) and ends the janitor and the acker.
package ingest
