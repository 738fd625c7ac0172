package scylla

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/gocql/gocql"
)

// Options configures Open and Migrate.
type Options struct {
	// Hosts are contact points, "host" or "host:port" (port 9042 when
	// omitted); the driver discovers the rest of the cluster. Required.
	Hosts []string
	// Keyspace holds the tables. Zero value: "votecast". Lower-case letters,
	// digits and underscores, starting with a letter, at most 48 bytes.
	Keyspace string
	// Consistency of every read and write, by its CQL name ("ONE",
	// "LOCAL_ONE", "QUORUM", ...). Zero value: "LOCAL_QUORUM", which on a
	// single dev node with replication factor 1 needs that one node only.
	// At a quorum level a read sees every acknowledged write, which a new
	// shard owner loading ballots relies on; ONE trades that away.
	Consistency string
	// LocalDC, when set, keeps queries in that datacenter (DC-aware,
	// token-aware routing). Zero value: token-aware round robin over all
	// hosts, right for one datacenter.
	LocalDC string
	// Timeout bounds one request to the cluster. Zero value: 10s, above the
	// servers' own read and write timeouts so their typed errors reach us.
	Timeout time.Duration
	// ConnectTimeout bounds dialling one host. Zero value: 5s.
	ConnectTimeout time.Duration
	// NumConns is the number of connections per host; the driver opens one
	// per CPU shard on ScyllaDB whatever this says. Zero value: 2.
	NumConns int
	// MaxConcurrentFlushes caps the batches one Flush has in flight at
	// once. Zero value: 16.
	MaxConcurrentFlushes int
	// Logger receives the driver's messages (hosts going down, reconnects).
	// Zero value: slog.Default().
	Logger *slog.Logger
}

const (
	defaultKeyspace    = "votecast"
	defaultConsistency = "LOCAL_QUORUM"
	defaultTimeout     = 10 * time.Second
	defaultConnect     = 5 * time.Second
	defaultNumConns    = 2
	defaultConcurrency = 16

	// A driver retry waits 100ms, 200ms, 400ms (with jitter): enough to
	// ride out a replica restart without holding a flush for long.
	retries     = 3
	retryMinGap = 100 * time.Millisecond
	retryMaxGap = 2 * time.Second
)

// Keyspace names go into DDL unquoted, so only safe identifiers pass.
var keyspaceName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// withDefaults returns opts with zero values filled in, or why they are
// not usable.
func (opts Options) withDefaults() (Options, error) {
	if len(opts.Hosts) == 0 {
		return opts, errors.New("no hosts")
	}
	if opts.Keyspace == "" {
		opts.Keyspace = defaultKeyspace
	}
	if !keyspaceName.MatchString(opts.Keyspace) {
		return opts, fmt.Errorf("keyspace %q: want lower-case letters, digits and _ , starting with a letter", opts.Keyspace)
	}
	opts.Consistency = strings.ToUpper(cmp.Or(opts.Consistency, defaultConsistency))
	c, err := gocql.ParseConsistencyWrapper(opts.Consistency)
	if err != nil {
		return opts, fmt.Errorf("consistency %q: %w", opts.Consistency, err)
	}
	if c == gocql.Any || c.IsSerial() {
		return opts, fmt.Errorf("consistency %s: not usable for both reads and writes", opts.Consistency)
	}
	if opts.Timeout < 0 || opts.ConnectTimeout < 0 || opts.NumConns < 0 || opts.MaxConcurrentFlushes < 0 {
		return opts, errors.New("negative timeout, connection count or concurrency")
	}
	opts.Timeout = cmp.Or(opts.Timeout, defaultTimeout)
	opts.ConnectTimeout = cmp.Or(opts.ConnectTimeout, defaultConnect)
	opts.NumConns = cmp.Or(opts.NumConns, defaultNumConns)
	opts.MaxConcurrentFlushes = cmp.Or(opts.MaxConcurrentFlushes, defaultConcurrency)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return opts, nil
}

// cluster turns validated options into a driver configuration. keyspace
// may be empty for a session that creates it.
func cluster(opts Options, keyspace string) *gocql.ClusterConfig {
	c := gocql.NewCluster(opts.Hosts...)
	c.Keyspace = keyspace
	c.Consistency = gocql.ParseConsistency(opts.Consistency) // validated in withDefaults
	c.Timeout = opts.Timeout
	c.ConnectTimeout = opts.ConnectTimeout
	c.NumConns = opts.NumConns
	fallback := gocql.RoundRobinHostPolicy()
	if opts.LocalDC != "" {
		fallback = gocql.DCAwareRoundRobinPolicy(opts.LocalDC)
	}
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(fallback)
	c.RetryPolicy = &gocql.ExponentialBackoffRetryPolicy{NumRetries: retries, Min: retryMinGap, Max: retryMaxGap}
	c.Logger = driverLog{opts.Logger}
	return c
}
