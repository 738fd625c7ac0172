package scylla

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/votecast/votecast/schema"
)

// MigrateOptions configures Migrate.
type MigrateOptions struct {
	// Options says where the cluster is and which keyspace to migrate.
	Options
	// Replication of the keyspace, used only when Migrate creates it:
	//
	//	"SimpleStrategy 1"                     one dev node, tests
	//	"NetworkTopologyStrategy dc1:3 dc2:3"  production: replicas per datacenter
	//
	// Zero value: the keyspace must exist already. Migrate does not guess a
	// replication factor: a wrong guess loses data when a node does.
	Replication string
	// Files are the versioned CQL files, NNNN_what.cql. Zero value:
	// schema.CQLMigrations().
	Files fs.FS
}

// migrationFile names sort in the order they apply, whatever their number.
var migrationFile = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.cql$`)

const versionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    checksum   text,
    applied_at timestamp
)`

type migration struct {
	version, checksum string
	statements        []string
}

// Migrate creates the keyspace if it is missing, then applies, in name
// order, every CQL file not yet recorded in the keyspace's
// schema_migrations table, and returns the versions it applied: none when
// the schema is up to date. A file whose statements all succeeded is
// recorded; one cut short is run again from the start next time, which is
// why its statements must be idempotent: IF NOT EXISTS where the servers
// take it, and for ALTER TABLE ... ADD, which ScyllaDB takes without IF NOT
// EXISTS only, Migrate itself (see addedBefore). A recorded file that has
// changed since is an error: released files are never edited.
//
// Run it from one process at a time (a deploy step, not every node's
// start-up): concurrent schema changes from several clients can leave
// Cassandra nodes disagreeing on a table. Versions in the table that no
// file names (applied by a newer release) are left alone.
func Migrate(ctx context.Context, opts MigrateOptions) (applied []string, err error) {
	o, err := opts.Options.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	files := opts.Files
	if files == nil {
		files = schema.CQLMigrations()
	}
	ms, err := readMigrations(files)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", o.Keyspace, err)
	}
	if err := ensureKeyspace(ctx, o, opts.Replication); err != nil {
		return nil, err
	}
	s, err := connect(ctx, o, o.Keyspace)
	if err != nil {
		return nil, wrapErr(err, "migrate %s: connect", o.Keyspace)
	}
	defer s.Close()
	done, err := appliedVersions(ctx, s)
	if err != nil {
		return nil, wrapErr(err, "migrate %s: read applied versions", o.Keyspace)
	}
	for _, m := range ms {
		if sum, ok := done[m.version]; ok {
			if sum != m.checksum {
				return applied, fmt.Errorf("migrate %s: %s was changed after it was applied", o.Keyspace, m.version)
			}
			continue
		}
		if err := apply(ctx, s, o.Keyspace, m); err != nil {
			return applied, wrapErr(err, "migrate %s: apply %s", o.Keyspace, m.version)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}

func readMigrations(files fs.FS) ([]migration, error) {
	names, err := fs.Glob(files, "*.cql") // sorted
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, errors.New("no .cql files")
	}
	var ms []migration
	for _, name := range names {
		if !migrationFile.MatchString(name) {
			return nil, fmt.Errorf("%s: want a name like 0001_what.cql", name)
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		stmts := splitStatements(string(b))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("%s: no statements", name)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, migration{strings.TrimSuffix(name, ".cql"), hex.EncodeToString(sum[:]), stmts})
	}
	return ms, nil
}

// ensureKeyspace creates the keyspace when it is missing, from a session
// on no keyspace: a session on one that does not exist cannot start.
func ensureKeyspace(ctx context.Context, o Options, replication string) error {
	s, err := connect(ctx, o, "")
	if err != nil {
		return wrapErr(err, "migrate %s: connect", o.Keyspace)
	}
	defer s.Close()
	exists, err := keyspaceExists(ctx, s, o.Keyspace)
	switch {
	case err != nil:
		return wrapErr(err, "migrate %s: look the keyspace up", o.Keyspace)
	case exists:
		return nil
	case replication == "":
		return fmt.Errorf("migrate %s: keyspace does not exist and no replication was given to create it", o.Keyspace)
	}
	repl, err := replicationMap(replication)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", o.Keyspace, err)
	}
	stmt := fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s", o.Keyspace, repl)
	if err := execDDL(ctx, s, stmt); err != nil {
		return wrapErr(err, "migrate %s: create keyspace", o.Keyspace)
	}
	return nil
}

