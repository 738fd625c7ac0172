package scylla_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"go.uber.org/goleak"

	"github.com/votecast/votecast/store/scylla"
)

// The CQL server the integration tests run on, from VOTECAST_CQL
// ("127.0.0.1:9042", as scripts/cql-up prints it), and the keyspace
// TestMain made for this run. Empty when no server was given.
var (
	serverAddr   string
	testKeyspace string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	serverAddr = os.Getenv("VOTECAST_CQL")
	if serverAddr != "" {
		testKeyspace = randomKeyspace()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		applied, err := scylla.Migrate(ctx, migrateOptions(testKeyspace))
		if err != nil {
			fmt.Fprintf(os.Stderr, "migrate test keyspace on %s: %v\n", serverAddr, err)
			return 1
		}
		if len(applied) == 0 {
			fmt.Fprintf(os.Stderr, "migrate fresh keyspace %s applied nothing\n", testKeyspace)
			return 1
		}
		defer dropKeyspace(testKeyspace)
	}
	code := m.Run()
	if code == 0 {
		if err := noLeaks(10 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			return 1
		}
	}
	return code
}

// noLeaks waits up to d for every goroutine but the test's own to end.
// The driver may still be in a reconnect pause after Close (of about a
// second, up to three times: its sleep does not watch for Close), so a
// single look right after the tests would report goroutines about to end.
func noLeaks(d time.Duration) error {
	deadline := time.Now().Add(d)
	err := goleak.Find() // retries for about a second itself
	for err != nil && time.Now().Before(deadline) {
		err = goleak.Find()
	}
	return err
}

// needServer skips a test that needs a CQL server when none was given,
// except in CI, which must never pass by skipping.
func needServer(tb testing.TB) {
	tb.Helper()
	if serverAddr != "" {
		return
	}
	const msg = "VOTECAST_CQL is not set: no CQL server to test on (start one with addr=$(scripts/cql-up); VOTECAST_CQL=$addr go test ./store/scylla/)"
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

func randomKeyspace() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "votecast_test_" + hex.EncodeToString(b)
}

func options(keyspace string) scylla.Options {
	return scylla.Options{
		Hosts:    strings.Split(serverAddr, ","),
		Keyspace: keyspace,
		// A CI box running Cassandra next to the race detector is slow.
		Timeout: 30 * time.Second,
	}
}

func migrateOptions(keyspace string) scylla.MigrateOptions {
	return scylla.MigrateOptions{Options: options(keyspace), Replication: "SimpleStrategy 1"}
}

// dropKeyspace removes a test keyspace. The store has no API for that, on
// purpose, so this talks to the driver directly.
func dropKeyspace(keyspace string) {
	c := gocql.NewCluster(strings.Split(serverAddr, ",")...)
	c.Timeout = time.Minute
	s, err := c.CreateSession()
	if err == nil {
		err = s.Query("DROP KEYSPACE IF EXISTS " + keyspace).Exec()
		s.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "drop test keyspace %s: %v\n", keyspace, err)
	}
}
