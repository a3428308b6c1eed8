package crdt

// ORSet is an add-wins observed-remove set of strings with a compact causal context
// (the optimized OR-Set, riak_dt_orswot). Each present element carries the dots of the
// adds that put it there; the set carries one version vector covering every dot it has
// seen. Remove drops an element and its dots — only the adds this state has observed —
// and leaves no tombstone: the version vector alone tells a later merge that those
// dots were seen and removed. Hence:
//
//   - add wins: an add concurrent with a remove of the same element survives the merge
//     (its dot is new to the remover);
//   - observed remove: a remove is never undone by merging an older state that still
//     holds the element (the remover's context has seen the old dots);
//   - metadata is bounded by the number of actors, not by the history of removes.
//
// The zero ORSet is an empty set ready to use.
type ORSet struct {
	ctx   vclock
	elems setStore
}

// NewORSet returns an empty set.
func NewORSet() *ORSet { return &ORSet{} }

// Type returns TypeORSet.
func (s *ORSet) Type() Type { return TypeORSet }

// Add inserts elem on behalf of actor, issuing actor's next dot. The actor must be the
// replica applying the operation to its own latest state (see the package
// documentation). Adding a present element refreshes it: a remove concurrent with this
// add will not remove it.
func (s *ORSet) Add(actor, elem string) {
	s.elems.add(elem, s.ctx.next(actor))
}

// Remove removes elem, as observed by this state, and reports whether it was present.
// Adds of elem that this state has not seen (concurrent ones) are not affected.
func (s *ORSet) Remove(elem string) bool { return s.elems.remove(elem) }

// Contains reports whether elem is present.
func (s *ORSet) Contains(elem string) bool { return s.elems.contains(elem) }

// Elements returns the present elements in ascending order (a new slice).
func (s *ORSet) Elements() []string { return s.elems.elements() }

// Len returns the number of present elements.
func (s *ORSet) Len() int { return len(s.elems) }

// Join returns the merge of s and o as a new set. A nil o is the empty set.
func (s *ORSet) Join(o *ORSet) *ORSet {
	if o == nil {
		return s.Clone()
	}
	return &ORSet{
		ctx:   joinClocks(s.ctx, o.ctx),
		elems: mergeSetStores(s.elems, o.elems, s.ctx, o.ctx),
	}
}

// Merge implements Value.
func (s *ORSet) Merge(other Value) (Value, error) {
	o, ok := other.(*ORSet)
	if !ok {
		return nil, wrongType(TypeORSet, other)
	}
	return s.Join(o), nil
}

// Clone returns a deep copy of s.
func (s *ORSet) Clone() *ORSet { return &ORSet{ctx: s.ctx.clone(), elems: s.elems.clone()} }

// Equal implements Value.
func (s *ORSet) Equal(other Value) bool {
	o, ok := other.(*ORSet)
	return ok && o != nil && s.ctx.equal(o.ctx) && s.elems.equal(o.elems)
}

// Append implements Value: header, causal context, then each element with its dots.
func (s *ORSet) Append(dst []byte) []byte {
	dst = appendClock(appendHeader(dst, TypeORSet), s.ctx)
	return appendSetStore(dst, s.elems, s.ctx)
}

// DecodeORSet parses what ORSet.Append writes.
func DecodeORSet(buf []byte) (*ORSet, error) {
	d := start(buf, TypeORSet)
	s := &ORSet{ctx: d.clock(maxCounter)}
	s.elems = d.setStore(s.ctx)
	if err := d.finish(); err != nil {
		return nil, err
	}
	return s, nil
}

// MarshalJSON renders the present elements as a JSON array in ascending order.
func (s *ORSet) MarshalJSON() ([]byte, error) {
	return appendJSONStrings(nil, s.elems.elements()), nil
}
