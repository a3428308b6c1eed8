package crdt

import (
	"encoding/binary"
	"slices"
	"strings"
)

// dot names one event: the actor that issued it and that actor's counter at the time.
// Within one CRDT value a dot is issued once and never reused.
type dot struct {
	actor string
	n     uint64
}

// vclock maps actors to counters: sorted by actor, one entry per actor, no zero
// counters. It is the causal context of the causal types (for each actor, every dot up
// to the counter has been seen) and the state of a GCounter (for each actor, its
// count). Functions that return a vclock never share its backing array with an
// argument, so next may modify it in place.
type vclock []dot

func cmpActor(d dot, actor string) int { return strings.Compare(d.actor, actor) }

// index returns the position of actor in v, or where it would be inserted.
func (v vclock) index(actor string) int {
	i, _ := slices.BinarySearchFunc(v, actor, cmpActor)
	return i
}

// get returns actor's counter (0 if absent).
func (v vclock) get(actor string) uint64 {
	if i, ok := slices.BinarySearchFunc(v, actor, cmpActor); ok {
		return v[i].n
	}
	return 0
}

// seen reports whether the context covers d.
func (v vclock) seen(d dot) bool { return d.n <= v.get(d.actor) }

// next issues actor's next dot and records it in v. Counters stop at maxCounter, so
// that a state stays decodable even when a forged context starts near the limit (no
// real actor issues 2^62 operations).
func (v *vclock) next(actor string) dot {
	i, ok := slices.BinarySearchFunc(*v, actor, cmpActor)
	if ok {
		(*v)[i].n = min((*v)[i].n+1, maxCounter)
		return (*v)[i]
	}
	d := dot{actor: actor, n: 1}
	*v = slices.Insert(*v, i, d)
	return d
}

// joinClocks returns the entry-wise maximum of a and b in a new slice.
func joinClocks(a, b vclock) vclock {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make(vclock, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].actor < b[j].actor):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].actor < a[i].actor:
			out = append(out, b[j])
			j++
		default:
			out = append(out, dot{actor: a[i].actor, n: max(a[i].n, b[j].n)})
			i++
			j++
		}
	}
	return out
}

func (v vclock) clone() vclock {
	if len(v) == 0 {
		return nil
	}
	return slices.Clone(v)
}

func (v vclock) equal(o vclock) bool { return slices.Equal(v, o) }

// appendClock writes v as a count and (actor, counter) pairs.
func appendClock(dst []byte, v vclock) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	for _, d := range v {
		dst = appendString(dst, d.actor)
		dst = binary.AppendUvarint(dst, d.n)
	}
	return dst
}

// clock reads what appendClock writes; counters must be in [1, limit].
func (d *decoder) clock(limit uint64) vclock {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	v := make(vclock, 0, n)
	for i := 0; i < n && d.ok(); i++ {
		actor := d.string()
		c := d.uvarint()
		switch {
		case !d.ok():
		case i > 0 && v[i-1].actor >= actor:
			d.fail("actors out of order")
		case c == 0 || c > limit:
			d.fail("counter %d of %q out of range", c, actor)
		}
		v = append(v, dot{actor: actor, n: c})
	}
	if !d.ok() {
		return nil
	}
	return v
}
