package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/votecast/votecast/natsnode"
	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/tally"
)

type recountConfig struct {
	nats    natsConfig
	store   storeConfig
	poll    string
	until   string
	wait    time.Duration
	winners bool
}

func recountCommand() *ffcli.Command {
	var c recountConfig
	fs := flag.NewFlagSet("recount", flag.ContinueOnError)
	fs.StringVar(&c.poll, "poll", "", "poll id (required)")
	fs.StringVar(&c.until, "until", "", "recount as of this RFC 3339 time; stored totals are then shown, not compared")
	fs.StringVar(&c.nats.dir, "data", "./data", "data directory of the embedded server (env VOTECAST_DATA)")
	c.nats.flags(fs, false)
	fs.DurationVar(&c.wait, "wait", 15*time.Second, "how long to let the tally catch up before comparing")
	fs.BoolVar(&c.winners, "winners", false, "for a giveaway, also list every winning entry (log sequence and user), in the log's order")
	c.store.flags(fs, false)
	return &ffcli.Command{
		Name: "recount", ShortUsage: "votecast recount --poll ID [--until TIME]",
		ShortHelp: "replay a poll's votes from the log and compare with the stored totals",
		FlagSet:   fs, Options: envOptions(),
		Exec: func(ctx context.Context, _ []string) error { return recount(ctx, c, os.Stdout) },
	}
}

func recount(ctx context.Context, c recountConfig, out io.Writer) error {
	if !schema.ValidPollID(c.poll) {
		return fmt.Errorf("--poll %q is not a poll id", c.poll)
	}
	var until time.Time
	if c.until != "" {
		var err error
		if until, err = time.Parse(time.RFC3339Nano, c.until); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
	}
	log, _ := newLogger("warn")
	link, err := c.nats.dialTool("recount", log)
	if err != nil {
		return err
	}
	defer link.close(context.Background())
	ctx, cancel := context.WithTimeout(ctx, c.wait+2*time.Minute)
	defer cancel()
	poll, err := readPoll(ctx, link.js, c.poll)
	if err != nil {
		return err
	}
	rc, err := recountLog(ctx, link, poll, until, c.wait)
	if err != nil {
		return err
	}
	var want []int64 // what to wait for; as of --until, the stored totals are only shown
	if until.IsZero() {
		want = rc.Counts
	}
	stored, err := storedTotals(ctx, c, link, poll, want)
	if err != nil {
		return err
	}
	published, snaps, err := publishedTotals(ctx, link, poll, rc.Counts)
	if err != nil {
		return err
	}
	match := slices.Equal(rc.Counts, stored.Counts) && slices.Equal(rc.Counts, published)
	var giveaway bytes.Buffer
	if poll.Giveaway() {
		// The winners viewers are shown must be the log's.
		var winners int64
		var cutoff uint64
		for _, s := range snaps {
			winners, cutoff = winners+s.Winners, max(cutoff, s.Cutoff)
		}
		fmt.Fprintf(&giveaway, "giveaway: %d prizes; log: %d winners, last winning entry at %d; published: %d winners, %d\n",
			poll.Prizes, len(rc.Winners), rc.Cutoff, winners, cutoff)
		match = match && winners == int64(len(rc.Winners)) && cutoff == rc.Cutoff
		if c.winners {
			for i, w := range rc.Winners {
				fmt.Fprintf(&giveaway, "winner %d: entry %d, user %s\n", i+1, w.Seq, w.User)
			}
		}
	}
	printRecount(out, poll, rc, stored, published, until, match)
	_, _ = giveaway.WriteTo(out)
	if !match && until.IsZero() {
		printShards(out, poll, rc, stored, snaps)
	}
	if !match && until.IsZero() {
		return exitCode(1)
	}
	return nil
}

// publishedTotals sums what viewers are shown (each shard's newest
// snapshot), giving the tally a second to publish what it has folded: the
// promise is that viewers see the true totals within a second.
func publishedTotals(ctx context.Context, link *natsLink, poll schema.Poll, want []int64) ([]int64, map[string]schema.Snapshot, error) {
	deadline := time.Now().Add(time.Second)
	errDeadline := time.Now().Add(readPollWait) // a cluster electing leaders
	for {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		snaps, err := tally.LastSnapshots(tctx, link.js, poll)
		cancel()
		if err != nil && natsnode.Transient(err) && time.Now().Before(errDeadline) && ctx.Err() == nil {
			time.Sleep(250 * time.Millisecond) // JetStream's own election: nothing to wait on
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		got := tally.SumSnapshots(snaps, poll)
		if slices.Equal(got, want) || time.Now().After(deadline) {
			return got, snaps, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling a remote stream: nothing to wait on
		}
	}
}

// recountLog replays the log, trying again for up to wait while
// JetStream cannot answer (a cluster electing a stream leader after a node
// was lost says "no responders" for a few seconds, and one whose replicas
// are catching up may stall a read).
func recountLog(ctx context.Context, link *natsLink, poll schema.Poll, until time.Time, wait time.Duration) (tally.Recount, error) {
	deadline := time.Now().Add(wait)
	for {
		rc, err := tally.RecountFromLog(ctx, link.js, poll, until)
		retriable := errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, tally.ErrLogStalled)
		if err == nil || !retriable || time.Now().After(deadline) {
			return rc, err
		}
		select {
		case <-ctx.Done():
			return rc, err
		case <-time.After(250 * time.Millisecond): // JetStream's own election: nothing to wait on
		}
	}
}

