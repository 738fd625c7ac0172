// Package loadgen plays a "vote now" spike against a running votecast
// server and measures it: viewers connect over WebSocket (each its own
// user, with a token minted from the viewer secret), sit idle, vote at once
// or at a target rate, and wait for the final totals; the report holds
// connection memory, ack latency, accepted votes per second, fan-out time
// and CPU per delivery, and whether the final totals equal the accepted
// votes exactly.
//
// It talks to the server only as clients do: the viewer WebSocket, the
// producer HTTP API and /metrics. It imports no server package but schema
// (for the vote event size) and identity (to mint tokens).
//
// Concurrency: Run is one blocking call that owns every goroutine it starts
// (one reader per viewer connection, a bounded pool of dialers and of
// senders, a progress ticker) and has ended them all when it returns. A
// viewer's reader goroutine is the only one that reads its socket; votes
// are written by the sender pool or a retry timer, which coder/websocket
// allows concurrently with reads.
package loadgen
