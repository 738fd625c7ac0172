package scylla

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/gocql/gocql"

	"github.com/votecast/votecast/tally"
)

// wrapErr says what was being done and, when a retry may cure err (the
// cluster is down, overloaded or slow), marks it with
// tally.ErrStoreUnavailable so the tally keeps the flush and tries again.
func wrapErr(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if retriable(err) {
		return fmt.Errorf("%s: %w: %w", what, tally.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Driver errors that mean no node answered in time, or no connection to
// one is there now.
var transient = []error{
	gocql.ErrNoConnections,
	gocql.ErrNoConnectionsInPool,
	gocql.ErrNoPool,
	gocql.ErrHostDown,
	gocql.ErrNoStreams,
	gocql.ErrTimeoutNoResponse,
	gocql.ErrConnectionClosed,
	gocql.ErrSessionNotReady,
	gocql.ErrUnavailable,
	// The caller's deadline passed while the cluster was busy: the same
	// request may well go through on the next try. Cancellation is not
	// here: the caller stopped on purpose.
	context.DeadlineExceeded,
}

// Server error codes that say "not now" rather than "never".
var transientCodes = map[int]bool{
	gocql.ErrCodeUnavailable:   true, // too few replicas alive for the consistency
	gocql.ErrCodeOverloaded:    true,
	gocql.ErrCodeBootstrapping: true,
	gocql.ErrCodeWriteTimeout:  true,
	gocql.ErrCodeReadTimeout:   true,
}

// serverCode is the CQL error code of a server's error reply in err. The
// error types of the driver this module uses (scylladb/gocql v1.19) carry
// it as GetCode; none has the Code of gocql.RequestError, so looking for
// that interface alone found no code at all. It is still looked for in
// case a later driver brings it back.
func serverCode(err error) (int, bool) {
	var fe interface{ GetCode() int }
	if errors.As(err, &fe) {
		return fe.GetCode(), true
	}
	var re gocql.RequestError
	if errors.As(err, &re) {
		return re.Code(), true
	}
	return 0, false
}

func retriable(err error) bool {
	for _, t := range transient {
		if errors.Is(err, t) {
			return true
		}
	}
	if code, ok := serverCode(err); ok && transientCodes[code] {
		return true
	}
	if errors.Is(err, errUnreachable) {
		return true
	}
	var ne net.Error // refused or unreachable while dialling
	var oe *net.OpError
	return errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}

// The driver flattens the cause of a failed CreateSession into text (%v),
// so errors.Is cannot see a refused dial there. These phrases are what a
// node that is down, starting or unreachable makes it say.
var networkFailures = []string{
	"connection refused",
	"connection reset",
	"i/o timeout",
	"no route to host",
	"network is unreachable",
	"unable to discover protocol version",
}

// sessionError marks a failed CreateSession as transient when the cluster
// could not be reached, so a caller starting before the database (a fresh
// docker compose up) knows to try again. A missing keyspace or a refused
// login stays permanent.
func sessionError(err error) error {
	if retriable(err) {
		return err
	}
	msg := err.Error()
	for _, p := range networkFailures {
		if strings.Contains(msg, p) {
			return fmt.Errorf("%w: %w", errUnreachable, err)
		}
	}
	return err
}

// errUnreachable stands for the network errors the driver flattened.
var errUnreachable = errors.New("cluster unreachable")
