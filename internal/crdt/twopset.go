package crdt

import "slices"

// TwoPSet is a two-phase set: a grow-only set of added elements and a grow-only set
// of removed elements (tombstones); an element is present when added and not removed.
// Remove wins over every add, concurrent or later: once removed, an element can never
// be re-added (Add returns ErrRemoved), and its tombstone is kept forever, so the state
// grows with every element ever removed. Use it for identifiers that are retired for
// good (revoked tokens, deleted account ids); use ORSet for ordinary sets.
//
// The zero TwoPSet is an empty set ready to use.
type TwoPSet struct {
	added   []string // present elements: added and not removed; sorted
	removed []string // tombstones; sorted, disjoint from added
}

// NewTwoPSet returns an empty set.
func NewTwoPSet() *TwoPSet { return &TwoPSet{} }

// Type returns TypeTwoPSet.
func (s *TwoPSet) Type() Type { return TypeTwoPSet }

// Add inserts elem and reports whether it was new. It fails with ErrRemoved when elem
// has been removed.
func (s *TwoPSet) Add(elem string) (bool, error) {
	if strsetHas(s.removed, elem) {
		return false, ErrRemoved
	}
	return strsetInsert(&s.added, elem), nil
}

// Remove removes elem for good and reports whether it was present. Removing an
// element not present (never added here, or already removed) does nothing, so a
// remove cannot block a future add of something this replica has not seen.
func (s *TwoPSet) Remove(elem string) bool {
	if !strsetDelete(&s.added, elem) {
		return false
	}
	strsetInsert(&s.removed, elem)
	return true
}

// Contains reports whether elem is present.
func (s *TwoPSet) Contains(elem string) bool { return strsetHas(s.added, elem) }

// Removed reports whether elem has been removed (and so can never be added again).
func (s *TwoPSet) Removed(elem string) bool { return strsetHas(s.removed, elem) }

// Elements returns the present elements in ascending order (a new slice).
func (s *TwoPSet) Elements() []string { return slices.Clone(s.added) }

// Len returns the number of present elements.
func (s *TwoPSet) Len() int { return len(s.added) }

// Join returns the merge of s and o as a new set: the union of the adds and of the
// removes, a remove hiding every add of the same element. A nil o is the empty set.
func (s *TwoPSet) Join(o *TwoPSet) *TwoPSet {
	if o == nil {
		return s.Clone()
	}
	removed := strsetUnion(s.removed, o.removed, nil)
	return &TwoPSet{added: strsetUnion(s.added, o.added, removed), removed: removed}
}

// Merge implements Value.
func (s *TwoPSet) Merge(other Value) (Value, error) {
	o, ok := other.(*TwoPSet)
	if !ok {
		return nil, wrongType(TypeTwoPSet, other)
	}
	return s.Join(o), nil
}

// Clone returns a deep copy of s.
func (s *TwoPSet) Clone() *TwoPSet {
	return &TwoPSet{added: cloneStrings(s.added), removed: cloneStrings(s.removed)}
}

// Equal implements Value.
func (s *TwoPSet) Equal(other Value) bool {
	o, ok := other.(*TwoPSet)
	return ok && o != nil && slices.Equal(s.added, o.added) && slices.Equal(s.removed, o.removed)
}

// Append implements Value: header, the present elements, then the tombstones.
func (s *TwoPSet) Append(dst []byte) []byte {
	dst = appendSortedStrings(appendHeader(dst, TypeTwoPSet), s.added)
	return appendSortedStrings(dst, s.removed)
}

// DecodeTwoPSet parses what TwoPSet.Append writes.
func DecodeTwoPSet(buf []byte) (*TwoPSet, error) {
	d := start(buf, TypeTwoPSet)
	s := &TwoPSet{added: d.sortedStrings(), removed: d.sortedStrings()}
	if d.ok() && !strsetDisjoint(s.added, s.removed) {
		d.fail("an element is both present and removed")
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return s, nil
}

// MarshalJSON renders the present elements as a JSON array in ascending order.
func (s *TwoPSet) MarshalJSON() ([]byte, error) { return appendJSONStrings(nil, s.added), nil }
