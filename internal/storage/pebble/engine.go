package pebble

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// formatVersion is the on-disk format Open creates new stores with. It is pinned, not
// pebble.FormatNewest, so that upgrading Pebble never ratchets existing stores to a
// format an older Chorus cannot read; raise it deliberately.
const formatVersion = pebbledb.FormatValueSeparation

// bloomBitsPerKey sizes the Bloom filter written into every sstable: 10 bits per key
// give about 1% false positives. Every write reads the stored object first (the
// read-before-write merge) and most writes of new keys find nothing; without filters
// such a miss searches the index of every sstable whose key range covers the key,
// with them it reads one filter block per table, almost always cached. Tables
// written without filters (by older versions) still work and are simply searched.
const bloomBitsPerKey = 10

// Engine is a storage.Engine on a Pebble LSM store in one directory. It is safe for
// concurrent use by many goroutines.
type Engine struct {
	db        *pebbledb.DB
	lock      *pebbledb.Lock
	writeOpts *pebbledb.WriteOptions
	log       *slog.Logger
	// recent caches recently committed objects (nil if Options turned it off).
	recent *recentObjects
	// recentHits and recentMisses count Get's lookups in recent.
	recentHits, recentMisses atomic.Uint64
	// filter holds every object key written (nil if Options turned it off); Get
	// consults it once filterReady (Open's scan of the stored keys is done).
	// filterSkips counts the Gets it answered.
	filter      *keyFilter
	filterReady atomic.Bool
	filterSkips atomic.Uint64

	// maxRepairs is the repair log's retention; nextRepair the sequence number the
	// next appended entry gets.
	maxRepairs uint64
	nextRepair atomic.Uint64

	// hintMu serializes the commits that store or delete hints, from reading the
	// id → target index to the batch becoming visible (see commitHints).
	hintMu sync.Mutex

	// Lifecycle: every call but Close runs between enter and exit; Close sets closed
	// and waits for inflight to drain. failed holds the error that made the engine
	// unusable (a failed write-ahead log write or sync), if any.
	inflight  atomic.Int64
	closed    atomic.Bool
	drained   chan struct{}
	closeOnce sync.Once
	failed    atomic.Pointer[error]
}

var _ storage.Engine = (*Engine)(nil)

// ErrFailed is returned (wrapped with the cause) by every call after a write to Pebble's
// write-ahead log failed: the batch may be visible in memory without being durable, so
// the engine refuses to serve anything until it is closed and opened again (which
// replays only what reached the disk).
var ErrFailed = errors.New("storage/pebble: engine failed after a write error; reopen it")

// Open opens (creating if needed) the store in dir. It fails with a clear error if dir
// cannot be created or opened, or is locked by another process or another open Engine;
// a store Pebble finds corrupt fails with an error wrapping storage.ErrCorrupt.
func Open(dir string, opts Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := opts.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage/pebble: cannot create data directory: %w", err)
	}
	lock, err := lockDir(dir, opts.fs)
	if err != nil {
		return nil, err
	}
	cache := pebbledb.NewCache(opts.CacheBytes)
	defer cache.Unref() // the DB holds its own reference
	log := opts.Logger.With("component", "pebble")
	popts := &pebbledb.Options{
		FS:                 opts.fs,
		Lock:               lock,
		Cache:              cache,
		FormatMajorVersion: formatVersion,
		Logger:             logger{log},
		EventListener:      eventListener(log),
	}
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(bloomBitsPerKey)
	}
	db, err := openDB(dir, popts)
	if err != nil {
		_ = lock.Close()
		return nil, readError("open "+dir, err)
	}
	e := &Engine{
		db:         db,
		lock:       lock,
		writeOpts:  pebbledb.Sync,
		log:        log,
		maxRepairs: uint64(opts.MaxRepairs),
		drained:    make(chan struct{}, 1),
		recent:     newRecentObjects(opts.RecentObjectBytes),
	}
	if opts.Durability == storage.NoSync {
		e.writeOpts = pebbledb.NoSync
	}
	if err := e.loadRepairSeq(); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("storage/pebble: open %s: %w", dir, err)
	}
	if err := e.startKeyFilter(opts.KeyFilterBytes); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("storage/pebble: open %s: reading the object keys for the key filter: %w", dir, err)
	}
	return e, nil
}

// lockDir takes the store's directory lock, telling "someone holds it" apart from
// "cannot create the lock file".
func lockDir(dir string, fs vfs.FS) (*pebbledb.Lock, error) {
	lock, err := pebbledb.LockDirectory(dir, fs)
	if err == nil {
		return lock, nil
	}
	var pathErr *iofs.PathError
	if errors.As(err, &pathErr) {
		return nil, fmt.Errorf("storage/pebble: cannot create the lock file in data directory %s: %w", dir, err)
	}
	return nil, fmt.Errorf("storage/pebble: data directory %s is in use by another process or open engine (its lock is held): %w", dir, err)
}

// openDB calls pebble.Open, turning a Fatalf panic during recovery into an error.
func openDB(dir string, popts *pebbledb.Options) (db *pebbledb.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = fe
		}
	}()
	return pebbledb.Open(dir, popts)
}

