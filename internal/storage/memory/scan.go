package memory

import (
	"sort"
	"strings"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// Scans copy what they will visit under the lock (sharing the immutable encodings),
// release it, and only then decode and call back, so that a callback may call into the
// engine and a scan sees each Batch wholly or not at all.

type objectEntry struct {
	key string
	enc []byte
}

// ScanObjects calls fn for every object in keyspace ks with key >= start, in key order.
func (e *Engine) ScanObjects(ks string, start string, fn func(key object.Key, obj object.Object) bool) error {
	if err := storage.ValidKeyspace(ks); err != nil {
		return err
	}
	snap, err := e.snapshotObjects(ks, start)
	if err != nil {
		return err
	}
	for _, ent := range snap {
		key := object.Key{Keyspace: ks, Key: ent.key}
		obj, err := decodeObject(key, ent.enc)
		if err != nil {
			return err
		}
		if !fn(key, obj) {
			return nil
		}
	}
	return nil
}

// snapshotObjects returns the entries of ks with key >= start, in order. It takes the
// write lock only when the keyspace's sorted key cache is stale.
func (e *Engine) snapshotObjects(ksName, start string) ([]objectEntry, error) {
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return nil, storage.ErrClosed
	}
	ks := e.keyspaces[ksName]
	if ks == nil {
		e.mu.RUnlock()
		return nil, nil
	}
	if ks.sorted != nil {
		defer e.mu.RUnlock()
		return ks.entriesFrom(start), nil
	}
	e.mu.RUnlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	ks = e.keyspaces[ksName]
	if ks == nil {
		return nil, nil
	}
	ks.sortedKeys()
	return ks.entriesFrom(start), nil
}

// entriesFrom copies out the entries with key >= start; ks.sorted must be fresh.
func (ks *keyspace) entriesFrom(start string) []objectEntry {
	i := sort.SearchStrings(ks.sorted, start)
	out := make([]objectEntry, 0, len(ks.sorted)-i)
	for _, k := range ks.sorted[i:] {
		out = append(out, objectEntry{key: k, enc: ks.objects[k]})
	}
	return out
}

// Keyspaces lists the keyspaces holding at least one object, sorted.
func (e *Engine) Keyspaces() ([]string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	out := make([]string, 0, len(e.keyspaces))
	for ks := range e.keyspaces {
		out = append(out, ks)
	}
	sort.Strings(out)
	return out, nil
}

// GetMeta returns a copy of the named metadata value.
func (e *Engine) GetMeta(name string) ([]byte, bool, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, false, storage.ErrClosed
	}
	v, ok := e.meta[name]
	if !ok {
		return nil, false, nil
	}
	return append([]byte{}, v...), true, nil
}

type metaEntry struct {
	name  string
	value []byte
}

// ScanMeta calls fn for each metadata entry whose name starts with prefix, in name
// order, with a copy of its value.
func (e *Engine) ScanMeta(prefix string, fn func(name string, value []byte) bool) error {
	snap, err := e.snapshotMeta(prefix)
	if err != nil {
		return err
	}
	for _, m := range snap {
		if !fn(m.name, append([]byte{}, m.value...)) {
			return nil
		}
	}
	return nil
}

func (e *Engine) snapshotMeta(prefix string) ([]metaEntry, error) {
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return nil, storage.ErrClosed
	}
	if e.metaNames != nil {
		defer e.mu.RUnlock()
		return e.metaFrom(prefix), nil
	}
	e.mu.RUnlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	if e.metaNames == nil {
		e.metaNames = make([]string, 0, len(e.meta))
		for name := range e.meta {
			e.metaNames = append(e.metaNames, name)
		}
		sort.Strings(e.metaNames)
	}
	return e.metaFrom(prefix), nil
}

// metaFrom copies out the entries whose name starts with prefix; metaNames must be
// fresh.
func (e *Engine) metaFrom(prefix string) []metaEntry {
	var out []metaEntry
	for _, name := range e.metaNames[sort.SearchStrings(e.metaNames, prefix):] {
		if !strings.HasPrefix(name, prefix) {
			break
		}
		out = append(out, metaEntry{name: name, value: e.meta[name]})
	}
	return out
}

// ScanHints calls fn for target's hints in id order, or with target "" for every hint
// ordered by target then id. Each hint passed to fn is a fresh copy.
func (e *Engine) ScanHints(target string, fn func(h record.Hint) bool) error {
	if target != "" {
		if err := storage.ValidTarget(target); err != nil {
			return err
		}
	}
	snap, err := e.snapshotHints(target)
	if err != nil {
		return err
	}
	for _, sh := range snap {
		h := sh.hint
		obj, err := decodeObject(h.Key, sh.obj)
		if err != nil {
			return err
		}
		h.Object = obj
		if !fn(h) {
			return nil
		}
	}
	return nil
}

func (e *Engine) snapshotHints(target string) ([]storedHint, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	targets := []string{target}
	if target == "" {
		targets = make([]string, 0, len(e.hints))
		for t := range e.hints {
			targets = append(targets, t)
		}
		sort.Strings(targets)
	}
	var out []storedHint
	for _, t := range targets {
		first := len(out)
		for _, h := range e.hints[t] {
			out = append(out, h)
		}
		part := out[first:]
		sort.Slice(part, func(i, j int) bool { return part[i].hint.ID < part[j].hint.ID })
	}
	return out, nil
}

// RecentRepairs returns up to limit read-repair log entries, newest first.
func (e *Engine) RecentRepairs(limit int) ([]record.Repair, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, storage.ErrClosed
	}
	live := e.repairs
	if len(live) > e.maxRepairs {
		live = live[len(live)-e.maxRepairs:]
	}
	limit = min(max(limit, 0), len(live))
	out := make([]record.Repair, limit)
	for i := range out {
		out[i] = live[len(live)-1-i]
	}
	return out, nil
}
