// Package parts names the parts of the vote path in CPU profiles, so a
// profile of a running node says what each part costs per vote: every
// goroutine of the vote path carries a pprof label "part" (intake, puback,
// write, fanout, fold, flush, nats-server), and goroutines a labelled one
// starts inherit its label. Handler serves the profiles, including a CPU
// profile started and stopped on request, which `votecast load` takes
// around a spike.
//
// Concurrency: Do and Set label the calling goroutine only; Handler is
// safe for concurrent use (one CPU profile at a time, a second start is
// refused).
package parts

import (
	"context"
	"runtime/pprof"
)

// Label is the pprof label key of a part.
const Label = "part"

// The parts of the vote path.
const (
	Intake     = "intake"       // a viewer's reader: read, decode, admit, publish (and nats.go's PubAck dispatch it starts)
	PubAck     = "puback"       // the acker: a PubAck turned into an answer
	AckWrite   = "ack-write"    // a writer round with acks only
	TotalWrite = "totals-write" // a writer round with a totals frame only
	BothWrite  = "ack+totals-write"
	Fanout     = "fanout" // the broadcast hub: sum, encode once, hand to every viewer
	Fold       = "fold"   // a tally shard runner
	Flush      = "flush"  // a tally flush to the store
	NATSServer = "nats-server"
	NATSClient = "nats-client"
)

// Do runs f with the calling goroutine labelled part; goroutines f starts
// inherit the label.
func Do(part string, f func()) {
	pprof.Do(context.Background(), pprof.Labels(Label, part), func(context.Context) { f() })
}

// Labels is a part's label set, made once so that a goroutine changing
// parts (a writer round by round) does not allocate.
type Labels struct{ ctx context.Context }

// For returns the label set of a part.
func For(part string) Labels {
	return Labels{pprof.WithLabels(context.Background(), pprof.Labels(Label, part))}
}

// Set labels the calling goroutine with l; the zero Labels removes its
// labels.
func (l Labels) Set() {
	if l.ctx == nil {
		pprof.SetGoroutineLabels(context.Background())
		return
	}
	pprof.SetGoroutineLabels(l.ctx)
}
