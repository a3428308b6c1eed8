package object

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chorusdb/chorus/internal/version"
)

// Key addresses an object: a keyspace and a key within it.
type Key struct {
	Keyspace string
	Key      string
}

// String renders the key as keyspace/key.
func (k Key) String() string { return k.Keyspace + "/" + k.Key }

// Kind is the data type of an object. Commands that do not fit an object's kind fail
// with a WRONGTYPE error.
type Kind uint8

// The kinds an object can have.
const (
	KindRegister Kind = iota // opaque bytes, resolved by the keyspace's rule
	KindCounter              // a PN-counter CRDT
	KindSet                  // an add-wins OR-set CRDT
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindRegister:
		return "register"
	case KindCounter:
		return "counter"
	case KindSet:
		return "set"
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

// Mode chooses how Merge resolves two copies.
type Mode uint8

// The merge modes.
const (
	// LWW keeps only the sibling with the highest timestamp.
	LWW Mode = iota
	// Siblings keeps every sibling not causally dominated (dotted version vector sets):
	// a sibling survives unless the other copy's context has seen its dot without
	// keeping it.
	Siblings
)

// ErrKindMismatch is returned by Merge when the two copies have different kinds.
var ErrKindMismatch = errors.New("object: kinds differ")

// Merge joins two copies of an object. It is commutative, associative and idempotent
// for each mode, over the copies that mode produces: under LWW, copies with at most one
// sibling; under Siblings, copies whose siblings' dots are all within their context and
// name the same write wherever they appear. The zero Object is the identity. Neither
// input is modified; the result may share their slices.
func Merge(a, b Object, mode Mode) (Object, error) {
	if a.IsZero() {
		return b, nil
	}
	if b.IsZero() {
		return a, nil
	}
	if a.Kind != b.Kind {
		return Object{}, fmt.Errorf("%w: %s and %s", ErrKindMismatch, a.Kind, b.Kind)
	}
	out := Object{Kind: a.Kind, Context: a.Context.Join(b.Context)}
	if mode == LWW {
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
		return out, nil
	}
	out.Siblings = mergeDVV(a, b)
	return out, nil
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
