package baseline

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Design is one way of storing votes with one vote per user.
type Design interface {
	// Reset empties the poll and prepares its storage for options options.
	Reset(ctx context.Context, poll string, options int) error
	// Vote casts user's vote; accepted is false when the design refused it
	// as a second vote of the same user.
	Vote(ctx context.Context, poll, user string, option int) (accepted bool, err error)
	// Counts reads the poll's per-option totals back the way the design
	// would serve them.
	Counts(ctx context.Context, poll string, options int) ([]int64, error)
	// Settings reports the server's durability settings in force, so a
	// result says what it was measured under rather than what was asked.
	Settings(ctx context.Context) (map[string]string, error)
	Close()
}

// OpenOptions says where the servers are and how many clients will vote.
type OpenOptions struct {
	PostgresURL string
	RedisAddr   string
	// Concurrency is the pool size; the pool is filled before Open returns
	// so that connecting is not measured as vote latency.
	Concurrency int
}

// Designs lists the names Open knows, in the order a full run takes them.
var designs = []string{"pg-hotrow", "pg-insert", "redis-everysec", "redis-always"}

// Designs returns the names Open accepts.
func Designs() []string { return slices.Clone(designs) }

// Open connects to the server of the named design.
func Open(ctx context.Context, name string, o OpenOptions) (Design, error) {
	switch name {
	case "pg-hotrow":
		return openPostgres(ctx, o, true)
	case "pg-insert":
		return openPostgres(ctx, o, false)
	case "redis-everysec":
		return openRedis(ctx, o, "everysec")
	case "redis-always":
		return openRedis(ctx, o, "always")
	}
	return nil, fmt.Errorf("unknown design %q (want one of %s)", name, strings.Join(designs, ", "))
}
