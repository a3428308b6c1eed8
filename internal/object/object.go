package object

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

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
func (s Sibling) newer(o Sibling) bool {
	if s.Timestamp != o.Timestamp {
		return s.Timestamp > o.Timestamp
	}
	if s.Dot.Actor != o.Dot.Actor {
		return s.Dot.Actor > o.Dot.Actor
	}
	return s.Dot.Counter > o.Dot.Counter
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
// for each mode. Neither input is modified.
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
		w, _ := Object{Siblings: append(append([]Sibling(nil), a.Siblings...), b.Siblings...)}.Winner()
		out.Siblings = []Sibling{w}
		return out, nil
	}
	out.Siblings = mergeDVV(a, b)
	return out, nil
}

// mergeDVV keeps a's siblings that b has not seen or also keeps, and the same for b.
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
		if !keep(s, a) {
			continue
		}
		dup := false
		for _, o := range out {
			if o.Dot == s.Dot {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	sortSiblings(out)
	return out
}

func sortSiblings(s []Sibling) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Dot.Actor != s[j].Dot.Actor {
			return s[i].Dot.Actor < s[j].Dot.Actor
		}
		return s[i].Dot.Counter < s[j].Dot.Counter
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
