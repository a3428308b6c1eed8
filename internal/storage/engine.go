package storage

import (
	"errors"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

// Sentinel errors engines wrap.
var (
	// ErrClosed is returned by every call after Close.
	ErrClosed = errors.New("storage: engine closed")
	// ErrCorrupt is returned when a stored record does not decode.
	ErrCorrupt = errors.New("storage: corrupt record")
)

// Durability says when Commit may return.
type Durability uint8

const (
	// Sync: Commit returns after the batch is on stable storage (fsync). The default:
	// a write is acknowledged only once it would survive a power loss.
	Sync Durability = iota
	// NoSync: Commit returns once the batch is in the OS page cache; it survives a
	// process crash but not a power loss. Faster; chosen with --durability=nosync.
	NoSync
)

// Engine is a node's durable store. Every method is safe for concurrent use by many
// goroutines. Get and the scans may run concurrently with Commit and see a batch either
// wholly or not at all. Methods block on disk (or network, for postgres) I/O.
type Engine interface {
	// Get returns the object stored under key; found is false if there is none.
	Get(key object.Key) (obj object.Object, found bool, err error)
	// Commit applies every write of b atomically, durably as the engine's Durability
	// says. Concurrent Commits may be grouped into one fsync.
	Commit(b *record.Batch) error
	// ScanObjects calls fn for every stored object in keyspace ks, in key order,
	// starting at the first key >= start; fn returns false to stop early.
	ScanObjects(ks string, start string, fn func(key object.Key, obj object.Object) bool) error
	// Keyspaces lists the keyspaces that hold at least one object, sorted.
	Keyspaces() ([]string, error)

	// GetMeta returns a metadata value; found is false if it was never written.
	GetMeta(name string) (value []byte, found bool, err error)
	// ScanMeta calls fn for each metadata entry whose name starts with prefix, in name
	// order.
	ScanMeta(prefix string, fn func(name string, value []byte) bool) error

	// ScanHints calls fn for the hints held for target in id order (oldest first);
	// with target "" it visits every hint, ordered by target then id.
	ScanHints(target string, fn func(h record.Hint) bool) error
	// RecentRepairs returns the newest read-repair log entries, newest first, at most
	// limit of them.
	RecentRepairs(limit int) ([]record.Repair, error)

	// Close flushes and releases the engine. It is idempotent.
	Close() error
}
