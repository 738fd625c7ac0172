package schema

import (
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Stream and bucket names.
const (
	VotesStream  = "VOTES"        // the append-only log of vote events and close markers
	TallyStream  = "TALLY"        // the newest shard snapshot per subject
	PollsBucket  = "polls"        // poll definitions, watched by every node
	OwnersBucket = "tally_owners" // the lease of the process that owns the tally shards
	// CertificatesBucket holds each closed poll's signed certificate.
	CertificatesBucket = "certificates"
	VotesSubject       = "votes.>"
	TallySubject       = "tally.>"

	// The waiting room (package waitroom).
	QueueStream  = "QUEUE"          // one entry per viewer who joined the line; its sequence is the place
	QueueSubject = "queue.>"        // queue.<poll>
	EarlyStream  = "QUEUE_EARLY"    // viewers in line before their poll opened, placed at random at the opening
	EarlySubject = "early.>"        // early.<poll>
	QueueBucket  = "waitroom"       // the serving position and the admission rate
	UsedBucket   = "waitroom_used"  // tickets already exchanged for a connection
	EdgesBucket  = "waitroom_edges" // each edge's free viewer slots, renewed by the edge
)

// QueueEntrySubject is where a viewer's entry into the line for a poll goes.
func QueueEntrySubject(poll string) string { return "queue." + poll }

// EarlyEntrySubject is where a viewer who joins before the poll opens goes.
func EarlyEntrySubject(poll string) string { return "early." + poll }

// OwnerLeaseTTL is how long a tally's lease on the shards outlives its
// last renewal: how long a killed owner's shards wait for a new one.
const OwnerLeaseTTL = 10 * time.Second

// VoteSubject is where votes of a poll's shard are published.
func VoteSubject(poll string, shard int) string {
	return "votes." + poll + "." + strconv.Itoa(shard)
}

// SnapshotSubject is where tally publishes a poll shard's counts.
func SnapshotSubject(poll string, shard int) string {
	return "tally." + poll + "." + strconv.Itoa(shard)
}

// ShardFilter is the filter of the durable consumer for one shard index:
// it sees that shard of every poll.
func ShardFilter(shard int) string {
	return "votes.*." + strconv.Itoa(shard)
}

// ParseVoteSubject splits votes.<poll>.<shard>.
func ParseVoteSubject(subj string) (poll string, shard int, ok bool) {
	rest, ok := strings.CutPrefix(subj, "votes.")
	if !ok {
		return "", 0, false
	}
	poll, num, ok := strings.Cut(rest, ".")
	if !ok || poll == "" {
		return "", 0, false
	}
	shard, err := strconv.Atoi(num)
	if err != nil || shard < 0 || shard >= MaxShards {
		return "", 0, false
	}
	return poll, shard, true
}

// ShardOf places a user in one of n shards. The hash is fixed forever:
// changing it would move users between shards of a running poll.
func ShardOf(user string, n int) int {
	return int(xxhash.Sum64String(user) % uint64(n))
}

// DedupKey is the Nats-Msg-Id of a vote. A one-vote poll without change uses
// the user alone, so JetStream itself drops a second vote inside its
// duplicate window; other polls add the client's key, so only a retry of the
// same frame is dropped and the tally rules on the rest.
func DedupKey(p *Poll, user, clientKey string) string {
	if DedupPerUser(p) {
		return p.ID + ":" + user
	}
	return p.ID + ":" + user + ":" + clientKey
}

// DedupPerUser reports whether a poll's dedup key names the user alone (a
// one-vote poll without change), so a duplicate may be another frame.
func DedupPerUser(p *Poll) bool { return p.VotesPerUser == 1 && !p.AllowChange }

// StoredSubject is where a tally worker answers with a poll's stored
// totals (request/reply), so recount can compare without opening a store
// a running server holds.
func StoredSubject(poll string) string { return "votecast.stored." + poll }

// StoredTotals answers a StoredSubject request.
type StoredTotals struct {
	Poll   string  `json:"poll"`
	Counts []int64 `json:"counts"`
	Shards int     `json:"shards"` // shards with anything stored
	// Covered are the shard indices the answer speaks for (a tally node
	// answers for those it owns), ByShard their stored counts.
	Covered []int           `json:"covered,omitempty"`
	ByShard map[int][]int64 `json:"by_shard,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// BallotSubject is where a tally worker answers whether a vote of a
// closed poll was folded (request/reply), so ingest can answer a late
// resend truthfully without knowing the store.
func BallotSubject(poll string) string { return "votecast.ballot." + poll }

// BallotQuery asks about one client key of one user.
type BallotQuery struct {
	Shard int    `json:"shard"`
	User  string `json:"user"`
	Key   string `json:"key"`
}

// Answers to a BallotQuery.
const (
	BallotApplied = "applied" // the fold applied this key before the close marker
	BallotAbsent  = "absent"  // it did not: the vote never counted
	BallotPending = "pending" // the tally has not folded up to the marker yet
)

// BallotAnswer answers a BallotQuery.
type BallotAnswer struct {
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// ConsumerHeartbeat is the idle heartbeat of the tally's and broadcast's
// consumers of the log: two missed ones and the client recreates its
// consumer elsewhere, so a killed NATS node holds their reads up for
// about twice this (nats.go's default, 5 s, made it 10 s and more).
const ConsumerHeartbeat = time.Second
