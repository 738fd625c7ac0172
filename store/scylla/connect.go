package scylla

import (
	"context"
	"errors"
	"fmt"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"
)

// connect creates a session, giving up when ctx ends. It starts the
// session without blocking and waits for it, rather than calling
// CreateSession, because a failed CreateSession leaves the driver's
// background goroutines running (scylladb/gocql v1.19.0), whereas a
// session that failed to start can still be closed. A session that is
// still starting when ctx ends is closed once it is done.
func connect(ctx context.Context, opts Options, keyspace string) (gocqlx.Session, error) {
	s, err := cluster(opts, keyspace).CreateSessionNonBlocking()
	if err != nil {
		return gocqlx.Session{}, err
	}
	ready := make(chan error, 1)
	go func() { ready <- s.WaitUntilReady() }()
	select {
	case err := <-ready:
		if err != nil {
			s.Close()
			return gocqlx.Session{}, sessionError(err)
		}
		return gocqlx.NewSession(s), nil
	case <-ctx.Done():
		go func() {
			<-ready
			s.Close()
		}()
		return gocqlx.Session{}, ctx.Err()
	}
}

// diagnose looks closer at a failed connect that reached the cluster: the
// driver then only says "no connections were made", which is what a
// missing keyspace looks like (its cause goes to the log). Without the
// keyspace, retrying is futile; with it, the connections failed for
// another reason, likely a passing one.
func diagnose(ctx context.Context, opts Options, err error) error {
	if retriable(err) || ctx.Err() != nil {
		return err
	}
	s, cerr := connect(ctx, opts, "")
	if cerr != nil {
		return err
	}
	defer s.Close()
	exists, kerr := keyspaceExists(ctx, s, opts.Keyspace)
	switch {
	case kerr != nil:
		return err
	case !exists:
		return errors.New("keyspace does not exist: run Migrate first")
	default:
		return fmt.Errorf("%w: %w", errUnreachable, err)
	}
}

func keyspaceExists(ctx context.Context, s gocqlx.Session, keyspace string) (bool, error) {
	var name string
	err := s.ContextQuery(ctx, "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", nil).
		Bind(keyspace).Idempotent(true).Scan(&name)
	if errors.Is(err, gocql.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
