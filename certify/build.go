package certify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/tally"
)

// SaltBytes is the size of a poll's salt.
const SaltBytes = 16

// errEnough ends a read of the log at the certificate's last sequence.
var errEnough = errors.New("read enough")

// ReadTree reads a closed poll's log into a tree: every message of the
// poll up to last (0: all of it), its users and keys hashed with salt.
func ReadTree(ctx context.Context, js jetstream.JetStream, poll schema.Poll, salt []byte, last uint64) (*Tree, error) {
	var entries []Entry
	err := tally.ReadLog(ctx, js, poll, time.Time{}, func(le tally.LogEvent) error {
		if last != 0 && le.Seq > last {
			return errEnough
		}
		entries = append(entries, entryOf(salt, le.Seq, le.Shard, le.Event, le.Bad))
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("certify %s: %w", poll.ID, err)
	}
	return NewTree(poll, entries), nil
}

// Build makes the certificate of a closed poll from its log, with a new
// salt. Whoever stores it first makes it the poll's (see Store).
func Build(ctx context.Context, js jetstream.JetStream, poll schema.Poll, key ed25519.PrivateKey, now time.Time) (Certificate, *Tree, error) {
	if poll.State != schema.Closed {
		return Certificate{}, nil, fmt.Errorf("certify %s: the poll is %s, not closed", poll.ID, poll.State)
	}
	if key == nil {
		return Certificate{}, nil, fmt.Errorf("certify %s: the poll has no certificate yet and there is no signing key here to make one (a node serving the API makes it on GET /api/polls/%s/certificate)", poll.ID, poll.ID)
	}
	salt := make([]byte, SaltBytes)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails on supported platforms
	t, err := ReadTree(ctx, js, poll, salt, 0)
	if err != nil {
		return Certificate{}, nil, err
	}
	first, last := t.Range()
	c, err := Sign(key, Payload{
		Poll: poll.ID, Question: poll.Question, Options: poll.Options, VotesPerUser: poll.VotesPerUser, AllowChange: poll.AllowChange,
		Totals: t.Totals, Counted: t.Counted, Entries: len(t.Entries), FirstSeq: first, LastSeq: last,
		Root: t.Root(), Salt: hex.EncodeToString(salt), ClosedAt: poll.ClosedAt, SignedAt: now.UTC(),
		Kind: poll.Kind, Prizes: poll.Prizes, Answer: poll.Answer, Winners: t.Winners, Cutoff: t.Cutoff,
	})
	return c, t, err
}

// PollOf is the poll a certificate speaks of, as far as the fold needs.
func PollOf(p Payload) schema.Poll {
	return schema.Poll{ID: p.Poll, Question: p.Question, Options: p.Options, VotesPerUser: p.VotesPerUser, AllowChange: p.AllowChange, State: schema.Closed,
		Kind: p.Kind, Prizes: p.Prizes, Answer: p.Answer}
}
