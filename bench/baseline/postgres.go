package baseline

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schema keeps the benchmark's tables apart, so Reset can drop them whole
// without touching anything else in the database it is pointed at.
const schema = "votecast_baseline"

// postgres is pg-hotrow (a counter row per option, locked and bumped in the
// ballot's transaction) or pg-insert (the ballot insert alone; counts are
// aggregated when read).
type postgres struct {
	pool   *pgxpool.Pool
	hotrow bool
}

func openPostgres(ctx context.Context, o OpenOptions, hotrow bool) (*postgres, error) {
	cfg, err := pgxpool.ParseConfig(o.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("parsing postgres URL: %w", err)
	}
	cfg.MaxConns = int32(o.Concurrency)
	cfg.MinConns = int32(o.Concurrency)
	// Asked for explicitly, although both are the defaults, because the
	// baseline is only fair if every vote waits for its WAL flush.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	if err := fillPool(ctx, pool, o.Concurrency); err != nil {
		pool.Close()
		return nil, err
	}
	return &postgres{pool: pool, hotrow: hotrow}, nil
}

// fillPool holds n connections at once so that all of them are dialled
// before the clock starts.
func fillPool(ctx context.Context, pool *pgxpool.Pool, n int) error {
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("opening postgres connection %d of %d: %w", len(conns)+1, n, err)
		}
		conns = append(conns, c)
	}
	return nil
}

func (p *postgres) Reset(ctx context.Context, poll string, options int) error {
	ddl := `DROP SCHEMA IF EXISTS ` + schema + ` CASCADE;
CREATE SCHEMA ` + schema + `;
CREATE TABLE ` + schema + `.ballots (
	poll    text     NOT NULL,
	user_id text     NOT NULL,
	option  smallint NOT NULL,
	PRIMARY KEY (poll, user_id)
);`
	if p.hotrow {
		ddl += `
CREATE TABLE ` + schema + `.counters (
	poll   text     NOT NULL,
	option smallint NOT NULL,
	count  bigint   NOT NULL,
	PRIMARY KEY (poll, option)
);`
	}
	if _, err := p.pool.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("creating the baseline tables: %w", err)
	}
	if p.hotrow {
		if _, err := p.pool.Exec(ctx,
			`INSERT INTO counters (poll, option, count) SELECT $1, g, 0 FROM generate_series(0, $2::int - 1) g`,
			poll, options); err != nil {
			return fmt.Errorf("creating the counter rows: %w", err)
		}
	}
	return nil
}

func (p *postgres) Vote(ctx context.Context, poll, user string, option int) (bool, error) {
	if !p.hotrow {
		_, err := p.pool.Exec(ctx, `INSERT INTO ballots (poll, user_id, option) VALUES ($1, $2, $3)`, poll, user, option)
		if isUniqueViolation(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("inserting the ballot: %w", err)
		}
		return true, nil
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("beginning the vote transaction: %w", err)
	}
	// A no-op once committed; on a refused or failed vote it ends the
	// transaction and frees the counter row's lock.
	defer func() { _ = tx.Rollback(ctx) }()
	var n int64
	if err := tx.QueryRow(ctx, `SELECT count FROM counters WHERE poll = $1 AND option = $2 FOR UPDATE`, poll, option).Scan(&n); err != nil {
		return false, fmt.Errorf("locking the counter row: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO ballots (poll, user_id, option) VALUES ($1, $2, $3)`, poll, user, option); err != nil {
		if isUniqueViolation(err) {
			return false, nil
		}
		return false, fmt.Errorf("inserting the ballot: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE counters SET count = count + 1 WHERE poll = $1 AND option = $2`, poll, option); err != nil {
		return false, fmt.Errorf("bumping the counter: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("committing the vote: %w", err)
	}
	return true, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func (p *postgres) Counts(ctx context.Context, poll string, options int) ([]int64, error) {
	q := `SELECT option, count(*) FROM ballots WHERE poll = $1 GROUP BY option`
	if p.hotrow {
		q = `SELECT option, count FROM counters WHERE poll = $1`
	}
	rows, err := p.pool.Query(ctx, q, poll)
	if err != nil {
		return nil, fmt.Errorf("reading the counts: %w", err)
	}
	counts := make([]int64, options)
	var option int
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&option, &n}, func() error {
		if option < 0 || option >= options {
			return fmt.Errorf("option %d is outside 0..%d", option, options-1)
		}
		counts[option] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the counts: %w", err)
	}
	return counts, nil
}

func (p *postgres) Settings(ctx context.Context) (map[string]string, error) {
	s := map[string]string{}
	for _, name := range []string{"server_version", "fsync", "synchronous_commit", "wal_sync_method", "max_connections"} {
		var v string
		// SHOW takes no parameters; the names are constants above.
		if err := p.pool.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			return nil, fmt.Errorf("reading setting %s: %w", name, err)
		}
		s[name] = v
	}
	return s, nil
}

func (p *postgres) Close() { p.pool.Close() }
