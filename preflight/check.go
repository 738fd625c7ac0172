package preflight

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/votecast/votecast/natsnode"
)

// States of an item, worst last.
const (
	OK     = "ok"
	Manual = "manual" // votecast cannot check it; the operator must
	Skip   = "skip"   // not checked: an input is missing
	Warn   = "warn"
	Fail   = "fail"
)

// Item is one line of the checklist.
type Item struct {
	Item   string `json:"item"`
	State  string `json:"state"`
	Figure string `json:"figure"`
	Todo   string `json:"todo,omitempty"` // what to do; empty when ok
}

// Node is one --url's answer.
type Node struct {
	URL    string      `json:"url"`
	Report *NodeReport `json:"report,omitempty"`
	Err    string      `json:"error,omitempty"`
}

// Inputs is everything Check judges.
type Inputs struct {
	Nodes []Node
	Load  LoadRun
	// Prom is Prometheus's view; nil: no --prometheus given.
	Prom *Prometheus
	// Polls are the show's polls; empty: every poll not closed.
	Polls []string
	// Store is preflight's own check of the store (--scylla); nil: none.
	Store *StoreState
	// Direct is preflight's own read of the log (--nats); nil: none.
	Direct *Direct
	Now    time.Time
}

// Direct is what preflight read of the log itself, over --nats: the same
// streams and shard owners the edges report, from where it runs. A
// tally-only node serves no API; this sees its shards all the same.
type Direct struct {
	Log    []natsnode.StreamHealth `json:"log"`
	Shards Shards                  `json:"shards"`
	Err    string                  `json:"error,omitempty"`
}

// Check judges in. Every item is there whatever the inputs: one not
// checked says so, and what would check it.
func Check(in Inputs) []Item {
	var up []*NodeReport
	var down []string
	for _, n := range in.Nodes {
		if n.Report == nil {
			down = append(down, fmt.Sprintf("%s: %s", n.URL, n.Err))
			continue
		}
		up = append(up, n.Report)
	}
	items := []Item{nodesItem(len(in.Nodes), down)}
	if len(up) == 0 {
		return append(items, Item{Item: "everything else", State: Skip, Figure: "no node answered", Todo: "start the nodes, then run preflight again"})
	}
	// The log's items judge the edges' views and preflight's own alike.
	logViews := up
	if d := in.Direct; d != nil {
		items = append(items, directItem(d))
		if d.Err == "" {
			logViews = append(slices.Clone(up), &NodeReport{Facts: Facts{NATS: "external"}, Log: d.Log, Shards: d.Shards})
		}
	}
	items = append(items,
		rateItem(up, in.Load),
		connsItem(up, in.Load),
		logItem(logViews),
		replicasItem(logViews),
		syncItem(up),
		leadersItem(logViews),
		shardsItem(logViews),
		warmItem(in.Nodes, in.Polls),
		storeItem(up, in.Store),
		poolsItem(up),
		loadItem(in.Load, in.Now),
		fallbackItem(up),
	)
	items = append(items, promItems(in.Prom)...)
	return append(items, Item{
		Item: "autoscaling tested", State: Manual, Figure: "votecast cannot check this",
		Todo: "add an edge under load (votecast load against two --url) before the show",
	})
}

// Verdict sums the items up: ready when none failed.
func Verdict(items []Item) (ready bool, line string) {
	var failed, warned []string
	for _, it := range items {
		switch it.State {
		case Fail:
			failed = append(failed, it.Item)
		case Warn:
			warned = append(warned, it.Item)
		}
	}
	if len(failed) > 0 {
		return false, fmt.Sprintf("NOT READY: %d failed (%s)", len(failed), strings.Join(failed, ", "))
	}
	if len(warned) > 0 {
		return true, fmt.Sprintf("READY, with %d warnings (%s)", len(warned), strings.Join(warned, ", "))
	}
	return true, "READY"
}

