package memory

import (
	"fmt"
	"sort"
	"sync"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// Options configures an Engine. The zero Options is ready to use.
type Options struct {
	// MaxRepairs is how many read-repair log entries are kept; appending more drops the
	// oldest. Zero (or negative) means storage.DefaultMaxRepairs.
	MaxRepairs int
}

// Engine is an in-memory storage.Engine. It is safe for concurrent use; see the package
// documentation for its copying and ordering guarantees.
type Engine struct {
	maxRepairs int

	mu        sync.RWMutex
	closed    bool
	keyspaces map[string]*keyspace
	meta      map[string][]byte
	// metaNames is meta's names sorted, or nil when a new name made it stale.
	metaNames []string
	hints     map[string]map[uint64]storedHint // target → id → hint
	hintOwner map[uint64]string                // id → target
	// repairs holds the log oldest first; only its last maxRepairs entries are live
	// (the slice is compacted when it grows to twice that).
	repairs []record.Repair
}

var _ storage.Engine = (*Engine)(nil)

// keyspace holds one keyspace's objects in their encoding. Stored slices are never
// modified after they are stored, so snapshots may share them.
type keyspace struct {
	objects map[string][]byte
	// sorted is objects' keys in order, or nil when a new key made it stale.
	sorted []string
}

// storedHint is a hint whose object is kept encoded.
type storedHint struct {
	hint record.Hint // Object is always zero here
	obj  []byte
}

// New returns an empty engine.
func New(opts Options) *Engine {
	if opts.MaxRepairs <= 0 {
		opts.MaxRepairs = storage.DefaultMaxRepairs
	}
	return &Engine{
		maxRepairs: opts.MaxRepairs,
		keyspaces:  make(map[string]*keyspace),
		meta:       make(map[string][]byte),
		hints:      make(map[string]map[uint64]storedHint),
		hintOwner:  make(map[uint64]string),
	}
}

// Get returns a copy of the object stored under key.
func (e *Engine) Get(key object.Key) (object.Object, bool, error) {
	if err := storage.ValidKeyspace(key.Keyspace); err != nil {
		return object.Object{}, false, err
	}
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return object.Object{}, false, storage.ErrClosed
	}
	var enc []byte
	ks := e.keyspaces[key.Keyspace]
	if ks != nil {
		enc = ks.objects[key.Key]
	}
	e.mu.RUnlock()
	if enc == nil {
		return object.Object{}, false, nil
	}
	obj, err := decodeObject(key, enc)
	if err != nil {
		return object.Object{}, false, err
	}
	return obj, true, nil
}

// Commit applies b atomically: it is validated first, then applied under the write
// lock in the order Objects, Meta, Hints, HintDeletes, Repairs.
func (e *Engine) Commit(b *record.Batch) error {
	if err := storage.ValidateBatch(b); err != nil {
		return err
	}
	objs := make([][]byte, len(b.Objects))
	for i, w := range b.Objects {
		if !w.Purge {
			objs[i] = object.Encode(w.Object)
		}
	}
	hints := make([]storedHint, len(b.Hints))
	for i, h := range b.Hints {
		hints[i] = storedHint{obj: object.Encode(h.Object)}
		hints[i].hint = h
		hints[i].hint.Object = object.Object{}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return storage.ErrClosed
	}
	for i, w := range b.Objects {
		e.putObject(w.Key, objs[i])
	}
	for _, m := range b.Meta {
		if _, ok := e.meta[m.Name]; !ok {
			e.metaNames = nil
		}
		e.meta[m.Name] = append([]byte{}, m.Value...)
	}
	for _, h := range hints {
		e.putHint(h)
	}
	for _, id := range b.HintDeletes {
		e.deleteHint(id)
	}
	e.appendRepairs(b.Repairs)
	return nil
}

// putObject stores enc under key, or removes the key when enc is nil.
func (e *Engine) putObject(key object.Key, enc []byte) {
	ks := e.keyspaces[key.Keyspace]
	if enc == nil {
		if ks == nil {
			return
		}
		if _, ok := ks.objects[key.Key]; !ok {
			return
		}
		delete(ks.objects, key.Key)
		ks.sorted = nil
		if len(ks.objects) == 0 {
			delete(e.keyspaces, key.Keyspace)
		}
		return
	}
	if ks == nil {
		ks = &keyspace{objects: make(map[string][]byte)}
		e.keyspaces[key.Keyspace] = ks
	}
	if _, ok := ks.objects[key.Key]; !ok {
		ks.sorted = nil
	}
	ks.objects[key.Key] = enc
}

// putHint stores h, replacing any hint with the same id (whatever its target).
func (e *Engine) putHint(h storedHint) {
	e.deleteHint(h.hint.ID)
	byID := e.hints[h.hint.Target]
	if byID == nil {
		byID = make(map[uint64]storedHint)
		e.hints[h.hint.Target] = byID
	}
	byID[h.hint.ID] = h
	e.hintOwner[h.hint.ID] = h.hint.Target
}

// deleteHint removes the hint with this id, if there is one.
func (e *Engine) deleteHint(id uint64) {
	target, ok := e.hintOwner[id]
	if !ok {
		return
	}
	delete(e.hintOwner, id)
	byID := e.hints[target]
	delete(byID, id)
	if len(byID) == 0 {
		delete(e.hints, target)
	}
}

// appendRepairs appends rs to the log and drops what falls out of the retention window.
func (e *Engine) appendRepairs(rs []record.Repair) {
	e.repairs = append(e.repairs, rs...)
	if len(e.repairs) >= 2*e.maxRepairs {
		live := e.repairs[len(e.repairs)-e.maxRepairs:]
		e.repairs = append(make([]record.Repair, 0, 2*e.maxRepairs), live...)
	}
}

// Close releases the engine's contents. It is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	e.keyspaces, e.meta, e.metaNames, e.hints, e.hintOwner, e.repairs = nil, nil, nil, nil, nil, nil
	return nil
}

// decodeObject decodes an object the engine encoded itself; an error is a bug.
func decodeObject(key object.Key, enc []byte) (object.Object, error) {
	obj, err := object.Decode(enc)
	if err != nil {
		return object.Object{}, fmt.Errorf("%w: object %s: %w", storage.ErrCorrupt, key, err)
	}
	return obj, nil
}

// sortedKeys returns ks's keys in order, rebuilding the cache if it is stale. The
// caller holds e.mu for writing.
func (ks *keyspace) sortedKeys() []string {
	if ks.sorted == nil {
		ks.sorted = make([]string, 0, len(ks.objects))
		for k := range ks.objects {
			ks.sorted = append(ks.sorted, k)
		}
		sort.Strings(ks.sorted)
	}
	return ks.sorted
}
