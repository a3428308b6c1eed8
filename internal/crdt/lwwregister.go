package crdt

import (
	"bytes"
	"cmp"
	"encoding/binary"
)

// LWWRegister is a last-write-wins register of bytes: of two writes the one with the
// higher timestamp wins, ties broken by the higher actor id (then by the value bytes,
// so that merge is deterministic even for conflicting states). Concurrent writes are
// silently lost — use MVRegister to keep them. Timestamps should come from the node's
// hybrid logical clock (version.HLC), so that a write that causally follows another
// carries a larger timestamp even under clock skew.
//
// The zero LWWRegister is an empty (never written) register ready to use.
type LWWRegister struct {
	set   bool
	ts    uint64
	actor string
	value []byte // never modified in place
}

// NewLWWRegister returns an empty register.
func NewLWWRegister() *LWWRegister { return &LWWRegister{} }

// Type returns TypeLWWRegister.
func (r *LWWRegister) Type() Type { return TypeLWWRegister }

// Set writes value (copied) with timestamp ts on behalf of actor and reports whether
// it took effect: a write that does not beat the current one (lower timestamp, or the
// same timestamp and a lower or equal actor id) is ignored, exactly as a merge with it
// would ignore it.
func (r *LWWRegister) Set(actor string, ts uint64, value []byte) bool {
	w := LWWRegister{set: true, ts: ts, actor: actor, value: cloneBytes(value)}
	if r.set && cmpLWW(&w, r) <= 0 {
		return false
	}
	*r = w
	return true
}

// Get returns the current value (a copy) and whether the register was ever written.
func (r *LWWRegister) Get() ([]byte, bool) { return cloneBytes(r.value), r.set }

// Timestamp returns the winning write's timestamp (0 if never written).
func (r *LWWRegister) Timestamp() uint64 { return r.ts }

// Actor returns the winning write's actor ("" if never written).
func (r *LWWRegister) Actor() string { return r.actor }

// cmpLWW orders written registers by (timestamp, actor, value).
func cmpLWW(a, b *LWWRegister) int {
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	if c := cmp.Compare(a.actor, b.actor); c != 0 {
		return c
	}
	return bytes.Compare(a.value, b.value)
}

// Join returns the merge of r and o (the winning write) as a new register. A nil o is
// the empty register.
func (r *LWWRegister) Join(o *LWWRegister) *LWWRegister {
	if o == nil || !o.set || (r.set && cmpLWW(r, o) >= 0) {
		return r.Clone()
	}
	return o.Clone()
}

// Merge implements Value.
func (r *LWWRegister) Merge(other Value) (Value, error) {
	o, ok := other.(*LWWRegister)
	if !ok {
		return nil, wrongType(TypeLWWRegister, other)
	}
	return r.Join(o), nil
}

// Clone returns a copy of r (the value bytes are shared: they are never modified).
func (r *LWWRegister) Clone() *LWWRegister { c := *r; return &c }

// Equal implements Value.
func (r *LWWRegister) Equal(other Value) bool {
	o, ok := other.(*LWWRegister)
	return ok && o != nil && r.set == o.set && (!r.set || cmpLWW(r, o) == 0)
}

// Append implements Value: header, a written flag, then timestamp, actor and value.
func (r *LWWRegister) Append(dst []byte) []byte {
	dst = appendHeader(dst, TypeLWWRegister)
	if !r.set {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, r.ts)
	dst = appendString(dst, r.actor)
	return appendBytes(dst, r.value)
}

// DecodeLWWRegister parses what LWWRegister.Append writes.
func DecodeLWWRegister(buf []byte) (*LWWRegister, error) {
	d := start(buf, TypeLWWRegister)
	r := &LWWRegister{}
	switch flag := d.byte(); {
	case !d.ok():
	case flag == 1:
		r.set = true
		r.ts = d.uvarint()
		r.actor = d.string()
		r.value = d.bytes()
	case flag != 0:
		d.fail("bad register flag %d", flag)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return r, nil
}

// MarshalJSON renders the value: a JSON string when it is valid UTF-8, otherwise
// {"base64":"..."}; null when the register was never written.
func (r *LWWRegister) MarshalJSON() ([]byte, error) {
	if !r.set {
		return []byte("null"), nil
	}
	return appendJSONBytes(nil, r.value), nil
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
