package scylla_test

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gocql/gocql"

	"github.com/votecast/votecast/schema"
	"github.com/votecast/votecast/store/scylla"
	"github.com/votecast/votecast/tally"
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
	// The first statement adds a column, the second fails until table d
	// exists: a run cut short after an ADD, as a crash would leave it.
	// Names and type are written unlike the server shows them.
	v3 := &fstest.MapFile{Data: []byte("alter table A add Y frozen< list<BIGINT> >;\nALTER TABLE d ADD v int;\n")}
	otherType := &fstest.MapFile{Data: []byte("ALTER TABLE a ADD y text;")}
	other := &fstest.MapFile{Data: []byte("ALTER TABLE a ADD k text;")}
	base := fstest.MapFS{"0001_a.cql": v1, "0002_bc.cql": v2}
	with := func(name string, f *fstest.MapFile) fstest.MapFS {
		fs := maps.Clone(base)
		fs[name] = f
		return fs
	}
	steps := []struct {
		name        string
		files       fstest.MapFS
		replication string
		before      string // a statement run straight on the keyspace first
		want        []string
		wantErr     string
	}{
		{"NoKeyspaceNoReplication", fstest.MapFS{"0001_a.cql": v1}, "", "", nil, "no replication"},
		{"First", fstest.MapFS{"0001_a.cql": v1}, "SimpleStrategy 1", "", []string{"0001_a"}, ""},
		{"Again", fstest.MapFS{"0001_a.cql": v1}, "SimpleStrategy 1", "", nil, ""},
		{"Next", base, "", "", []string{"0002_bc"}, ""},
		{"EditedAfterApply", fstest.MapFS{"0001_a.cql": edited, "0002_bc.cql": v2}, "", "", nil, "changed after"},
		{"BadName", fstest.MapFS{"1_a.cql": v1}, "", "", nil, "0001_what.cql"},
		{"CutShortAfterAdd", with("0003_y.cql", v3), "", "", nil, "statement 2"},
		{"RerunAfterAdd", with("0003_y.cql", v3), "", "CREATE TABLE d (k int PRIMARY KEY)", []string{"0003_y"}, ""},
		{"AddOverOtherType", with("0004_y.cql", otherType), "", "", nil, "a.y is there as regular frozen<list<bigint>>, not regular text"},
		{"AddOverKey", with("0004_k.cql", other), "", "", nil, "not regular text"},
	}
	for _, st := range steps {
		if st.before != "" {
			execOn(t, keyspace, st.before)
		}
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

// The real schema on a keyspace of its own: every file applies once, in
// order, and a run cut short after 0002's ALTER TABLE ... ADD (the column
// there, the file not recorded) runs it again without an error, and so
// does 0003 (IF NOT EXISTS) when a run was cut short after it.
func TestMigrateRealSchema(t *testing.T) {
	needServer(t)
	keyspace := randomKeyspace()
	t.Cleanup(func() { dropKeyspace(keyspace) })
	steps := []struct {
		name   string
		before string
		want   []string
	}{
		{"Fresh", "", []string{"0001_init", "0002_ballot_keys", "0003_checkpoints"}},
		{"UpToDate", "", nil},
		{"CutShortAfterAdd", "DELETE FROM schema_migrations WHERE version = '0002_ballot_keys'", []string{"0002_ballot_keys"}},
		{"UpToDateAgain", "", nil},
		{"CutShortAfterCheckpoints", "DELETE FROM schema_migrations WHERE version = '0003_checkpoints'", []string{"0003_checkpoints"}},
		{"UpToDateAtLast", "", nil},
	}
	for _, st := range steps {
		if st.before != "" {
			execOn(t, keyspace, st.before)
		}
		applied, err := migrate(t, migrateOptions(keyspace))
		if err != nil || !slices.Equal(applied, st.want) {
			t.Fatalf("%s: Migrate = %v, %v; want %v applied", st.name, applied, err, st.want)
		}
	}
}

// A ballot written before 0002_ballot_keys, by the insert of that time,
// has a null applied_keys once the column is added: it loads as it was,
// with no keys.
func TestBallotFromBeforeKeys(t *testing.T) {
	needServer(t)
	keyspace := randomKeyspace()
	t.Cleanup(func() { dropKeyspace(keyspace) })
	initFile, err := fs.ReadFile(schema.CQLMigrations(), "0001_init.cql")
	if err != nil {
		t.Fatal(err)
	}
	opts := migrateOptions(keyspace)
	opts.Files = fstest.MapFS{"0001_init.cql": &fstest.MapFile{Data: initFile}}
	if applied, err := migrate(t, opts); err != nil || !slices.Equal(applied, []string{"0001_init"}) {
		t.Fatalf("Migrate 0001 = %v, %v", applied, err)
	}
	poll := schema.NewPollID()
	execOn(t, keyspace, fmt.Sprintf("INSERT INTO ballots (poll, shard, user_id, last_seq, choices) VALUES ('%s', 4, 'old', 7, [(2, 1)]) USING TIMESTAMP 7", poll))
	if applied, err := migrate(t, migrateOptions(keyspace)); err != nil || !slices.Equal(applied, []string{"0002_ballot_keys", "0003_checkpoints"}) {
		t.Fatalf("Migrate = %v, %v; want 0002_ballot_keys, 0003_checkpoints applied", applied, err)
	}
	want := tally.BallotRecord{User: "old", LastSeq: 7, Choices: []tally.Choice{{Option: 2, Count: 1}}}
	s := openStore(t, options(keyspace))
	st, err := s.LoadShard(t.Context(), poll, 4)
	if err != nil || !reflect.DeepEqual(st.Ballots, []tally.BallotRecord{want}) {
		t.Fatalf("LoadShard = %+v, %v; want %+v", st.Ballots, err, want)
	}
	got, ok, err := s.LoadBallot(t.Context(), poll, 4, "old")
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadBallot = %+v, %v, %v; want %+v", got, ok, err, want)
	}
}

