package crdt

import "slices"

// Entry is one actor's number in a CRDT's state: a counter's running total, or the
// counter of a dot.
type Entry struct {
	Actor string
	N     uint64
}

func entries(v []dot) []Entry {
	out := make([]Entry, len(v))
	for i, d := range v {
		out[i] = Entry{Actor: d.actor, N: d.n}
	}
	return out
}

// The accessors below show the state behind a value, for checkers (the simulator's
// oracle) and debugging; the value methods (Value, Elements…) are what clients see.

// Entries returns each actor's total, sorted by actor.
func (c *GCounter) Entries() []Entry { return entries(c.counts) }

// Entries returns each actor's total of increments (up) and of decrements (down),
// sorted by actor.
func (c *PNCounter) Entries() (up, down []Entry) { return c.p.Entries(), c.n.Entries() }

// Context returns the set's causal context: for each actor, the highest counter of
// the dots it has seen, sorted by actor.
func (s *ORSet) Context() []Entry { return entries(s.ctx) }

// Dots returns the dots that keep elem in the set (one per actor at most, sorted by
// actor), or nil if elem is absent.
func (s *ORSet) Dots(elem string) []Entry {
	i, found := slices.BinarySearchFunc(s.elems, elem, cmpElem)
	if !found {
		return nil
	}
	return entries(s.elems[i].dots)
}
