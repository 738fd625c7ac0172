package natsnode

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// StreamOptions configures the streams Ensure declares.
type StreamOptions struct {
	// Replicas for every stream and the bucket; zero value: 1 (one server).
	Replicas int
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Ids;
	// zero value: 2 minutes.
	DuplicateWindow time.Duration
}

// Ensure creates or updates the VOTES and TALLY streams and the polls
// bucket, and returns the bucket. Safe to run on every start of every node.
func Ensure(ctx context.Context, js jetstream.JetStream, opts StreamOptions) (jetstream.KeyValue, error) {
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.DuplicateWindow == 0 {
		opts.DuplicateWindow = 2 * time.Minute
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        schema.VotesStream,
		Description: "votecast: every vote and close marker, the audit log",
		Subjects:    []string{schema.VotesSubject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  opts.DuplicateWindow,
		Replicas:    opts.Replicas,
		MaxMsgSize:  1024,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", schema.VotesStream, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              schema.TallyStream,
		Description:       "votecast: newest counts snapshot of each poll shard",
		Subjects:          []string{schema.TallySubject},
		Storage:           jetstream.FileStorage,
		MaxMsgsPerSubject: 1,
		Replicas:          opts.Replicas,
		MaxMsgSize:        schema.MaxSnapshotBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", schema.TallyStream, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      schema.PollsBucket,
		Description: "votecast: poll definitions",
		History:     5,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", schema.PollsBucket, err)
	}
	// Leases are worth nothing after a restart of the server (their
	// holders renew or retake them), so memory storage: no fsync per
	// renewal.
	_, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      schema.OwnersBucket,
		Description: "votecast: who owns the tally shards (a lease renewed by its holder)",
		History:     1,
		TTL:         schema.OwnerLeaseTTL,
		Storage:     jetstream.MemoryStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", schema.OwnersBucket, err)
	}
	return kv, nil
}
