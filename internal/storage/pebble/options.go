package pebble

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/chorusdb/chorus/internal/storage"
)

// DefaultCacheBytes is the block cache size used when Options.CacheBytes is zero.
const DefaultCacheBytes = 64 << 20

// DefaultKeyFilterBytes is the key filter's size used when Options.KeyFilterBytes is
// zero: 16 MiB, about 13 million keys at 1% false positives.
const DefaultKeyFilterBytes = 16 << 20

// DefaultRecentObjectBytes is the size of the recently-written-objects cache used when
// Options.RecentObjectBytes is zero.
const DefaultRecentObjectBytes = 32 << 20

// Options configures Open. The zero Options is ready to use: synchronous commits, the
// default repair log retention and cache size, and Pebble's logging discarded.
type Options struct {
	// Durability says when Commit returns. storage.Sync (the zero value, and the
	// default) fsyncs the write-ahead log before returning; concurrent commits share
	// fsyncs (group commit), so throughput grows with concurrency while every
	// acknowledged write survives a power loss. storage.NoSync returns once Pebble has
	// the batch in its write-ahead log buffer: much faster for a single writer, but a
	// crash (of the machine, and — because Pebble buffers up to one 32 KiB log block in
	// the process until the next synced write or a full block — of the process too) can
	// lose the most recent commits.
	Durability storage.Durability

	// MaxRepairs is how many read-repair log entries are kept; each Commit that appends
	// entries deletes those that fall out of the window. Zero means
	// storage.DefaultMaxRepairs. More keeps a longer history for operators at the cost
	// of disk space (an entry is roughly the key's size plus 30 bytes).
	MaxRepairs int

	// CacheBytes is the size of Pebble's block cache, in bytes. Zero means
	// DefaultCacheBytes. Larger keeps more of the working set in memory; reads that
	// miss the cache go to the OS page cache or disk.
	CacheBytes int64

	// KeyFilterBytes is the size of a Bloom filter of the object keys the store holds,
	// in bytes (zero means DefaultKeyFilterBytes, 16 MiB; negative turns it off). A Get
	// of a key the filter has never seen — the read-before-write of the first write of
	// a new key — answers "not found" without a Pebble lookup. It holds
	// KeyFilterBytes*8/10 keys at about 1% false positives; with more keys it answers
	// "maybe" more often, and never wrongly "absent". Open fills it by reading every
	// object key once in the background (about a million keys a second here); until
	// then every Get looks its key up.
	KeyFilterBytes int64

	// RecentObjectBytes bounds a cache of the objects the latest commits wrote, in
	// bytes (keys and encoded values, plus about 160 bytes per object). Zero means
	// DefaultRecentObjectBytes; negative turns the cache off. A Get of a key written
	// recently is answered from it without a Pebble lookup: every write reads its key
	// first (the read-before-write merge), so writes of a working set that fits gain
	// most; reads of keys written long ago gain nothing.
	RecentObjectBytes int64

	// Logger receives Pebble's own log lines, tagged component=pebble: its routine
	// messages (flushes, compactions, WAL recycling; Pebble is chatty) at Debug, slow
	// disks and write stalls at Warn, background errors at Error. Nil discards them.
	Logger *slog.Logger

	// fs replaces the real file system; tests set it to inject faults or crashes.
	fs vfs.FS
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var errs []error
	if o.Durability != storage.Sync && o.Durability != storage.NoSync {
		errs = append(errs, fmt.Errorf("pebble: unknown durability %d", o.Durability))
	}
	if o.MaxRepairs < 0 {
		errs = append(errs, fmt.Errorf("pebble: MaxRepairs %d is negative", o.MaxRepairs))
	}
	if o.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("pebble: CacheBytes %d is negative", o.CacheBytes))
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every zero field that has a default filled in.
func (o Options) withDefaults() Options {
	if o.MaxRepairs == 0 {
		o.MaxRepairs = storage.DefaultMaxRepairs
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.KeyFilterBytes == 0 {
		o.KeyFilterBytes = DefaultKeyFilterBytes
	}
	if o.RecentObjectBytes == 0 {
		o.RecentObjectBytes = DefaultRecentObjectBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.fs == nil {
		o.fs = vfs.Default
	}
	return o
}