// readPoll reads a poll's definition. Each try has its own deadline and a
// try that fails the way an electing cluster does is made again: a
// request sent while the polls bucket has no leader is never answered,
// and would otherwise hold the whole command's deadline (TestNoQuorum
// met it just after two of three NATS nodes came back).
func readPoll(ctx context.Context, js jetstream.JetStream, id string) (schema.Poll, error) {
	var p schema.Poll
	err := natsnode.Retry(ctx, readPollWait, func() error {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var err error
		p, err = readPollOnce(tctx, js, id)
		return err
	})
	return p, err
}

// readPollWait bounds readPoll's tries.
const readPollWait = time.Minute

func readPollOnce(ctx context.Context, js jetstream.JetStream, id string) (schema.Poll, error) {
	kv, err := js.KeyValue(ctx, schema.PollsBucket)
	if err != nil {
		return schema.Poll{}, fmt.Errorf("open polls bucket: %w", err)
	}
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return schema.Poll{}, fmt.Errorf("poll %s not found", id)
	}
	if err != nil {
		return schema.Poll{}, fmt.Errorf("read poll %s: %w", id, err)
	}
	var p schema.Poll
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return p, fmt.Errorf("read poll %s: %w", id, err)
	}
	return p, nil
}

// storedTotals asks a running tally (after letting it catch up), or reads
// the embedded store directly when no server runs.
func storedTotals(ctx context.Context, c recountConfig, link *natsLink, poll schema.Poll, want []int64) (schema.StoredTotals, error) {
	var out schema.StoredTotals
	if link.node != nil {
		// No server runs: read the store ourselves.
		log, _ := newLogger("warn")
		st, err := c.store.open(ctx, c.nats.dir, log)
		if err != nil {
			return out, err
		}
		defer st.Close()
		out, err = tally.StoredTotals(ctx, st, poll.ID, nil)
		return pad(out, len(poll.Options)), err
	}
	// The tally folds behind the log: give it --wait to reach what the
	// log says before calling a difference a mismatch.
	deadline := time.Now().Add(c.wait)
	for {
		// A shard moving between tally nodes answers late: retry until
		// the deadline.
		out, err := askStored(ctx, link, poll)
		if err == nil && (want == nil || slices.Equal(out.Counts, want)) || time.Now().After(deadline) {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(100 * time.Millisecond): // polling a remote store: nothing to wait on
		}
	}
}

// askStored gathers a poll's stored totals from the tally nodes that own
// its shards.
func askStored(ctx context.Context, link *natsLink, poll schema.Poll) (schema.StoredTotals, error) {
	out, err := tally.AskStored(ctx, link.nc, poll)
	return pad(out, len(poll.Options)), err
}

func pad(s schema.StoredTotals, n int) schema.StoredTotals {
	for len(s.Counts) < n {
		s.Counts = append(s.Counts, 0)
	}
	return s
}

func printRecount(out io.Writer, poll schema.Poll, rc tally.Recount, stored schema.StoredTotals, published []int64, until time.Time, match bool) {
	fmt.Fprintf(out, "poll %s (%s): %s\n", poll.ID, poll.State, poll.Question)
	if !until.IsZero() {
		fmt.Fprintf(out, "log as of %s; stored and published totals are current, shown for reference only\n", until.Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(out, 4, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "option\tlog\tstored\tpublished\t")
	var lt, stt, pt int64
	for i, o := range poll.Options {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", o, rc.Counts[i], stored.Counts[i], published[i])
		lt, stt, pt = lt+rc.Counts[i], stt+stored.Counts[i], pt+published[i]
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t\n", lt, stt, pt)
	tw.Flush()
	fmt.Fprintf(out, "events replayed: %d %v\n", rc.Events, rc.Outcomes)
	switch {
	case !until.IsZero():
	case match:
		fmt.Fprintln(out, "result: log, store and published totals agree")
	default:
		fmt.Fprintln(out, "result: MISMATCH between the log and the store or the published totals")
	}
}

// printShards shows, for a mismatch, each shard whose stored or published
// counts differ from the log's: where to look.
func printShards(out io.Writer, poll schema.Poll, rc tally.Recount, stored schema.StoredTotals, snaps map[string]schema.Snapshot) {
	tw := tabwriter.NewWriter(out, 4, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "shard\tlog\tlast event\tstored\tpublished\tsnapshot seq\t")
	var bad []int
	for shard := range poll.Shards {
		log, st := rc.ByShard[shard], stored.ByShard[shard]
		snap := snaps[schema.SnapshotSubject(poll.ID, shard)]
		if slices.Equal(pad64(log, len(poll.Options)), pad64(st, len(poll.Options))) && slices.Equal(pad64(log, len(poll.Options)), pad64(snap.Counts, len(poll.Options))) {
			continue
		}
		fmt.Fprintf(tw, "%d\t%v\t%d\t%v\t%v\t%d\t\n", shard, log, rc.LastSeq[shard], st, snap.Counts, snap.Seq)
		bad = append(bad, shard)
	}
	tw.Flush()
	for _, shard := range bad {
		if evs := rc.Trace[shard]; len(evs) < tally.TraceEvents {
			fmt.Fprintf(out, "shard %d, every event:", shard)
			for _, e := range evs {
				fmt.Fprintf(out, " %d %s/%s %s;", e.Seq, e.User, e.Key, e.Outcome)
			}
			fmt.Fprintln(out)
		}
	}
}

func pad64(c []int64, n int) []int64 {
	out := make([]int64, n)
	copy(out, c)
	return out
}
