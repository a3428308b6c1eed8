package crdt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
)

// fieldStore is the causal payload of one Map field. Its dots are covered by the
// causal context of the enclosing Map, which all fields share; a field whose payload
// holds no dot is absent. Implementations are slices kept canonical (sorted, no empty
// entries); containers are owned by one value, while dot lists and byte values may be
// shared between values because nothing modifies them in place.
type fieldStore interface {
	// mergeStore merges the receiver (from a state with context self) with o (from a
	// state with context other; nil when that state has no such field) into a new
	// payload, or nil when no dot survives.
	mergeStore(o fieldStore, self, other vclock) fieldStore
	equalStore(o fieldStore) bool
	appendStore(dst []byte, ctx vclock) []byte
	appendJSON(dst []byte) []byte
	cloneStore() fieldStore
}

// The payloads of the field types a Map can hold.
var (
	_ fieldStore = counterStore(nil) // TypePNCounter
	_ fieldStore = setStore(nil)     // TypeORSet
	_ fieldStore = lwwStore(nil)     // TypeLWWRegister
	_ fieldStore = mvStore(nil)      // TypeMVRegister
	_ fieldStore = mapStore(nil)     // TypeMap
)

// nonEmpty boxes a payload, or returns nil when it is empty.
func nonEmpty[S interface {
	~[]E
	fieldStore
}, E any](s S) fieldStore {
	if len(s) == 0 {
		return nil
	}
	return s
}

// ---- counter ----

// ctrEntry is one actor's contribution to an embedded counter: the running total of
// the increments it applied since it last saw the field removed, tagged with the dot
// of its latest increment.
type ctrEntry struct {
	d dot
	v int64
}

func (e ctrEntry) key() dot { return e.d }

func (e ctrEntry) pick(o ctrEntry) ctrEntry {
	if e.v >= o.v {
		return e
	}
	return o
}

// counterStore is a counter embedded in a Map (a "causal counter"): one dotted entry
// per actor, so that removing the field removes exactly the contributions it has
// observed, and a later re-add starts from zero instead of resurrecting them.
type counterStore []ctrEntry

func (s counterStore) sum() sum128 {
	var t sum128
	for _, e := range s {
		t.addInt(e.v)
	}
	return t
}

// incremented returns actor's new running total after adding delta, or ErrOverflow
// when it or the counter's value would leave the int64 range.
func (s counterStore) incremented(actor string, delta int64) (int64, error) {
	var own int64
	if i, found := slices.BinarySearchFunc(s, actor, cmpCtrActor); found {
		own = s[i].v
	}
	t := s.sum()
	t.addInt(delta)
	if _, fits := t.int64(); !fits || (delta > 0 && own > math.MaxInt64-delta) || (delta < 0 && own < math.MinInt64-delta) {
		return 0, ErrOverflow
	}
	return own + delta, nil
}

// put sets the entry of d.actor to (d, v) in place.
func (s *counterStore) put(d dot, v int64) {
	i, found := slices.BinarySearchFunc(*s, d.actor, cmpCtrActor)
	if found {
		(*s)[i] = ctrEntry{d: d, v: v}
		return
	}
	*s = slices.Insert(*s, i, ctrEntry{d: d, v: v})
}

func cmpCtrActor(e ctrEntry, actor string) int { return cmp.Compare(e.d.actor, actor) }

func (s counterStore) mergeStore(o fieldStore, self, other vclock) fieldStore {
	os, _ := o.(counterStore)
	return nonEmpty(counterStore(mergeKernel(s, os, self, other)))
}

func (s counterStore) equalStore(o fieldStore) bool {
	os, ok := o.(counterStore)
	return ok && slices.Equal(s, os)
}

func (s counterStore) appendStore(dst []byte, ctx vclock) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	for _, e := range s {
		dst = appendDotRef(dst, ctx, e.d)
		dst = binary.AppendVarint(dst, e.v)
	}
	return dst
}

func (s counterStore) appendJSON(dst []byte) []byte {
	v, _ := s.sum().int64()
	return strconv.AppendInt(dst, v, 10)
}

func (s counterStore) cloneStore() fieldStore { return slices.Clone(s) }

