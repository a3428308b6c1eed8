package crdt

import "slices"

// GSet is a grow-only set of strings: elements can be added, never removed. Merge is
// set union. Use it for facts that stay true (ids seen, tags ever applied); use ORSet
// when elements must also be removable.
//
// The zero GSet is an empty set ready to use.
type GSet struct {
	elems []string // sorted, no duplicates
}

// NewGSet returns an empty set.
func NewGSet() *GSet { return &GSet{} }

// Type returns TypeGSet.
func (s *GSet) Type() Type { return TypeGSet }

// Add inserts elem and reports whether it was new.
func (s *GSet) Add(elem string) bool { return strsetInsert(&s.elems, elem) }

// Contains reports whether elem is in the set.
func (s *GSet) Contains(elem string) bool { return strsetHas(s.elems, elem) }

// Elements returns the elements in ascending order (a new slice).
func (s *GSet) Elements() []string { return slices.Clone(s.elems) }

// Len returns the number of elements.
func (s *GSet) Len() int { return len(s.elems) }

// Join returns the union of s and o as a new set. A nil o is the empty set.
func (s *GSet) Join(o *GSet) *GSet {
	if o == nil {
		return s.Clone()
	}
	return &GSet{elems: strsetUnion(s.elems, o.elems, nil)}
}

// Merge implements Value.
func (s *GSet) Merge(other Value) (Value, error) {
	o, ok := other.(*GSet)
	if !ok {
		return nil, wrongType(TypeGSet, other)
	}
	return s.Join(o), nil
}

// Clone returns a deep copy of s.
func (s *GSet) Clone() *GSet { return &GSet{elems: cloneStrings(s.elems)} }

// Equal implements Value.
func (s *GSet) Equal(other Value) bool {
	o, ok := other.(*GSet)
	return ok && o != nil && slices.Equal(s.elems, o.elems)
}

// Append implements Value: header, then the elements in ascending order.
func (s *GSet) Append(dst []byte) []byte {
	return appendSortedStrings(appendHeader(dst, TypeGSet), s.elems)
}

// DecodeGSet parses what GSet.Append writes.
func DecodeGSet(buf []byte) (*GSet, error) {
	d := start(buf, TypeGSet)
	s := &GSet{elems: d.sortedStrings()}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return s, nil
}

// MarshalJSON renders the elements as a JSON array of strings in ascending order.
func (s *GSet) MarshalJSON() ([]byte, error) { return appendJSONStrings(nil, s.elems), nil }
