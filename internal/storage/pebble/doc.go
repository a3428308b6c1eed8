// Package pebble is the embedded storage.Engine, on the Pebble LSM store
// (github.com/cockroachdb/pebble/v2): a node's objects, metadata, hints and read-repair
// log in one directory.
//
// Open a store with Open(dir, Options{}); the zero Options fsyncs every Commit (grouped
// across concurrent commits), keeps storage.DefaultMaxRepairs repair log entries, uses a
// 64 MiB block cache and discards Pebble's own log lines (pass Options.Logger to see
// them). Only one Engine may have a directory open at a time; a second Open, from this
// process or another, fails.
//
// Point reads are cheap for the read-before-write every write does: sstables carry
// Bloom filters (a key a table does not hold costs no index search), and the objects
// recent commits wrote are kept, encoded, in a cache (Options.RecentObjectBytes,
// default 32 MiB) that answers Get without a Pebble lookup (recent.go).
//
// Each Commit is one Pebble batch, applied atomically; reads and scans see a batch
// wholly or not at all. keys.go documents the key layout, codec.go the encodings of
// hints and repair log entries. If Pebble fails to write its log, the engine fails
// (ErrFailed) and must be reopened.
package pebble