func (d *decoder) counterStore(ctx vclock) counterStore {
	n := d.count(3) // actor index, counter, value
	s := make(counterStore, 0, n)
	for i := 0; i < n && d.ok(); i++ {
		e := ctrEntry{d: d.dotRef(ctx), v: d.varint()}
		if i > 0 && s[i-1].d.actor >= e.d.actor {
			d.fail("counter entries out of order")
		}
		s = append(s, e)
	}
	return s
}

// ---- OR-Set ----

func (s setStore) mergeStore(o fieldStore, self, other vclock) fieldStore {
	os, _ := o.(setStore)
	return nonEmpty(mergeSetStores(s, os, self, other))
}

func (s setStore) equalStore(o fieldStore) bool {
	os, ok := o.(setStore)
	return ok && s.equal(os)
}

func (s setStore) appendStore(dst []byte, ctx vclock) []byte { return appendSetStore(dst, s, ctx) }

func (s setStore) appendJSON(dst []byte) []byte { return appendJSONStrings(dst, s.elements()) }

func (s setStore) cloneStore() fieldStore { return s.clone() }

// ---- multi-value register ----

func (s mvStore) mergeStore(o fieldStore, self, other vclock) fieldStore {
	os, _ := o.(mvStore)
	return nonEmpty(mvStore(mergeKernel(s, os, self, other)))
}

func (s mvStore) equalStore(o fieldStore) bool {
	os, ok := o.(mvStore)
	return ok && s.equal(os)
}

func (s mvStore) appendStore(dst []byte, ctx vclock) []byte { return appendMVStore(dst, s, ctx) }

func (s mvStore) appendJSON(dst []byte) []byte { return appendJSONByteList(dst, s.values()) }

func (s mvStore) cloneStore() fieldStore { return slices.Clone(s) }

// ---- last-write-wins register ----

// lwwEntry is a write to a register embedded in a Map, with its dot.
type lwwEntry struct {
	d     dot
	ts    uint64
	value []byte // never modified in place
}

func (e lwwEntry) key() dot { return e.d }

func (e lwwEntry) pick(o lwwEntry) lwwEntry {
	if cmpLWWEntry(e, o) >= 0 {
		return e
	}
	return o
}

// cmpLWWEntry orders writes by (timestamp, actor, value), as LWWRegister does.
func cmpLWWEntry(a, b lwwEntry) int {
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	if c := cmp.Compare(a.d.actor, b.d.actor); c != 0 {
		return c
	}
	return bytes.Compare(a.value, b.value)
}

// lwwStore is a last-write-wins register embedded in a Map. Writes carry dots, like
// an MVRegister, so that removing the field removes the writes it observed; the value
// read is the write with the highest (timestamp, actor). Concurrent writes are kept
// until a write that has seen them replaces them, which keeps the store small.
type lwwStore []lwwEntry

func (s lwwStore) winner() (lwwEntry, bool) {
	if len(s) == 0 {
		return lwwEntry{}, false
	}
	return slices.MaxFunc(s, cmpLWWEntry), true
}

func (s lwwStore) mergeStore(o fieldStore, self, other vclock) fieldStore {
	os, _ := o.(lwwStore)
	return nonEmpty(lwwStore(mergeKernel(s, os, self, other)))
}

func (s lwwStore) equalStore(o fieldStore) bool {
	os, ok := o.(lwwStore)
	return ok && slices.EqualFunc(s, os, func(a, b lwwEntry) bool {
		return a.d == b.d && a.ts == b.ts && bytes.Equal(a.value, b.value)
	})
}

func (s lwwStore) appendStore(dst []byte, ctx vclock) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	for _, e := range s {
		dst = appendDotRef(dst, ctx, e.d)
		dst = binary.AppendUvarint(dst, e.ts)
		dst = appendBytes(dst, e.value)
	}
	return dst
}

func (s lwwStore) appendJSON(dst []byte) []byte {
	w, _ := s.winner()
	return appendJSONBytes(dst, w.value)
}

func (s lwwStore) cloneStore() fieldStore { return slices.Clone(s) }

func (d *decoder) lwwStore(ctx vclock) lwwStore {
	n := d.count(4) // actor index, counter, timestamp, value length
	s := make(lwwStore, 0, n)
	for i := 0; i < n && d.ok(); i++ {
		e := lwwEntry{d: d.dotRef(ctx), ts: d.uvarint(), value: d.bytes()}
		if i > 0 && s[i-1].d.actor >= e.d.actor {
			d.fail("register entries out of order")
		}
		s = append(s, e)
	}
	return s
}
