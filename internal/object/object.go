package object

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/version"
)

// Key addresses an object: a keyspace and a key within it.
type Key struct {
	Keyspace string
	Key      string
}

// String renders the key as keyspace/key.
func (k Key) String() string { return k.Keyspace + "/" + k.Key }

// Kind is the data type of an object, and with it how two copies merge. Commands that
// do not fit an object's kind fail with a WRONGTYPE error.
//
// Kinds are ordered, and two copies of different kinds merge by that order (a
// lexicographic join, so Merge stays a join-semilattice): the two register kinds
// merge as siblings, and otherwise the higher kind wins. A key thus keeps the first
// CRDT type written to it, and a register written concurrently with a CRDT loses.
type Kind uint8

// The kinds an object can have. The numbers are part of the encoding.
const (
	// KindRegister holds opaque bytes resolved by last-write-wins: one sibling.
	KindRegister Kind = 0
	// KindSiblings holds opaque bytes whose concurrent writes are all kept, as dotted
	// version vector siblings (the keyspace resolves them with "siblings" or a merge
	// rule).
	KindSiblings Kind = 1
	// kindCRDT + t is a CRDT of type t: one sibling whose value is its encoding.
	kindCRDT Kind = 0x10

	KindCounter = kindCRDT + Kind(crdt.TypePNCounter) // a PN-counter (INCR, DECR)
	KindSet     = kindCRDT + Kind(crdt.TypeORSet)     // an add-wins OR-set (SADD, SREM)
)

// KindOf returns the kind of objects holding a CRDT of type t.
func KindOf(t crdt.Type) Kind { return kindCRDT + Kind(t) }

// CRDT returns the CRDT type an object of this kind holds, and false for registers.
func (k Kind) CRDT() (crdt.Type, bool) {
	if k < kindCRDT {
		return 0, false
	}
	return crdt.Type(k - kindCRDT), true
}

// Valid reports whether k is a defined kind.
func (k Kind) Valid() bool {
	if t, ok := k.CRDT(); ok {
		return t.Valid()
	}
	return k <= KindSiblings
}

// IsRegister reports whether k holds opaque bytes (last-write-wins or siblings).
func (k Kind) IsRegister() bool { return k <= KindSiblings }

