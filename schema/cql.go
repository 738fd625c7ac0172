package schema

import (
	"embed"
	"io/fs"
)

//go:embed cql/*.cql
var cqlFiles embed.FS

// CQLMigrations returns the versioned CQL schema of the ScyllaDB store:
// files named NNNN_what.cql, applied in name order by scylla.Migrate. A
// file, once released, is never edited, not even its comments: Migrate
// compares a checksum of the whole file with the one recorded when it was
// applied. A change is a new file. The
// keyspace is not created here but by Migrate, because its replication is
// deployment configuration.
func CQLMigrations() fs.FS {
	sub, err := fs.Sub(cqlFiles, "cql")
	if err != nil {
		panic(err) // cannot happen: "cql" is a valid, embedded directory
	}
	return sub
}