// enter admits a call, or refuses it once the engine is closed or failed.
func (e *Engine) enter() error {
	e.inflight.Add(1)
	if e.closed.Load() {
		e.exit()
		return storage.ErrClosed
	}
	if f := e.failed.Load(); f != nil {
		e.exit()
		return *f
	}
	return nil
}

// exit ends a call admitted by enter.
func (e *Engine) exit() {
	if e.inflight.Add(-1) == 0 && e.closed.Load() {
		select {
		case e.drained <- struct{}{}:
		default:
		}
	}
}

// fail marks the engine failed because of cause and returns the error every call
// returns from now on. The first cause wins.
func (e *Engine) fail(cause error) error {
	err := fmt.Errorf("%w: %w", ErrFailed, cause)
	if e.failed.CompareAndSwap(nil, &err) {
		e.log.Error("storage engine failed; it must be reopened", "err", cause)
	}
	return *e.failed.Load()
}

// recoverFatal, deferred by every call into Pebble, turns a Fatalf panic into a failed
// engine and an error for the caller. Other panics go on.
func (e *Engine) recoverFatal(errp *error) {
	if r := recover(); r != nil {
		fe, ok := r.(fatalError)
		if !ok {
			panic(r)
		}
		*errp = e.fail(fe)
	}
}

// Get returns the object stored under key.
func (e *Engine) Get(key object.Key) (obj object.Object, found bool, err error) {
	if err := storage.ValidKeyspace(key.Keyspace); err != nil {
		return object.Object{}, false, err
	}
	if err := e.enter(); err != nil {
		return object.Object{}, false, err
	}
	defer e.exit()
	defer e.recoverFatal(&err)
	k := objectKey(key)
	if e.recent != nil {
		if v, found, known := e.recent.get(k); known {
			e.recentHits.Add(1)
			if !found {
				return object.Object{}, false, nil
			}
			if obj, err = decodeObject(key, v); err != nil {
				return object.Object{}, false, err
			}
			return obj, true, nil
		}
		e.recentMisses.Add(1)
	}
	if e.filterReady.Load() && !e.filter.mayContain(k) {
		e.filterSkips.Add(1)
		return object.Object{}, false, nil
	}
	v, closer, err := e.db.Get(k)
	if errors.Is(err, pebbledb.ErrNotFound) {
		return object.Object{}, false, nil
	}
	if err != nil {
		return object.Object{}, false, readError("get "+key.String(), err)
	}
	defer closer.Close()
	if obj, err = decodeObject(key, v); err != nil {
		return object.Object{}, false, err
	}
	return obj, true, nil
}

// Commit applies b as one Pebble batch, so that all of it or none of it is applied and
// visible. Writes apply in the order Objects, Meta, Hints, HintDeletes, Repairs. With
// storage.Sync it returns once the batch is fsynced in Pebble's write-ahead log.
//
// Group commit: concurrent Commits share fsyncs. Pebble's commit pipeline (commit.go,
// commitPipeline) writes each batch to the WAL buffer under a short mutex and queues its
// sync request; the WAL's flush loop (record/log_writer.go, LogWriter.flushLoop and
// flushPending) takes every sync request queued so far, writes the buffered blocks and
// issues one fsync for all of them, then wakes every waiter. So N goroutines committing
// at once cost about one fsync per flush-loop round, not N (see BenchmarkCommitSync).
//
// If Pebble fails to write or sync its log, Commit returns an error wrapping ErrFailed
// and the engine fails every later call: the batch may be in Pebble's memtable without
// being durable, and must not be served.
func (e *Engine) Commit(b *record.Batch) (err error) {
	if err := storage.ValidateBatch(b); err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	if b.Empty() {
		return nil
	}
	defer e.recoverFatal(&err)
	pb := e.db.NewBatch()
	defer pb.Close()
	// The objects are the batch's first records, in order: written[i] is record i.
	written := make([]objectRecord, len(b.Objects))
	for i, w := range b.Objects {
		written[i].key = objectKey(w.Key)
		if w.Purge {
			err = pb.Delete(written[i].key, nil)
		} else {
			written[i].value = object.Encode(w.Object)
			err = pb.Set(written[i].key, written[i].value, nil)
		}
		if err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
	}
	for _, m := range b.Meta {
		if err := pb.Set(metaKey(m.Name), m.Value, nil); err != nil {
			return fmt.Errorf("storage/pebble: batch: %w", err)
		}
	}
	if err := e.appendRepairs(pb, b.Repairs); err != nil {
		return err
	}
	applied := false
	e.beforeApply(written)
	defer func() { e.afterApply(pb, written, applied) }()
	if len(b.Hints) > 0 || len(b.HintDeletes) > 0 {
		err = e.commitHints(pb, b)
	} else if err = e.db.Apply(pb, e.writeOpts); err != nil {
		err = e.fail(err)
	}
	applied = err == nil
	return err
}

// objectRecord is an object write of a batch: its Pebble key, and its encoding (nil
// for a purge).
type objectRecord struct {
	key, value []byte
}