func directItem(d *Direct) Item {
	it := Item{Item: "log reachable from here", State: OK, Figure: fmt.Sprintf("%d streams read over --nats", len(d.Log))}
	if d.Err != "" {
		it.State, it.Figure, it.Todo = Fail, d.Err, "check --nats and its credentials"
	}
	return it
}

func nodesItem(asked int, down []string) Item {
	it := Item{Item: "nodes answer", State: OK, Figure: fmt.Sprintf("%d of %d", asked-len(down), asked)}
	if len(down) > 0 {
		it.State, it.Figure = Fail, it.Figure+"; "+strings.Join(down, "; ")
		it.Todo = "check each --url and the producer token"
	}
	return it
}

// each applies f to every node and keeps the worst item.
func each(up []*NodeReport, f func(*NodeReport) Item) Item {
	var worst Item
	for i, r := range up {
		it := f(r)
		if i == 0 || rank(it.State) > rank(worst.State) {
			worst = it
		}
	}
	return worst
}

func rank(state string) int {
	return slices.Index([]string{OK, Manual, Skip, Warn, Fail}, state)
}

func rateItem(up []*NodeReport, load LoadRun) Item {
	return each(up, func(r *NodeReport) Item {
		l := r.Limits
		it := Item{Item: "rate limits set", State: OK, Figure: fmt.Sprintf("%s votes/s per viewer, %s votes/s per edge then the waiting room, %s connections per address",
			num(l.VoteRate), num(l.MaxVoteRate), num(float64(l.MaxConnsPerIP)))}
		switch {
		case l.VoteRate <= 0 || l.MaxVoteRate <= 0:
			it.State, it.Todo = Fail, "set serve --vote-rate and --max-vote-rate"
		case load.Report == nil:
			it.State, it.Todo = Warn, "no load run to compare --max-vote-rate with: "+loadTodo
		case float64(load.Report.Connected) < l.MaxVoteRate:
			// A run of fewer votes than a second's worth at the cap
			// ends before it could show the node falling behind.
			it.State = Warn
			it.Figure += fmt.Sprintf("; the last load run, %s votes, is too short to test it", num(float64(load.Report.Connected)))
			it.Todo = fmt.Sprintf("run votecast load --viewers %s --report FILE against a staging node", num(2*l.MaxVoteRate))
		case load.Report.AcceptedPerSecond > 0 && l.MaxVoteRate > load.Report.AcceptedPerSecond:
			it.State = Fail
			it.Figure += fmt.Sprintf("; the last load run measured %s accepted/s", num(load.Report.AcceptedPerSecond))
			it.Todo = fmt.Sprintf("lower serve --max-vote-rate to at most %s, or measure again", num(load.Report.AcceptedPerSecond))
		default:
			it.Figure += fmt.Sprintf(" (measured %s accepted/s)", num(load.Report.AcceptedPerSecond))
		}
		return it
	})
}

func connsItem(up []*NodeReport, load LoadRun) Item {
	return each(up, func(r *NodeReport) Item {
		l := r.Limits
		it := Item{Item: "connection cap fits the node", State: OK, Figure: fmt.Sprintf("%s viewers, %d now; open files limit %s",
			num(float64(l.MaxConns)), r.Connections, num(float64(r.OpenFilesLimit)))}
		// Every connection is a file, and the log, the store and the
		// listener need some besides.
		const spare = 1024
		if r.OpenFilesLimit > 0 && uint64(l.MaxConns)+spare > r.OpenFilesLimit {
			it.State = Fail
			it.Todo = fmt.Sprintf("raise the open files limit (ulimit -n, LimitNOFILE) to %s or lower serve --max-conns to %s",
				num(float64(l.MaxConns+spare)), num(float64(int(r.OpenFilesLimit)-spare)))
			return it
		}
		if load.Report == nil || load.Report.IdleBytesPerConn <= 0 || r.MemoryBytes == 0 {
			return it
		}
		need := float64(l.MaxConns) * load.Report.IdleBytesPerConn
		it.Figure += fmt.Sprintf("; idle connections need %s of %s memory", bytesOf(need), bytesOf(float64(r.MemoryBytes)))
		if need > 0.8*float64(r.MemoryBytes) {
			it.State = Fail
			it.Todo = fmt.Sprintf("lower serve --max-conns to %s, or give the node more memory",
				num(0.8*float64(r.MemoryBytes)/load.Report.IdleBytesPerConn))
		}
		return it
	})
}

