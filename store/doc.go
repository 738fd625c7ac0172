// Package store holds the implementations of tally.Store: embedded (Pebble,
// for one machine) and scylla (ScyllaDB through gocqlx), plus storetest, the
// one test suite every implementation must pass.
package store
