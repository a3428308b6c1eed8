package crdt

import "slices"

// The causal types (ORSet, MVRegister, Map and the values embedded in a Map) follow
// the optimized OR-Set of Bieniusa et al. ("An optimized conflict-free replicated
// set", 2012), as in Riak's riak_dt_orswot: every live piece of data carries the dot
// of the operation that wrote it, and the state carries one causal context (a version
// vector) covering every dot it has ever seen. A remove simply drops the data and its
// dots; the context remembers that they were seen. Merge keeps a dot that both sides
// have, or that one side has and the other side's context has not seen; a dot that the
// other side has seen but no longer holds was removed (or overwritten) there. So
// removals leave no per-element tombstone: the only causal metadata is one counter per
// actor.
//
// This rests on one invariant: a state's context is downward closed — having seen
// actor:n it has seen actor:1..n. It holds because an actor issues its next dot only
// from its own latest state (see the package documentation), and merging preserves it.

// kernelEntry is an entry of a dot kernel: data tagged with the dot that wrote it, at
// most one entry per actor, kept sorted by actor.
type kernelEntry[E any] interface {
	key() dot
	// pick chooses deterministically between two entries with the same dot. Valid
	// states never disagree (a dot is written once); corrupt ones must still merge
	// commutatively.
	pick(other E) E
}

// mergeKernel merges the entries a (whose state has context ca) and b (context cb)
// into a new slice (nil when empty). A nil side stands for a state that holds no
// entries here.
func mergeKernel[E kernelEntry[E]](a, b []E, ca, cb vclock) []E {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]E, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].key().actor < b[j].key().actor):
			if !cb.seen(a[i].key()) {
				out = append(out, a[i])
			}
			i++
		case i == len(a) || b[j].key().actor < a[i].key().actor:
			if !ca.seen(b[j].key()) {
				out = append(out, b[j])
			}
			j++
		default:
			if e, keep := mergeSameActor(a[i], b[j], ca, cb); keep {
				out = append(out, e)
			}
			i++
			j++
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// mergeSameActor merges two entries written by the same actor.
func mergeSameActor[E kernelEntry[E]](x, y E, cx, cy vclock) (E, bool) {
	dx, dy := x.key(), y.key()
	if dx.n == dy.n {
		return x.pick(y), true
	}
	keepX, keepY := !cy.seen(dx), !cx.seen(dy)
	switch {
	case keepX && keepY: // impossible while contexts cover their own dots
		if dx.n > dy.n {
			return x, true
		}
		return y, true
	case keepX:
		return x, true
	case keepY:
		return y, true
	}
	var zero E
	return zero, false
}

// dot is itself the simplest kernel entry (the dots of one OR-Set element).
func (d dot) key() dot     { return d }
func (d dot) pick(dot) dot { return d }

// mergeDots merges the dot lists of one element, reusing a when nothing changes (dot
// lists are never modified in place, so they may be shared).
func mergeDots(a, b []dot, ca, cb vclock) []dot {
	if slices.Equal(a, b) {
		return a
	}
	return mergeKernel(a, b, ca, cb)
}

// filterDots keeps the dots of a that the context c has not seen, reusing a when all
// survive and allocating only when some (not all) do.
func filterDots(a []dot, c vclock) []dot {
	kept := 0
	for _, d := range a {
		if !c.seen(d) {
			kept++
		}
	}
	switch kept {
	case len(a):
		return a
	case 0:
		return nil
	}
	out := make([]dot, 0, kept)
	for _, d := range a {
		if !c.seen(d) {
			out = append(out, d)
		}
	}
	return out
}
