package crdt

import (
	"errors"
	"fmt"
)

// Type names a CRDT type. It is the second byte of every encoding (after the format
// version), so a stored value can be decoded and merged without knowing its type.
// The zero Type is invalid.
type Type uint8

// The CRDT types. The numbers are part of the encoding: never renumber them.
const (
	TypeGCounter    Type = 1 // grow-only counter
	TypePNCounter   Type = 2 // counter that goes up and down
	TypeGSet        Type = 3 // grow-only set of strings
	TypeTwoPSet     Type = 4 // two-phase set: an element removed can never come back
	TypeORSet       Type = 5 // add-wins observed-remove set
	TypeLWWRegister Type = 6 // last-write-wins register of bytes
	TypeMVRegister  Type = 7 // multi-value register: concurrent writes are all kept
	TypeMap         Type = 8 // map from string keys to embedded CRDTs

	maxType = TypeMap
)

var typeNames = [...]string{
	TypeGCounter:    "gcounter",
	TypePNCounter:   "pncounter",
	TypeGSet:        "gset",
	TypeTwoPSet:     "2pset",
	TypeORSet:       "orset",
	TypeLWWRegister: "lwwregister",
	TypeMVRegister:  "mvregister",
	TypeMap:         "map",
}

// String returns the type's lower-case name ("pncounter", "orset", ...), the name
// ParseType accepts.
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("crdt.Type(%d)", uint8(t))
}

// Valid reports whether t is one of the defined types.
func (t Type) Valid() bool { return t >= TypeGCounter && t <= maxType }

// ParseType returns the Type whose String is name.
func ParseType(name string) (Type, error) {
	for t := TypeGCounter; t <= maxType; t++ {
		if typeNames[t] == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown CRDT type %q", ErrWrongType, name)
}

// Errors returned by this package; test for them with errors.Is.
var (
	// ErrWrongType is returned when two values of different types are merged, when an
	// encoding holds another type than the one asked for, and for unknown type names.
	ErrWrongType = errors.New("crdt: wrong type")
	// ErrCorrupt is returned when bytes do not decode as a CRDT.
	ErrCorrupt = errors.New("crdt: corrupt encoding")
	// ErrOverflow is returned by a counter operation whose result does not fit; the
	// counter is left unchanged.
	ErrOverflow = errors.New("crdt: counter overflow")
	// ErrRemoved is returned when adding to a TwoPSet an element that was removed.
	ErrRemoved = errors.New("crdt: element was removed and cannot be re-added")
	// ErrTooDeep is returned when maps would nest deeper than MaxDepth.
	ErrTooDeep = errors.New("crdt: maps nested too deeply")
)

// Value is any CRDT of this package, so that a caller (the core) can store, merge and
// render a CRDT without knowing its type. Implementations are *GCounter, *PNCounter,
// *GSet, *TwoPSet, *ORSet, *LWWRegister, *MVRegister and *Map. Values are not safe for
// concurrent use; Merge, Equal, Append and MarshalJSON only read their receiver and
// argument.
type Value interface {
	// Type returns the value's type.
	Type() Type
	// Merge returns the least upper bound of the receiver and other, a new value that
	// shares nothing mutable with either. Merge is commutative, associative and
	// idempotent, so replicas converge whatever order, grouping and number of times
	// states are delivered. It fails with ErrWrongType when other is another type.
	Merge(other Value) (Value, error)
	// Equal reports whether other is the same type and holds the same state
	// (including causal metadata, not only the same user-visible value).
	Equal(other Value) bool
	// Append appends the binary encoding (format version, type, state) to dst.
	Append(dst []byte) []byte
	// MarshalJSON renders the user-visible value (a number, an array of strings, an
	// object...), without causal metadata.
	MarshalJSON() ([]byte, error)
}

// Compile-time checks that every type implements Value.
var (
	_ Value = (*GCounter)(nil)
	_ Value = (*PNCounter)(nil)
	_ Value = (*GSet)(nil)
	_ Value = (*TwoPSet)(nil)
	_ Value = (*ORSet)(nil)
	_ Value = (*LWWRegister)(nil)
	_ Value = (*MVRegister)(nil)
	_ Value = (*Map)(nil)
)

// New returns the empty value (the bottom of the lattice) of type t.
func New(t Type) (Value, error) {
	switch t {
	case TypeGCounter:
		return NewGCounter(), nil
	case TypePNCounter:
		return NewPNCounter(), nil
	case TypeGSet:
		return NewGSet(), nil
	case TypeTwoPSet:
		return NewTwoPSet(), nil
	case TypeORSet:
		return NewORSet(), nil
	case TypeLWWRegister:
		return NewLWWRegister(), nil
	case TypeMVRegister:
		return NewMVRegister(), nil
	case TypeMap:
		return NewMap(), nil
	}
	return nil, fmt.Errorf("%w: %s", ErrWrongType, t)
}

// Decode parses any encoded CRDT, dispatching on its type byte. The result shares no
// memory with buf. Corrupt input yields an error wrapping ErrCorrupt, never a panic,
// and memory allocated is bounded by len(buf), not by lengths declared inside it.
func Decode(buf []byte) (Value, error) {
	t, err := PeekType(buf)
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeGCounter:
		return DecodeGCounter(buf)
	case TypePNCounter:
		return DecodePNCounter(buf)
	case TypeGSet:
		return DecodeGSet(buf)
	case TypeTwoPSet:
		return DecodeTwoPSet(buf)
	case TypeORSet:
		return DecodeORSet(buf)
	case TypeLWWRegister:
		return DecodeLWWRegister(buf)
	case TypeMVRegister:
		return DecodeMVRegister(buf)
	default: // TypeMap; PeekType rejected the rest
		return DecodeMap(buf)
	}
}

// PeekType returns the type of an encoded CRDT after checking its format version,
// without decoding the rest.
func PeekType(buf []byte) (Type, error) {
	if len(buf) < 2 {
		return 0, fmt.Errorf("%w: %d bytes, too short for a header", ErrCorrupt, len(buf))
	}
	if buf[0] != formatVersion {
		return 0, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, buf[0])
	}
	t := Type(buf[1])
	if !t.Valid() {
		return 0, fmt.Errorf("%w: unknown type %d", ErrCorrupt, buf[1])
	}
	return t, nil
}

// Encode returns the binary encoding of v.
func Encode(v Value) []byte { return v.Append(nil) }

// wrongType is the error for a merge of a with a value of another type.
func wrongType(a Type, b Value) error {
	if b == nil {
		return fmt.Errorf("%w: merging %s with nil", ErrWrongType, a)
	}
	return fmt.Errorf("%w: merging %s with %s", ErrWrongType, a, b.Type())
}