func appliedVersions(ctx context.Context, s gocqlx.Session) (map[string]string, error) {
	if err := execDDL(ctx, s, versionTable); err != nil {
		return nil, err
	}
	iter := s.ContextQuery(ctx, "SELECT version, checksum FROM schema_migrations", nil).Iter()
	done := map[string]string{}
	var version, sum string
	for iter.Scan(&version, &sum) {
		done[version] = sum
	}
	return done, iter.Close()
}

func apply(ctx context.Context, s gocqlx.Session, keyspace string, m migration) error {
	for i, stmt := range m.statements {
		err := execDDL(ctx, s, stmt)
		if err == nil {
			continue
		}
		done, err := addedBefore(ctx, s, keyspace, stmt, err)
		if !done {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	return s.ContextQuery(ctx, "INSERT INTO schema_migrations (version, checksum, applied_at) VALUES (?, ?, ?)", nil).
		Bind(m.version, m.checksum, time.Now()).Exec()
}

// execDDL runs a schema change and waits until every node has it, so the
// next statement, or the first query after Migrate, finds what it made.
func execDDL(ctx context.Context, s gocqlx.Session, stmt string) error {
	if err := s.ContextQuery(ctx, stmt, nil).Exec(); err != nil {
		return err
	}
	return s.AwaitSchemaAgreement(ctx)
}

// addColumn is the one-column form of ALTER TABLE ... ADD, with unquoted
// names (case-insensitive, so lowercased), the form migration files use:
// keyspace, table, column, type, STATIC.
var addColumn = regexp.MustCompile(`(?is)^ALTER\s+(?:TABLE|COLUMNFAMILY)\s+(?:([a-z][a-z0-9_]*)\.)?([a-z][a-z0-9_]*)\s+ADD\s+([a-z][a-z0-9_]*)\s+(.+?)(\s+STATIC)?$`)

// addedBefore says whether stmt, which failed with err, is an ALTER TABLE
// ... ADD of a column that is already there as stmt would make it: what a
// run of the same file cut short after that statement leaves. Then the
// statement counts as applied. ALTER TABLE ... ADD IF NOT EXISTS would say
// so itself, but only Cassandra 5 parses it, not ScyllaDB. The column is
// looked up in system_schema rather than recognised by the error's text,
// which differs between servers and versions ("Column with name 'x'
// already exists", "Invalid column name x because it conflicts with an
// existing column"). A column there with another type or kind is not the
// migration's and stays an error, with what was found added to err.
func addedBefore(ctx context.Context, s gocqlx.Session, keyspace, stmt string, err error) (bool, error) {
	if code, ok := serverCode(err); !ok || (code != gocql.ErrCodeInvalid && code != gocql.ErrCodeAlreadyExists) {
		return false, err
	}
	m := addColumn.FindStringSubmatch(stmt)
	if m == nil || strings.EqualFold(m[3], "if") { // ADD IF NOT EXISTS failed for another reason
		return false, err
	}
	if m[1] != "" {
		keyspace = m[1]
	}
	keyspace, table, column := strings.ToLower(keyspace), strings.ToLower(m[2]), strings.ToLower(m[3])
	wantKind := "regular"
	if m[5] != "" {
		wantKind = "static"
	}
	// Every node is to have the column before one of them is asked.
	if aerr := s.AwaitSchemaAgreement(ctx); aerr != nil {
		return false, fmt.Errorf("%w; then waiting for schema agreement: %w", err, aerr)
	}
	var typ, kind string
	qerr := s.ContextQuery(ctx, "SELECT type, kind FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?", nil).
		Bind(keyspace, table, column).Scan(&typ, &kind)
	switch {
	case errors.Is(qerr, gocql.ErrNotFound):
		return false, err
	case qerr != nil:
		return false, fmt.Errorf("%w; then looking column %s.%s up: %w", err, table, column, qerr)
	case cqlType(typ) != cqlType(m[4]) || kind != wantKind:
		return false, fmt.Errorf("%w: %s.%s is there as %s %s, not %s %s", err, table, column, kind, typ, wantKind, m[4])
	}
	return true, nil
}

// cqlType is a CQL type name without case or spaces, as the file writes
// it or system_schema shows it ("map<text, int>"). Aliases (varchar for
// text) are not resolved: files write the name the server shows.
func cqlType(t string) string {
	return strings.ToLower(strings.Join(strings.Fields(t), ""))
}
