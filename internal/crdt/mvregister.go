package crdt

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// mvEntry is one value of a multi-value register with the dot of the write.
type mvEntry struct {
	d     dot
	value []byte // never modified in place
}

func (e mvEntry) key() dot { return e.d }

func (e mvEntry) pick(o mvEntry) mvEntry {
	if bytes.Compare(e.value, o.value) >= 0 {
		return e
	}
	return o
}

// mvStore is the body of a multi-value register: the values of the writes that no
// write has overwritten yet, sorted by actor.
type mvStore []mvEntry

// values returns the distinct values in ascending byte order (copies).
func (s mvStore) values() [][]byte {
	out := make([][]byte, 0, len(s))
	for _, e := range s {
		out = append(out, cloneBytes(e.value))
	}
	slices.SortFunc(out, bytes.Compare)
	return slices.CompactFunc(out, bytes.Equal)
}

func (s mvStore) equal(o mvStore) bool {
	return slices.EqualFunc(s, o, func(a, b mvEntry) bool {
		return a.d == b.d && bytes.Equal(a.value, b.value)
	})
}

func appendMVStore(dst []byte, s mvStore, ctx vclock) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	for _, e := range s {
		dst = appendDotRef(dst, ctx, e.d)
		dst = appendBytes(dst, e.value)
	}
	return dst
}

// mvStore reads what appendMVStore writes: at most one entry per actor, in order.
func (d *decoder) mvStore(ctx vclock) mvStore {
	n := d.count(3) // actor index, counter, value length
	if n == 0 {
		return nil
	}
	s := make(mvStore, 0, n)
	for i := 0; i < n && d.ok(); i++ {
		e := mvEntry{d: d.dotRef(ctx), value: d.bytes()}
		if i > 0 && s[i-1].d.actor >= e.d.actor {
			d.fail("register entries out of order")
		}
		s = append(s, e)
	}
	if !d.ok() {
		return nil
	}
	return s
}

// MVRegister is a multi-value register (as in Dynamo and Riak siblings, built like the
// ORSet): a write replaces every value its state has seen, and writes that are
// concurrent are all kept, until a later write that has seen them replaces them.
// Reads return every current value; the application picks or combines them and
// writes back.
//
// The zero MVRegister is an empty register ready to use.
type MVRegister struct {
	ctx     vclock
	entries mvStore
}

// NewMVRegister returns an empty register.
func NewMVRegister() *MVRegister { return &MVRegister{} }

// Type returns TypeMVRegister.
func (r *MVRegister) Type() Type { return TypeMVRegister }

// Set writes value (copied) on behalf of actor, issuing actor's next dot and replacing
// every value this state holds. The actor must be the replica applying the operation
// to its own latest state (see the package documentation).
func (r *MVRegister) Set(actor string, value []byte) {
	r.entries = mvStore{{d: r.ctx.next(actor), value: cloneBytes(value)}}
}

// Clear removes every value this state holds (values written concurrently elsewhere
// survive the merge) and reports whether there were any.
func (r *MVRegister) Clear() bool {
	had := len(r.entries) > 0
	r.entries = nil
	return had
}

// Values returns the current values, distinct, in ascending byte order (copies). More
// than one means concurrent writes.
func (r *MVRegister) Values() [][]byte { return r.entries.values() }

// Join returns the merge of r and o as a new register. A nil o is the empty register.
func (r *MVRegister) Join(o *MVRegister) *MVRegister {
	if o == nil {
		return r.Clone()
	}
	return &MVRegister{
		ctx:     joinClocks(r.ctx, o.ctx),
		entries: mergeKernel(r.entries, o.entries, r.ctx, o.ctx),
	}
}

// Merge implements Value.
func (r *MVRegister) Merge(other Value) (Value, error) {
	o, ok := other.(*MVRegister)
	if !ok {
		return nil, wrongType(TypeMVRegister, other)
	}
	return r.Join(o), nil
}

// Clone returns a deep copy of r (value bytes are shared: they are never modified).
func (r *MVRegister) Clone() *MVRegister {
	return &MVRegister{ctx: r.ctx.clone(), entries: slices.Clone(r.entries)}
}

// Equal implements Value.
func (r *MVRegister) Equal(other Value) bool {
	o, ok := other.(*MVRegister)
	return ok && o != nil && r.ctx.equal(o.ctx) && r.entries.equal(o.entries)
}

// Append implements Value: header, causal context, then each value with its dot.
func (r *MVRegister) Append(dst []byte) []byte {
	dst = appendClock(appendHeader(dst, TypeMVRegister), r.ctx)
	return appendMVStore(dst, r.entries, r.ctx)
}

// DecodeMVRegister parses what MVRegister.Append writes.
func DecodeMVRegister(buf []byte) (*MVRegister, error) {
	d := start(buf, TypeMVRegister)
	r := &MVRegister{ctx: d.clock(maxCounter)}
	r.entries = d.mvStore(r.ctx)
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// MarshalJSON renders the current values as a JSON array (each a string, or
// {"base64":"..."} when not valid UTF-8), in ascending byte order.
func (r *MVRegister) MarshalJSON() ([]byte, error) {
	return appendJSONByteList(nil, r.entries.values()), nil
}