// String names the kind: "register", "siblings", or the CRDT type ("pncounter", ...).
func (k Kind) String() string {
	switch k {
	case KindRegister:
		return "register"
	case KindSiblings:
		return "siblings"
	}
	if t, ok := k.CRDT(); ok && t.Valid() {
		return t.String()
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Sibling is one version of a value. A register resolved by last-write-wins keeps one
// sibling; a keyspace that keeps siblings keeps one per concurrent write.
type Sibling struct {
	Value     []byte
	Dot       version.Dot
	Timestamp version.Timestamp
	Tombstone bool
	ExpiresAt int64 // unix milliseconds; 0 means never
}

// Live reports whether the sibling holds a value at time nowMs: it is not a tombstone
// and has not expired. Expiry is an absolute time chosen by the write's coordinator, so
// every replica expires it at the same moment.
func (s Sibling) Live(nowMs int64) bool {
	return !s.Tombstone && (s.ExpiresAt == 0 || nowMs < s.ExpiresAt)
}

// newer reports whether s wins over o under last-write-wins: higher HLC timestamp, then
// higher actor id, then higher counter. Ties are thus broken identically everywhere.
// Two different siblings with the same timestamp and dot should not exist (a dot is
// never reused), but a node that lost its disk can reuse one; they are ordered by
// content (a tombstone first, then the later expiry, then the greater value) so that
// every replica still picks the same one.
func (s Sibling) newer(o Sibling) bool {
	if s.Timestamp != o.Timestamp {
		return s.Timestamp > o.Timestamp
	}
	if s.Dot.Actor != o.Dot.Actor {
		return s.Dot.Actor > o.Dot.Actor
	}
	if s.Dot.Counter != o.Dot.Counter {
		return s.Dot.Counter > o.Dot.Counter
	}
	if s.Tombstone != o.Tombstone {
		return s.Tombstone
	}
	if s.ExpiresAt != o.ExpiresAt {
		return s.ExpiresAt > o.ExpiresAt
	}
	return bytes.Compare(s.Value, o.Value) > 0
}

// same reports whether two siblings are the same write.
func (s Sibling) same(o Sibling) bool {
	return s.Dot == o.Dot && s.Timestamp == o.Timestamp && s.Tombstone == o.Tombstone &&
		s.ExpiresAt == o.ExpiresAt && bytes.Equal(s.Value, o.Value)
}

// Object is the stored state of a key. The zero Object is an absent key.
type Object struct {
	Kind     Kind
	Siblings []Sibling
	// Context is the causal context: every dot this object's history has seen.
	Context version.Vector
}

// IsZero reports whether o holds nothing (the key was never written here).
func (o Object) IsZero() bool { return len(o.Siblings) == 0 && len(o.Context) == 0 }

// Winner returns the sibling that last-write-wins picks, and false for an empty object.
func (o Object) Winner() (Sibling, bool) {
	if len(o.Siblings) == 0 {
		return Sibling{}, false
	}
	w := o.Siblings[0]
	for _, s := range o.Siblings[1:] {
		if s.newer(w) {
			w = s
		}
	}
	return w, true
}

// Timestamp returns the newest timestamp among the siblings.
func (o Object) Timestamp() version.Timestamp {
	w, _ := o.Winner()
	return w.Timestamp
}

// Merge joins two copies of an object; how depends on their kind (see Kind). It is
// commutative, associative and idempotent over well-formed copies: a KindRegister copy
// has at most one sibling; a KindSiblings copy's siblings' dots all lie within its
// context and name the same write wherever they appear; a CRDT copy has exactly one
// sibling holding a valid encoding of its type. The zero Object is the identity.
// Neither input is modified; the result may share their slices. It fails only when a
// CRDT value does not decode.
func Merge(a, b Object) (Object, error) {
	if a.IsZero() {
		return b, nil
	}
	if b.IsZero() {
		return a, nil
	}
	if a.Kind != b.Kind {
		if a.Kind.IsRegister() && b.Kind.IsRegister() {
			return Object{Kind: KindSiblings, Context: a.Context.Join(b.Context), Siblings: mergeDVV(a, b)}, nil
		}
		if a.Kind > b.Kind {
			return a, nil
		}
		return b, nil
	}
	out := Object{Kind: a.Kind, Context: a.Context.Join(b.Context)}
	switch {
	case a.Kind == KindSiblings:
		out.Siblings = mergeDVV(a, b)
	case a.Kind == KindRegister:
		wa, okA := a.Winner()
		wb, okB := b.Winner()
		switch {
		case okA && okB && wb.newer(wa):
			out.Siblings = []Sibling{wb}
		case okA:
			out.Siblings = []Sibling{wa}
		case okB:
			out.Siblings = []Sibling{wb}
		}
	default:
		s, err := mergeCRDT(a, b)
		if err != nil {
			return Object{}, err
		}
		out.Siblings = []Sibling{s}
	}
	return out, nil
}

// mergeCRDT joins the CRDT states of two copies. The sibling keeps the newer stamp of
// the two, so that the stamp says when the state last changed.
func mergeCRDT(a, b Object) (Sibling, error) {
	sa, okA := a.Winner()
	sb, okB := b.Winner()
	switch {
	case !okA:
		return sb, nil
	case !okB:
		return sa, nil
	}
	va, err := crdt.Decode(sa.Value)
	if err != nil {
		return Sibling{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	vb, err := crdt.Decode(sb.Value)
	if err != nil {
		return Sibling{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	m, err := va.Merge(vb)
	if err != nil {
		return Sibling{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	out := sa
	if sb.newer(sa) {
		out = sb
	}
	out.Value = crdt.Encode(m)
	return out, nil
}

// CRDT decodes the CRDT state of an object of a CRDT kind. The zero Object gives
// (nil, nil).
func (o Object) CRDT() (crdt.Value, error) {
	s, ok := o.Winner()
	if !ok {
		return nil, nil
	}
	v, err := crdt.Decode(s.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return v, nil
}

// Live returns the siblings that hold a value at time nowMs (not tombstones, not
// expired), in the object's order.
func (o Object) Live(nowMs int64) []Sibling {
	var out []Sibling
	for _, s := range o.Siblings {
		if s.Live(nowMs) {
			out = append(out, s)
		}
	}
	return out
}

// Dead reports whether no sibling holds a value at nowMs, and since when: the newest
// tombstone's timestamp or expiry. An object with no siblings is not dead (it is
// absent); a CRDT is never dead.
func (o Object) Dead(nowMs int64) (since int64, dead bool) {
	if len(o.Siblings) == 0 || !o.Kind.IsRegister() {
		return 0, false
	}
	for _, s := range o.Siblings {
		if s.Live(nowMs) {
			return 0, false
		}
		at := s.Timestamp.Physical()
		if s.ExpiresAt != 0 && !s.Tombstone {
			at = s.ExpiresAt
		}
		since = max(since, at)
	}
	return since, true
}

// FullContext returns the context a client should send back to supersede everything
// it read: the object's context joined with every sibling's dot.
func (o Object) FullContext() version.Vector {
	ctx := o.Context
	for _, s := range o.Siblings {
		if !ctx.Contains(s.Dot) {
			ctx = ctx.Add(s.Dot)
		}
	}
	return ctx
}

// mergeDVV keeps a's siblings that b has not seen or also keeps, and the same for b,
// sorted by dot. A dot both keep appears once; should the two copies of it differ (a
// reused dot), the one that wins under last-write-wins is kept, whichever side it is on.
func mergeDVV(a, b Object) []Sibling {
	var out []Sibling
	keep := func(s Sibling, other Object) bool {
		if !other.Context.Contains(s.Dot) {
			return true
		}
		for _, o := range other.Siblings {
			if o.Dot == s.Dot {
				return true
			}
		}
		return false
	}
	for _, s := range a.Siblings {
		if keep(s, b) {
			out = append(out, s)
		}
	}
	for _, s := range b.Siblings {
		if keep(s, a) {
			out = append(out, s)
		}
	}
	sortSiblings(out)
	return slices.CompactFunc(out, func(x, y Sibling) bool { return x.Dot == y.Dot })
}

// sortSiblings orders siblings by dot and, within one dot, the last-write-wins winner
// first.
func sortSiblings(s []Sibling) {
	slices.SortFunc(s, func(x, y Sibling) int {
		if c := strings.Compare(x.Dot.Actor, y.Dot.Actor); c != 0 {
			return c
		}
		switch {
		case x.Dot.Counter != y.Dot.Counter:
			return cmp.Compare(x.Dot.Counter, y.Dot.Counter)
		case x.newer(y):
			return -1
		case y.newer(x):
			return 1
		}
		return 0
	})
}

// Equal reports whether two objects hold the same siblings and context.
func Equal(a, b Object) bool {
	if a.Kind != b.Kind || len(a.Siblings) != len(b.Siblings) || len(a.Context) != len(b.Context) {
		return false
	}
	for i := range a.Context {
		if a.Context[i] != b.Context[i] {
			return false
		}
	}
	for i := range a.Siblings {
		if !a.Siblings[i].same(b.Siblings[i]) {
			return false
		}
	}
	return true
}
