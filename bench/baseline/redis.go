package baseline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// voteScript records the user in the poll's voter set and, only when the
// set did not hold them yet, bumps the option's count: one script, so the
// check and the count are atomic on the server.
var voteScript = redis.NewScript(`
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
	redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
	return 1
end
return 0
`)

// redisDesign is redis-everysec or redis-always: the same script, with the
// server's AOF fsync policy set by Reset.
type redisDesign struct {
	rdb   *redis.Client
	fsync string
}

func openRedis(ctx context.Context, o OpenOptions, fsync string) (*redisDesign, error) {
	rdb := redis.NewClient(&redis.Options{
		Addr:         o.RedisAddr,
		PoolSize:     o.Concurrency,
		MinIdleConns: o.Concurrency,
	})
	// As many pings at once as there will be clients, so the pool is
	// dialled before the clock starts.
	errs := make([]error, o.Concurrency)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = rdb.Ping(ctx).Err() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("connecting to redis at %s: %w", o.RedisAddr, err)
	}
	return &redisDesign{rdb: rdb, fsync: fsync}, nil
}

func votersKey(poll string) string { return "voters:" + poll }
func countsKey(poll string) string { return "counts:" + poll }

func (r *redisDesign) Reset(ctx context.Context, poll string, _ int) error {
	// Turning the AOF on at run time starts a rewrite that would overlap
	// the run, so the server must have been started with it on.
	aof, err := r.rdb.ConfigGet(ctx, "appendonly").Result()
	if err != nil {
		return fmt.Errorf("reading appendonly: %w", err)
	}
	if aof["appendonly"] != "yes" {
		return fmt.Errorf("redis runs with appendonly %q; start it with --appendonly yes", aof["appendonly"])
	}
	if err := r.rdb.ConfigSet(ctx, "appendfsync", r.fsync).Err(); err != nil {
		return fmt.Errorf("setting appendfsync %s: %w", r.fsync, err)
	}
	if err := r.rdb.Del(ctx, votersKey(poll), countsKey(poll)).Err(); err != nil {
		return fmt.Errorf("emptying the poll: %w", err)
	}
	if err := voteScript.Load(ctx, r.rdb).Err(); err != nil {
		return fmt.Errorf("loading the vote script: %w", err)
	}
	return nil
}

func (r *redisDesign) Vote(ctx context.Context, poll, user string, option int) (bool, error) {
	n, err := voteScript.Run(ctx, r.rdb, []string{votersKey(poll), countsKey(poll)}, user, option).Int64()
	if err != nil {
		return false, fmt.Errorf("running the vote script: %w", err)
	}
	return n == 1, nil
}

func (r *redisDesign) Counts(ctx context.Context, poll string, options int) ([]int64, error) {
	h, err := r.rdb.HGetAll(ctx, countsKey(poll)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the counts: %w", err)
	}
	counts := make([]int64, options)
	for field, value := range h {
		option, err := strconv.Atoi(field)
		if err != nil || option < 0 || option >= options {
			return nil, fmt.Errorf("counts hash has field %q, not an option in 0..%d", field, options-1)
		}
		if counts[option], err = strconv.ParseInt(value, 10, 64); err != nil {
			return nil, fmt.Errorf("count of option %d: %w", option, err)
		}
	}
	return counts, nil
}

func (r *redisDesign) Settings(ctx context.Context) (map[string]string, error) {
	s := map[string]string{}
	for _, name := range []string{"appendonly", "appendfsync", "save"} {
		v, err := r.rdb.ConfigGet(ctx, name).Result()
		if err != nil {
			return nil, fmt.Errorf("reading setting %s: %w", name, err)
		}
		s[name] = v[name]
	}
	info, err := r.rdb.Info(ctx, "server").Result()
	if err != nil {
		return nil, fmt.Errorf("reading server info: %w", err)
	}
	s["redis_version"] = infoField(info, "redis_version")
	return s, nil
}

func (r *redisDesign) Close() { _ = r.rdb.Close() }

// infoField reads one "name:value" line of an INFO reply.
func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
