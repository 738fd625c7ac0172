package scylla_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/votecast/votecast/store/scylla"
)

func migrate(t *testing.T, opts scylla.MigrateOptions) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	return scylla.Migrate(ctx, opts)
}

// The real schema: the run's keyspace was migrated by TestMain, so a
// second run finds everything applied.
func TestMigrateTwiceAppliesNothing(t *testing.T) {
	needServer(t)
	applied, err := migrate(t, migrateOptions(testKeyspace))
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", applied, err)
	}
}

// Versions apply in order, each once, on a keyspace of their own.
func TestMigrateSteps(t *testing.T) {
	needServer(t)
	keyspace := randomKeyspace()
	t.Cleanup(func() { dropKeyspace(keyspace) })
	v1 := &fstest.MapFile{Data: []byte("-- a; comment\nCREATE TABLE IF NOT EXISTS a (k int PRIMARY KEY);\n")}
	v2 := &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS b (k int PRIMARY KEY, v text);\nCREATE TABLE IF NOT EXISTS c (k int PRIMARY KEY)")}
	edited := &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS a (k int PRIMARY KEY, x int);")}
	steps := []struct {
		name        string
		files       fstest.MapFS
		replication string
		want        []string
		wantErr     string
	}{
		{"NoKeyspaceNoReplication", fstest.MapFS{"0001_a.cql": v1}, "", nil, "no replication"},
		{"First", fstest.MapFS{"0001_a.cql": v1}, "SimpleStrategy 1", []string{"0001_a"}, ""},
		{"Again", fstest.MapFS{"0001_a.cql": v1}, "SimpleStrategy 1", nil, ""},
		{"Next", fstest.MapFS{"0001_a.cql": v1, "0002_bc.cql": v2}, "", []string{"0002_bc"}, ""},
		{"EditedAfterApply", fstest.MapFS{"0001_a.cql": edited, "0002_bc.cql": v2}, "", nil, "changed after"},
		{"BadName", fstest.MapFS{"1_a.cql": v1}, "", nil, "0001_what.cql"},
	}
	for _, st := range steps {
		opts := migrateOptions(keyspace)
		opts.Replication, opts.Files = st.replication, st.files
		applied, err := migrate(t, opts)
		switch {
		case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)):
			t.Fatalf("%s: Migrate err = %v, want one about %q", st.name, err, st.wantErr)
		case st.wantErr == "" && err != nil:
			t.Fatalf("%s: Migrate: %v", st.name, err)
		case !slices.Equal(applied, st.want):
			t.Fatalf("%s: applied %v, want %v", st.name, applied, st.want)
		}
	}
}