// headerEpoch is store/scylla's headerEpoch (flush.go), as released: a
// change to it would let legacy headers, or older new ones, win.
const headerEpoch = 1 << 52

// A shard header written before 0003_checkpoints carries a wall-clock
// write timestamp, far above any sequence. A flush of that shard header
// after the upgrade replaces it all the same (the epoch offset puts it
// above the wall clock), at headerEpoch + LastSeq; a later flush of a
// lower LastSeq then loses to it.
func TestHeaderFromBeforeCheckpoints(t *testing.T) {
	needServer(t)
	keyspace := randomKeyspace()
	t.Cleanup(func() { dropKeyspace(keyspace) })
	old := fstest.MapFS{}
	for _, name := range []string{"0001_init.cql", "0002_ballot_keys.cql"} {
		b, err := fs.ReadFile(schema.CQLMigrations(), name)
		if err != nil {
			t.Fatal(err)
		}
		old[name] = &fstest.MapFile{Data: b}
	}
	opts := migrateOptions(keyspace)
	opts.Files = old
	if applied, err := migrate(t, opts); err != nil || len(applied) != 2 {
		t.Fatalf("Migrate 0001, 0002 = %v, %v", applied, err)
	}
	poll := schema.NewPollID()
	// As the release before wrote it: at the time of writing, here the
	// coordinator's or the driver's clock.
	execOn(t, keyspace, fmt.Sprintf("INSERT INTO shard_headers (poll, shard, last_seq, closed, counts) VALUES ('%s', 3, 50, false, [4, 1])", poll))
	legacy := writeTime(t, keyspace, poll, 3)
	if wall := time.Now().UnixMicro(); legacy < wall-int64(time.Hour/time.Microsecond) || legacy > wall+int64(time.Hour/time.Microsecond) {
		t.Fatalf("legacy header written at %d, want about the wall clock %d", legacy, wall)
	}
	if applied, err := migrate(t, migrateOptions(keyspace)); err != nil || !slices.Equal(applied, []string{"0003_checkpoints"}) {
		t.Fatalf("Migrate = %v, %v; want 0003_checkpoints applied", applied, err)
	}
	s := openStore(t, options(keyspace))
	steps := []struct {
		name   string
		header tally.ShardHeader
		want   tally.ShardHeader
	}{
		{"ReplacesLegacy", tally.ShardHeader{Poll: poll, Shard: 3, LastSeq: 51, Counts: []int64{4, 2}}, tally.ShardHeader{Poll: poll, Shard: 3, LastSeq: 51, Counts: []int64{4, 2}}},
		{"LowerLoses", tally.ShardHeader{Poll: poll, Shard: 3, LastSeq: 40, Counts: []int64{9, 9}}, tally.ShardHeader{Poll: poll, Shard: 3, LastSeq: 51, Counts: []int64{4, 2}}},
	}
	for _, st := range steps {
		if err := s.Flush(t.Context(), []tally.ShardUpdate{{Header: st.header}}); err != nil {
			t.Fatalf("%s: Flush: %v", st.name, err)
		}
		hs, err := s.Headers(t.Context(), poll)
		if err != nil || !reflect.DeepEqual(hs, []tally.ShardHeader{st.want}) {
			t.Fatalf("%s: Headers = %+v, %v; want %+v", st.name, hs, err, st.want)
		}
		shard, err := s.LoadShard(t.Context(), poll, 3)
		if err != nil || !reflect.DeepEqual(shard.Header, st.want) {
			t.Fatalf("%s: LoadShard header = %+v, %v; want %+v", st.name, shard.Header, err, st.want)
		}
		if got, want := writeTime(t, keyspace, poll, 3), int64(headerEpoch+st.want.LastSeq); got != want {
			t.Fatalf("%s: header written at %d, want headerEpoch + %d = %d", st.name, got, st.want.LastSeq, want)
		}
	}
}

// writeTime is the write timestamp of a stored shard header's counts.
func writeTime(t *testing.T, keyspace, poll string, shard int) int64 {
	t.Helper()
	c := gocql.NewCluster(strings.Split(serverAddr, ",")...)
	c.Keyspace = keyspace
	c.Timeout = time.Minute
	s, err := c.CreateSession()
	if err != nil {
		t.Fatalf("connect to %s: %v", keyspace, err)
	}
	defer s.Close()
	var ts int64
	if err := s.Query("SELECT WRITETIME(counts) FROM shard_headers WHERE poll = ? AND shard = ?", poll, shard).
		WithContext(t.Context()).Scan(&ts); err != nil {
		t.Fatalf("read write time of %s/%d: %v", poll, shard, err)
	}
	return ts
}

// execOn runs one statement on a keyspace with the driver alone, for what
// the store has no API for.
func execOn(t *testing.T, keyspace, stmt string) {
	t.Helper()
	c := gocql.NewCluster(strings.Split(serverAddr, ",")...)
	c.Keyspace = keyspace
	c.Timeout = time.Minute
	s, err := c.CreateSession()
	if err != nil {
		t.Fatalf("connect to %s: %v", keyspace, err)
	}
	defer s.Close()
	if err := s.Query(stmt).Exec(); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	if err := s.AwaitSchemaAgreement(t.Context()); err != nil {
		t.Fatalf("%s: schema agreement: %v", stmt, err)
	}
}
