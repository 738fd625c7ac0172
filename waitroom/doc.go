// Package waitroom owns the waiting room in front of the edge nodes: a
// viewer who arrives while the edges are full (or while others already
// wait) joins a line instead of getting a voting connection, and is let in
// when the serving position passes its place.
//
// A place is the sequence JetStream gives the viewer's entry in the QUEUE
// stream, so places are global across edge nodes and strictly ordered; an
// entry carries a dedup key per user and poll, so joining again while the
// ticket lasts returns the same place. A ticket is the place signed with a
// key every edge shares (user, poll, place, issue time, expiry); it is
// exchanged once for a connection (a create in the waitroom_used bucket
// that only one caller can win), and it lets its holder vote over HTTP
// while still waiting.
//
// The serving position lives in the waitroom bucket. Every edge runs an
// admitter that tries to advance it by what the admission rate allows
// since the last advance, capped by the free slots the edges report and by
// the last place given; the advance is a compare-and-set on the entry's
// revision, so however many edges try, each interval is counted once.
// Viewers who joined before their poll opened are let in in a random order
// drawn at the opening (see Shuffle); after that, first come first served.
//
// Concurrency: a Room is safe for concurrent use; Run owns its goroutines
// (the watchers, the admitter, the free-slot report) and returns when its
// context ends.
package waitroom
