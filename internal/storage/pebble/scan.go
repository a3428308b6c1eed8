package pebble

import (
	"errors"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/storage"
)

// Scans read through a Pebble iterator, which sees one consistent snapshot: a batch
// committed during the scan is seen wholly or not at all. fn runs while the iterator is
// open; it may call the engine's other methods, but not Close.

// ScanObjects calls fn for every object in keyspace ks with key >= start, in key order.
func (e *Engine) ScanObjects(ks string, start string, fn func(key object.Key, obj object.Object) bool) (err error) {
	if err := storage.ValidKeyspace(ks); err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	defer e.recoverFatal(&err)
	lower, upper := keyspaceBounds(ks, start)
	it, err := e.db.NewIter(&pebbledb.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return readError("scan "+ks, err)
	}
	defer closeIter(it, "scan "+ks, &err)
	for valid := it.First(); valid; valid = it.Next() {
		key, err := parseObjectKey(it.Key())
		if err != nil {
			return err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return readError("scan "+ks, err)
		}
		obj, err := decodeObject(key, v)
		if err != nil {
			return err
		}
		if !fn(key, obj) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return readError("scan "+ks, err)
	}
	return nil
}

// Keyspaces lists the keyspaces holding at least one object, sorted. It reads one key
// per keyspace: after each, it seeks past the rest of that keyspace.
func (e *Engine) Keyspaces() (out []string, err error) {
	if err := e.enter(); err != nil {
		return nil, err
	}
	defer e.exit()
	defer e.recoverFatal(&err)
	it, err := e.db.NewIter(&pebbledb.IterOptions{
		LowerBound: []byte{prefixObject},
		UpperBound: []byte{prefixObject + 1},
	})
	if err != nil {
		return nil, readError("keyspaces", err)
	}
	defer closeIter(it, "keyspaces", &err)
	out = []string{}
	for valid := it.First(); valid; {
		key, err := parseObjectKey(it.Key())
		if err != nil {
			return nil, err
		}
		out = append(out, key.Keyspace)
		_, next := keyspaceBounds(key.Keyspace, "")
		valid = it.SeekGE(next)
	}
	if err := it.Error(); err != nil {
		return nil, readError("keyspaces", err)
	}
	return out, nil
}

// GetMeta returns a copy of the named metadata value.
func (e *Engine) GetMeta(name string) (value []byte, found bool, err error) {
	if err := e.enter(); err != nil {
		return nil, false, err
	}
	defer e.exit()
	defer e.recoverFatal(&err)
	v, closer, err := e.db.Get(metaKey(name))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, readError("meta "+name, err)
	}
	defer closer.Close()
	return append([]byte{}, v...), true, nil
}

// ScanMeta calls fn for each metadata entry whose name starts with prefix, in name
// order. fn gets a copy of each value.
func (e *Engine) ScanMeta(prefix string, fn func(name string, value []byte) bool) (err error) {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.exit()
	defer e.recoverFatal(&err)
	lower := metaKey(prefix)
	it, err := e.db.NewIter(&pebbledb.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return readError("meta", err)
	}
	defer closeIter(it, "meta", &err)
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return readError("meta", err)
		}
		if !fn(string(it.Key()[1:]), append([]byte{}, v...)) {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return readError("meta", err)
	}
	return nil
}
