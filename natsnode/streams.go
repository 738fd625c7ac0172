package natsnode

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/votecast/votecast/schema"
)

// StreamOptions configures the streams Ensure declares.
type StreamOptions struct {
	// Replicas for every stream and bucket, 1 to 5; zero value: 1 (one
	// server). More than 1 needs a JetStream cluster of at least as many
	// servers. An existing stream with another count is scaled to it:
	// nats-server adds or removes peers of a clustered stream in place
	// (the new ones catch up from the leader); a single server refuses
	// any count above 1.
	Replicas int
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Ids;
	// zero value: 2 minutes.
	DuplicateWindow time.Duration
	// TicketTTL is how long a waiting-room ticket lasts: the QUEUE
	// stream remembers a viewer's entry that long, so joining the line
	// again returns the same place; zero value: 1 hour.
	TicketTTL time.Duration
}

// Ensure creates or updates the VOTES, TALLY and QUEUE streams, the polls
// and certificates buckets and the waiting room's buckets, and returns the polls bucket. Safe to run on every start of every node.
func Ensure(ctx context.Context, js jetstream.JetStream, opts StreamOptions) (jetstream.KeyValue, error) {
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	if opts.Replicas < 1 || opts.Replicas > 5 {
		return nil, fmt.Errorf("ensure streams: %d replicas: JetStream keeps 1 to 5", opts.Replicas)
	}
	if opts.DuplicateWindow == 0 {
		opts.DuplicateWindow = 2 * time.Minute
	}
	if opts.TicketTTL == 0 {
		opts.TicketTTL = time.Hour
	}
	err := retryUnavailable(ctx, func() error {
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
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", schema.VotesStream, replicasHint(err, opts.Replicas))
	}
	err = retryUnavailable(ctx, func() error {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:              schema.TallyStream,
			Description:       "votecast: newest counts snapshot of each poll shard",
			Subjects:          []string{schema.TallySubject},
			Storage:           jetstream.FileStorage,
			MaxMsgsPerSubject: 1,
			Replicas:          opts.Replicas,
			MaxMsgSize:        schema.MaxSnapshotBytes,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", schema.TallyStream, replicasHint(err, opts.Replicas))
	}
	var kv jetstream.KeyValue
	err = retryUnavailable(ctx, func() error {
		var err error
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      schema.PollsBucket,
			Description: "votecast: poll definitions",
			History:     5,
			Storage:     jetstream.FileStorage,
			Replicas:    opts.Replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", schema.PollsBucket, replicasHint(err, opts.Replicas))
	}
	// Leases are worth nothing after a restart of the server (their
	// holders renew or retake them), so memory storage: no fsync per
	// renewal.
	err = retryUnavailable(ctx, func() error {
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      schema.OwnersBucket,
			Description: "votecast: who owns the tally shards (a lease renewed by its holder)",
			History:     1,
			TTL:         schema.OwnerLeaseTTL,
			Storage:     jetstream.MemoryStorage,
			Replicas:    opts.Replicas,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", schema.OwnersBucket, replicasHint(err, opts.Replicas))
	}
	// A closed poll's certificate, written once: the first node to build
	// it stores it, every node serves that one.
	err = retryUnavailable(ctx, func() error {
		_, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: schema.CertificatesBucket, Description: "votecast: closed polls' signed results certificates",
			History: 1, Storage: jetstream.FileStorage, Replicas: opts.Replicas, MaxValueSize: 128 << 10,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", schema.CertificatesBucket, replicasHint(err, opts.Replicas))
	}
	if err := ensureQueue(ctx, js, opts); err != nil {
		return nil, err
	}
	return kv, nil
}

// ensureQueue declares the waiting room's stream and buckets.
func ensureQueue(ctx context.Context, js jetstream.JetStream, opts StreamOptions) error {
	// One entry per user and poll while its ticket lasts: the dedup
	// window returns the first entry's sequence.
	for _, st := range []struct{ name, subject, what string }{
		{schema.QueueStream, schema.QueueSubject, "the waiting room's line; an entry's sequence is the viewer's place"},
		{schema.EarlyStream, schema.EarlySubject, "viewers in line before their poll opened; placed in a random order at the opening"},
	} {
		err := retryUnavailable(ctx, func() error {
			_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
				Name: st.name, Description: "votecast: " + st.what, Subjects: []string{st.subject},
				Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy,
				Duplicates: opts.TicketTTL, MaxAge: 2 * opts.TicketTTL, Replicas: opts.Replicas, MaxMsgSize: 512,
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("ensure stream %s: %w", st.name, replicasHint(err, opts.Replicas))
		}
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: schema.QueueBucket, Description: "votecast: the waiting room's serving position and admission rate",
			History: 1, Storage: jetstream.FileStorage},
		// A used mark must outlive the ticket it marks.
		{Bucket: schema.UsedBucket, Description: "votecast: waiting-room tickets exchanged for a connection",
			History: 1, TTL: 2 * opts.TicketTTL, Storage: jetstream.FileStorage},
		// Free slots are worth nothing once stale: memory, and a TTL an
		// edge that stopped renewing falls out by.
		{Bucket: schema.EdgesBucket, Description: "votecast: each edge's free viewer slots",
			History: 1, TTL: 10 * time.Second, Storage: jetstream.MemoryStorage},
	}
	for _, cfg := range buckets {
		cfg.Replicas = opts.Replicas
		err := retryUnavailable(ctx, func() error {
			_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		})
		if err != nil {
			return fmt.Errorf("ensure bucket %s: %w", cfg.Bucket, replicasHint(err, opts.Replicas))
		}
	}
	return nil
}

// ensureWait bounds how long Ensure retries what a cluster answers while
// it forms or elects: the first API calls after a meta leader is elected
// can go unanswered, and placement can find peers "offline" that the new
// leader has not heard from yet.
const ensureWait = 30 * time.Second

// retryUnavailable runs op again while it fails the way a forming or
// electing cluster does, for at most ensureWait. Every op of Ensure is a
// create-or-update with a fixed config, so running one twice is harmless.
func retryUnavailable(ctx context.Context, op func() error) error {
	return Retry(ctx, ensureWait, op)
}

// Retry runs op again, for at most within, while it fails the way a
// JetStream cluster does while it forms or elects a leader (Transient).
// op must be safe to run twice.
func Retry(ctx context.Context, within time.Duration, op func() error) error {
	deadline := time.Now().Add(within)
	wait := 50 * time.Millisecond
	for {
		err := op()
		if err == nil || !Transient(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait): // a leader being elected: nothing to wait on
		}
		wait = min(2*wait, time.Second)
	}
}

// Transient reports whether err is what a JetStream cluster answers while
// it forms or elects: no peers or cluster yet, no responder for a stream
// without a leader, or an API call nobody answered in time (jetstream's
// own timeout, not the caller's: Retry stops when ctx ends).
func Transient(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.ErrorCode == errClusterNotAvailable || api.ErrorCode == errNoPeers
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// JetStream API error codes of a replica count the servers cannot hold
// (nats-server's JSStreamReplicasNotSupportedErr, JSClusterNoPeersErrF,
// JSInsufficientResourcesErr).
const (
	errReplicasNotSupported jetstream.ErrorCode = 10074
	errNoPeers              jetstream.ErrorCode = 10005
	errInsufficient         jetstream.ErrorCode = 10023
	errClusterNotAvailable  jetstream.ErrorCode = 10008 // JSClusterNotAvailErr
)

// replicasHint says what to do about a replica count the servers cannot
// hold, keeping the server's own error in the chain.
func replicasHint(err error, replicas int) error {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return err
	}
	switch api.ErrorCode {
	case errReplicasNotSupported:
		return fmt.Errorf("%d replicas need a JetStream cluster, and this NATS is a single server: use 1 replica, or a cluster of %d or more nodes: %w", replicas, replicas, err)
	case errNoPeers, errInsufficient:
		if replicas > 1 {
			return fmt.Errorf("%d replicas need %d JetStream servers up with room to spare; fewer are (use fewer replicas, or start the missing nodes): %w", replicas, replicas, err)
		}
	}
	return err
}
