package node

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/votecast/votecast/natsnode"
	"github.com/votecast/votecast/preflight"
	"github.com/votecast/votecast/schema"
)

// Preflight describes this node for votecast preflight: its limits in
// force, what it sees of the log, the shards and the store, and the polls
// it holds. Each part has its own deadline, so one that hangs (a stream
// without a leader) is reported as such and does not hide the rest.
func (n *Node) Preflight(ctx context.Context) preflight.NodeReport {
	o := n.opts
	r := preflight.NodeReport{
		Version: o.Version, Roles: o.Roles.String(), Facts: o.Facts,
		OpenFilesLimit: preflight.OpenFilesLimit(), MemoryBytes: preflight.MemoryBytes(),
		Polls: []preflight.PollState{},
	}
	r.Limits.Replicas, r.Limits.Shards = max(o.Replicas, 1), o.Shards
	if n.ing != nil {
		s := n.ing.Settings()
		r.Limits.MaxConns, r.Limits.MaxConnsPerIP, r.Limits.MaxInFlight = s.MaxConns, s.MaxConnsPerIP, s.MaxInFlight
		r.Limits.VoteRate, r.Limits.MaxVoteRate = float64(s.VoteRate), s.MaxVoteRate
		r.Limits.StallTimeoutMS = float64(s.StallTimeout.Milliseconds())
		r.Connections = n.ing.Connections()
	}
	if n.room != nil {
		r.Limits.AdmitRate = n.room.Snapshot().Rate
	}
	if n.hub != nil {
		r.Limits.MaxDeliveries, r.Limits.TotalsIntervalMS = n.hub.Limits()
	}
	r.Log = natsnode.Health(ctx, o.JS, 3*time.Second, natsnode.HealthStreams...)
	r.Shards = n.shards(ctx)
	if n.store != nil {
		r.Store = n.pingStore(ctx)
	}
	for _, p := range n.catalog.List() {
		ps := preflight.PollState{ID: p.ID, Question: p.Question, State: string(p.State), Shards: p.Shards, Votes: -1}
		if n.hub != nil {
			if t, ok := n.hub.Totals(p.ID); ok {
				ps.Votes = 0
				for _, c := range t.Counts {
					ps.Votes += c
				}
			}
		}
		r.Polls = append(r.Polls, ps)
	}
	slices.SortFunc(r.Polls, func(a, b preflight.PollState) int { return cmp.Compare(a.ID, b.ID) })
	return r
}

func (n *Node) shards(ctx context.Context) preflight.Shards {
	wanted := n.opts.Shards
	for _, p := range n.catalog.List() {
		if p.State != schema.Draft {
			wanted = max(wanted, min(p.Shards, schema.MaxShards))
		}
	}
	return preflight.ReadShards(ctx, n.opts.JS, wanted)
}

func (n *Node) pingStore(ctx context.Context) *preflight.StoreState {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	kind := n.opts.Facts.Store
	if kind == "" {
		kind = "store"
	}
	return preflight.PingStore(ctx, kind, n.store.Ping)
}