func logItem(up []*NodeReport) Item {
	return each(up, func(r *NodeReport) Item {
		it := Item{Item: "vote log reachable", State: OK}
		var figs []string
		for _, s := range r.Log {
			switch {
			case s.Error != "":
				it.State, it.Todo = Fail, "check NATS: the node cannot read the stream"
				figs = append(figs, s.Name+": "+s.Error)
			case s.Leader == "":
				it.State, it.Todo = Fail, "the stream has no leader: check the NATS servers (nats server report jetstream)"
				figs = append(figs, s.Name+": no leader")
			}
		}
		if it.State == OK {
			figs = append(figs, fmt.Sprintf("%d streams led, %s votes in the log", len(r.Log), num(float64(votesMsgs(r)))))
		}
		it.Figure = strings.Join(figs, "; ")
		return it
	})
}

func votesMsgs(r *NodeReport) uint64 {
	for _, s := range r.Log {
		if s.Name == "VOTES" {
			return s.Msgs
		}
	}
	return 0
}

func replicasItem(up []*NodeReport) Item {
	return each(up, func(r *NodeReport) Item {
		it := Item{Item: "log replicas", State: OK}
		var short []string
		for _, s := range r.Log {
			if s.Error == "" && s.Current < s.Replicas {
				short = append(short, fmt.Sprintf("%s %d of %d current", s.Name, s.Current, s.Replicas))
			}
		}
		minR := least(r, func(s natsnode.StreamHealth) int { return s.Replicas })
		minCur := least(r, func(s natsnode.StreamHealth) int { return s.Current })
		it.Figure = fmt.Sprintf("R%d, %d current", minR, minCur)
		switch {
		case len(short) > 0:
			it.State, it.Figure = Fail, strings.Join(short, "; ")
			it.Todo = "a NATS server is down or catching up: wait, or replace it before air"
		case r.Facts.NATS == "embedded":
			it.Figure += " (one machine: the log survives a crash, the service waits for the restart)"
		case minR < 3:
			it.State, it.Todo = Warn, "run three NATS servers and serve --replicas 3 to survive the loss of one"
		}
		return it
	})
}

func syncItem(up []*NodeReport) Item {
	return each(up, func(r *NodeReport) Item {
		s := r.Facts.JSSync
		it := Item{Item: "log fsync", State: OK, Figure: s}
		switch {
		case s == "":
			it.State, it.Figure = Warn, "set on the external NATS servers"
			it.Todo = "check their sync_interval (deploy/nats/nats.conf): with R3, the default is safe; with R1 use always"
		case s == "always":
			it.Figure = "always: every accepted vote is on disk before its answer"
		case least(r, func(s natsnode.StreamHealth) int { return s.Replicas }) < 3:
			it.State = Fail
			it.Figure = s + " with one copy: votes accepted in the last " + s + " are lost if the machine loses power"
			it.Todo = "serve --js-sync always"
		}
		return it
	})
}

// least is the smallest of f over the streams the node could read (one
// it could not says nothing of its replicas); 0 when it read none.
func least(r *NodeReport, f func(natsnode.StreamHealth) int) int {
	m, seen := 0, false
	for _, s := range r.Log {
		if s.Error == "" && (!seen || f(s) < m) {
			m, seen = f(s), true
		}
	}
	return m
}

