// Package preflight is the checklist an operator runs before a live show:
// each node describes itself (NodeReport, served at GET /api/preflight),
// and Check turns those descriptions, the last load run and Prometheus's
// view into items an operator can act on, each ok, warn or fail.
//
// The nodes report facts; the judging happens here, in one place, so a
// one-node laptop and a cluster are held to the same rules.
package preflight

import "github.com/votecast/votecast/natsnode"

// Facts are what only the process that started a node knows.
type Facts struct {
	// NATS is "embedded" (in this process) or "external".
	NATS string `json:"nats"`
	// JSSync is the embedded server's fsync ("always" or an interval);
	// "" for an external NATS, whose servers' config holds it.
	JSSync string `json:"js_sync"`
	// Store is "embedded" or "scylla"; StorePool the connections per
	// ScyllaDB host. Both empty on a node without the tally role.
	Store     string `json:"store,omitempty"`
	StorePool int    `json:"store_pool,omitempty"`
}

// NodeReport is one node describing itself.
type NodeReport struct {
	Version string `json:"version"`
	Roles   string `json:"roles"`
	Facts   Facts  `json:"facts"`
	Limits  Limits `json:"limits"`
	// OpenFilesLimit is the process's soft limit on open files, each
	// viewer connection one; MemoryBytes what the process may use (its
	// cgroup's limit, else the machine's memory). 0: unknown.
	OpenFilesLimit uint64 `json:"open_files_limit"`
	MemoryBytes    uint64 `json:"memory_bytes"`
	Connections    int    `json:"connections"`
	// Log is each stream the node depends on, as it sees it now.
	Log    []natsnode.StreamHealth `json:"log"`
	Shards Shards                  `json:"shards"`
	// Store is set on a node with the tally role.
	Store *StoreState `json:"store,omitempty"`
	Polls []PollState `json:"polls"`
}

// Limits are the node's settings that bound what it takes.
type Limits struct {
	MaxConns         int     `json:"max_conns"`
	MaxConnsPerIP    int     `json:"max_conns_per_ip"`
	VoteRate         float64 `json:"vote_rate"`     // frames per second per connection
	MaxVoteRate      float64 `json:"max_vote_rate"` // votes per second before the waiting room
	AdmitRate        float64 `json:"admit_rate"`
	MaxInFlight      int     `json:"max_in_flight"`
	MaxDeliveries    int     `json:"max_deliveries"`
	TotalsIntervalMS float64 `json:"totals_interval_ms"`
	StallTimeoutMS   float64 `json:"stall_timeout_ms"`
	Replicas         int     `json:"replicas"`
	Shards           int     `json:"shards"`
}

// Shards is who folds the shard indices, from the tally's owners bucket.
type Shards struct {
	Wanted  int    `json:"wanted"`  // indices that must have an owner
	Unowned []int  `json:"unowned"` // of those, the ones without
	Members int    `json:"members"` // tally nodes alive
	Error   string `json:"error,omitempty"`
}

// StoreState is the tally's store as its node sees it.
type StoreState struct {
	Kind   string  `json:"kind"`
	PingMS float64 `json:"ping_ms"`
	Error  string  `json:"error,omitempty"`
}

// PollState is a poll in the node's memory.
type PollState struct {
	ID       string `json:"id"`
	Question string `json:"question"`
	State    string `json:"state"`
	Shards   int    `json:"shards"`
	// Votes is the sum of the totals this node would send; -1 on a node
	// without the broadcast role.
	Votes int64 `json:"votes"`
}