// beforeApply adds the keys of a commit about to be applied to the key filter, then
// tells the recent-objects cache the commit is coming (pinning them), so that no Get
// can be told "absent" of a key once its write is visible.
func (e *Engine) beforeApply(written []objectRecord) {
	if e.filter != nil {
		for _, w := range written {
			e.filter.add(w.key)
		}
	}
	if e.recent == nil {
		return
	}
	for _, w := range written {
		e.recent.begin(w.key)
	}
}

// startKeyFilter makes the key filter, of about maxBytes (none if not positive), and
// starts filling it with every stored object key in the background. Until that is
// done Get does not consult it (filterReady), so a large store opens at once; Commit
// adds to it from the start, so a key written meanwhile is in it either way (the scan
// reads a snapshot taken after the filter existed, and every later write adds its
// key before it is applied). Close stops the scan.
func (e *Engine) startKeyFilter(maxBytes int64) error {
	f := newKeyFilter(maxBytes)
	if f == nil {
		return nil
	}
	e.filter = f
	it, err := e.db.NewIter(&pebbledb.IterOptions{LowerBound: []byte{prefixObject}, UpperBound: []byte{prefixObject + 1}})
	if err != nil {
		return err
	}
	e.inflight.Add(1) // Close waits for the scan
	go func() {
		defer e.exit()
		err := e.fillKeyFilter(it)
		if err = errors.Join(err, it.Close()); err != nil {
			if !e.closed.Load() {
				e.log.Warn("key filter not used: reading the object keys failed", "err", err)
			}
			return
		}
		e.filterReady.Store(true)
	}()
	return nil
}

// fillKeyFilter adds every key it reads to the filter, stopping early (with an error)
// if the engine closes.
func (e *Engine) fillKeyFilter(it *pebbledb.Iterator) (err error) {
	defer e.recoverFatal(&err)
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		e.filter.add(it.Key())
		if n++; n%4096 == 0 && e.closed.Load() {
			return storage.ErrClosed
		}
	}
	return it.Error()
}

// afterApply tells the recent-objects cache that the commit beforeApply announced is
// over, and, if it was applied, what it wrote: Pebble numbered the batch's records
// from pb.SeqNum() on.
func (e *Engine) afterApply(pb *pebbledb.Batch, written []objectRecord, applied bool) {
	if e.recent == nil {
		return
	}
	var seq uint64
	if applied {
		seq = uint64(pb.SeqNum())
	}
	for i, w := range written {
		e.recent.end(w.key, applied, seq+uint64(i), w.value)
	}
}

// Close waits for calls in progress, then closes Pebble and releases the directory
// lock. It is idempotent: later calls return nil. Closing a failed engine returns its
// failure, an error wrapping ErrFailed.
func (e *Engine) Close() (err error) {
	first := false
	e.closeOnce.Do(func() {
		first = true
		e.closed.Store(true)
		for e.inflight.Load() != 0 {
			select {
			case <-e.drained:
			case <-time.After(10 * time.Millisecond):
			}
		}
		err = e.closeDB()
	})
	if !first {
		return nil
	}
	return err
}

// closeDB closes Pebble, then the lock. The lock is released even if Pebble does not
// close cleanly, as a failed engine's Pebble does not; closing a failed engine returns
// its failure (ErrFailed).
func (e *Engine) closeDB() (err error) {
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("storage/pebble: close: %v", r)
			}
		}()
		if cerr := e.db.Close(); cerr != nil {
			err = fmt.Errorf("storage/pebble: close: %w", cerr)
		}
	}()
	if lerr := e.lock.Close(); lerr != nil && err == nil {
		err = fmt.Errorf("storage/pebble: release lock: %w", lerr)
	}
	if f := e.failed.Load(); f != nil {
		// Pebble complains about the failure again on close; report the failure.
		if err != nil {
			e.log.Debug("close after failure", "err", err)
		}
		return *f
	}
	return err
}

// decodeObject decodes a stored object; errors wrap storage.ErrCorrupt.
func decodeObject(key object.Key, v []byte) (object.Object, error) {
	obj, err := object.Decode(v)
	if err != nil {
		return object.Object{}, fmt.Errorf("%w: object %s: %w", storage.ErrCorrupt, key, err)
	}
	return obj, nil
}

// readError wraps an error from a Pebble read, marking Pebble's corruption errors as
// storage.ErrCorrupt too.
func readError(what string, err error) error {
	if pebbledb.IsCorruptionError(err) {
		return fmt.Errorf("%w: storage/pebble: %s: %w", storage.ErrCorrupt, what, err)
	}
	return fmt.Errorf("storage/pebble: %s: %w", what, err)
}

// closeIter closes it, keeping the first error in *errp.
func closeIter(it io.Closer, what string, errp *error) {
	if err := it.Close(); err != nil && *errp == nil {
		*errp = readError(what, err)
	}
}

// SyncWAL makes every committed batch durable (one fsync of the write-ahead log). With
// Durability NoSync, the node calls it periodically (--durability periodic), bounding
// what a crash can lose to the writes of one interval.
func (e *Engine) SyncWAL() (err error) {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	defer e.recoverFatal(&err)
	return e.db.LogData(nil, pebbledb.Sync)
}