func leadersItem(up []*NodeReport) Item {
	leaders := map[string][]string{}
	clustered := false
	for _, s := range up[0].Log {
		if s.Leader != "" {
			leaders[s.Leader] = append(leaders[s.Leader], s.Name)
		}
		clustered = clustered || s.Cluster
	}
	it := Item{Item: "log leaders spread", State: OK}
	var figs []string
	for _, name := range slices.Sorted(maps.Keys(leaders)) {
		figs = append(figs, fmt.Sprintf("%s leads %s", name, strings.Join(leaders[name], ", ")))
	}
	it.Figure = strings.Join(figs, "; ")
	if !clustered {
		it.Figure = "one server: " + it.Figure
	} else if len(leaders) == 1 && len(up[0].Log) > 1 {
		it.State = Warn
		it.Todo = "every stream is led by one server: move some (nats stream cluster step-down) so one server's loss moves fewer"
	}
	return it
}

func shardsItem(up []*NodeReport) Item {
	return each(up, func(r *NodeReport) Item {
		s := r.Shards
		it := Item{Item: "every shard owned", State: OK,
			Figure: fmt.Sprintf("%d of %d owned by %d tally node(s)", s.Wanted-len(s.Unowned), s.Wanted, s.Members)}
		switch {
		case s.Error != "":
			it.State, it.Figure, it.Todo = Fail, s.Error, "check NATS"
		case s.Members == 0:
			it.State, it.Todo = Fail, "no tally node is alive: start one (serve --roles tally)"
		case len(s.Unowned) > 0:
			it.State, it.Todo = Fail, fmt.Sprintf("shards %v have no owner: votes there wait uncounted; check the tally nodes' logs", s.Unowned)
		}
		return it
	})
}

func warmItem(nodes []Node, want []string) Item {
	it := Item{Item: "show's polls warm on every node", State: OK}
	type seen struct {
		state string
		votes []int64
	}
	polls := map[string]*seen{}
	var order []string
	for _, n := range nodes {
		if n.Report == nil {
			continue
		}
		for _, p := range n.Report.Polls {
			if len(want) == 0 && p.State == "closed" || len(want) > 0 && !slices.Contains(want, p.ID) {
				continue
			}
			s := polls[p.ID]
			if s == nil {
				s = &seen{state: p.State}
				polls[p.ID] = s
				order = append(order, p.ID)
			}
			s.votes = append(s.votes, p.Votes)
		}
	}
	up := 0
	for _, n := range nodes {
		if n.Report != nil {
			up++
		}
	}
	var figs, cold []string
	for _, id := range append(order, missing(want, polls)...) {
		s := polls[id]
		if s == nil || len(s.votes) < up {
			cold = append(cold, id)
			continue
		}
		figs = append(figs, fmt.Sprintf("%s (%s, %d votes)", id, s.state, max(slices.Max(s.votes), 0)))
	}
	switch {
	case len(cold) > 0:
		it.State, it.Figure = Fail, "not in every node's memory: "+strings.Join(cold, ", ")
		it.Todo = "check the poll ids (--poll); a node that misses a poll cannot read the polls bucket"
	case len(figs) == 0:
		it.State, it.Figure = Warn, "no open or draft poll"
		it.Todo = "create the show's polls before air, or name them with --poll"
	default:
		it.Figure = fmt.Sprintf("%d polls on %d nodes: %s", len(figs), up, strings.Join(figs, ", "))
	}
	return it
}

func missing[V any](want []string, have map[string]V) []string {
	var out []string
	for _, id := range want {
		if _, ok := have[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

func storeItem(up []*NodeReport, own *StoreState) Item {
	it := Item{Item: "store reachable", State: OK}
	var states []StoreState
	for _, r := range up {
		if r.Store != nil {
			states = append(states, *r.Store)
		}
	}
	if own != nil {
		states = append(states, *own)
	}
	if len(states) == 0 {
		it.State, it.Figure = Skip, "no node here has the tally role"
		it.Todo = "give preflight --scylla HOSTS to check the store from here"
		return it
	}
	var figs []string
	for _, s := range states {
		if s.Error != "" {
			it.State, it.Todo = Fail, "the tally cannot write: check the store (votes wait in the log meanwhile)"
			figs = append(figs, s.Kind+": "+s.Error)
			continue
		}
		figs = append(figs, fmt.Sprintf("%s, ping %.1f ms", s.Kind, s.PingMS))
	}
	it.Figure = strings.Join(slices.Compact(figs), "; ")
	return it
}

func poolsItem(up []*NodeReport) Item {
	return each(up, func(r *NodeReport) Item {
		l := r.Limits
		fig := fmt.Sprintf("%s votes awaiting the log at once", num(float64(l.MaxInFlight)))
		if r.Facts.Store == "scylla" {
			fig += fmt.Sprintf("; %d store connections per host", r.Facts.StorePool)
		}
		it := Item{Item: "pools sized", State: OK, Figure: fig}
		if l.MaxInFlight < int(l.MaxVoteRate/10) {
			// Fewer slots than a tenth of a second of votes: a log round
			// trip of 100 ms would have the edge answer retry.
			it.State = Warn
			it.Todo = fmt.Sprintf("raise serve --max-in-flight to %s", num(l.MaxVoteRate/10))
		}
		return it
	})
}

func fallbackItem(up []*NodeReport) Item {
	return each(up, func(r *NodeReport) Item {
		l := r.Limits
		it := Item{Item: "fallbacks on", State: OK, Figure: fmt.Sprintf(
			"log lost: votes answered retry after %s ms; store lost: votes wait in the log, counted on its return; over %s votes/s: waiting room at %s viewers/s",
			num(l.StallTimeoutMS), num(l.MaxVoteRate), num(l.AdmitRate))}
		if l.StallTimeoutMS <= 0 || l.StallTimeoutMS > 10_000 {
			it.State, it.Todo = Fail, "set serve --stall-timeout to a few seconds, so viewers resend rather than wait"
		}
		return it
	})
}

func promItems(p *Prometheus) []Item {
	scraped := Item{Item: "metrics scraped"}
	alerts := Item{Item: "alert rules loaded"}
	if p == nil {
		for _, it := range []*Item{&scraped, &alerts} {
			it.State, it.Figure, it.Todo = Skip, "no Prometheus given", "give preflight --prometheus URL"
		}
		return []Item{scraped, alerts}
	}
	if p.Err != "" {
		for _, it := range []*Item{&scraped, &alerts} {
			it.State, it.Figure, it.Todo = Fail, p.Err, "check --prometheus"
		}
		return []Item{scraped, alerts}
	}
	var down []string
	for _, t := range p.Targets {
		if t.Health != "up" {
			down = append(down, fmt.Sprintf("%s (%s)", t.URL, t.Error))
		}
	}
	scraped.State, scraped.Figure = OK, fmt.Sprintf("%d of %d votecast targets up", len(p.Targets)-len(down), len(p.Targets))
	switch {
	case len(p.Targets) == 0:
		scraped.State, scraped.Todo = Fail, "Prometheus scrapes no votecast node: add them (deploy/prometheus/prometheus.yml)"
	case len(down) > 0:
		scraped.State, scraped.Todo = Fail, "down: "+strings.Join(down, ", ")
	}
	var absent []string
	for _, name := range p.Want {
		if !slices.Contains(p.Alerts, name) {
			absent = append(absent, name)
		}
	}
	alerts.State, alerts.Figure = OK, fmt.Sprintf("%d of %d votecast alerts loaded", len(p.Want)-len(absent), len(p.Want))
	if len(absent) > 0 {
		alerts.State, alerts.Todo = Fail, "load deploy/prometheus/alerts.yml (rule_files); missing: "+strings.Join(absent, ", ")
	}
	return []Item{scraped, alerts}
}
