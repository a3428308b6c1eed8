package crdt

import (
	"encoding/binary"
	"slices"
	"strings"
)

// setElem is an element of an add-wins set with the dots of the adds that keep it
// there: one per actor whose add has not been observed by a remove or a later add.
type setElem struct {
	elem string
	dots []dot // sorted by actor, non-empty; never modified in place
}

// setStore is the body of an OR-Set, sorted by element. It is the payload of ORSet
// and of a set embedded in a Map, whose context lives in the enclosing value.
type setStore []setElem

func cmpElem(e setElem, elem string) int { return strings.Compare(e.elem, elem) }

// add records an add of elem with the fresh dot d. The new dot replaces the element's
// older dots: the adding state has seen them, so they say nothing more.
func (s *setStore) add(elem string, d dot) {
	i, found := slices.BinarySearchFunc(*s, elem, cmpElem)
	if found {
		(*s)[i].dots = []dot{d}
		return
	}
	*s = slices.Insert(*s, i, setElem{elem: elem, dots: []dot{d}})
}

// remove drops elem and its dots (the context keeps them as seen) and reports whether
// it was present.
func (s *setStore) remove(elem string) bool {
	i, found := slices.BinarySearchFunc(*s, elem, cmpElem)
	if found {
		*s = slices.Delete(*s, i, i+1)
	}
	return found
}

func (s setStore) contains(elem string) bool {
	_, found := slices.BinarySearchFunc(s, elem, cmpElem)
	return found
}

func (s setStore) elements() []string {
	out := make([]string, len(s))
	for i, e := range s {
		out[i] = e.elem
	}
	return out
}

func (s setStore) clone() setStore {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s) // dot lists are shared: they are never modified in place
}

func (s setStore) equal(o setStore) bool {
	return slices.EqualFunc(s, o, func(a, b setElem) bool {
		return a.elem == b.elem && slices.Equal(a.dots, b.dots)
	})
}

// mergeSetStores merges the bodies a (of a state with context ca) and b (context cb)
// element by element; an element survives while any of its add dots does.
func mergeSetStores(a, b setStore, ca, cb vclock) setStore {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make(setStore, 0, max(len(a), len(b)))
	keep := func(elem string, dots []dot) {
		if len(dots) > 0 {
			out = append(out, setElem{elem: elem, dots: dots})
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].elem < b[j].elem):
			keep(a[i].elem, filterDots(a[i].dots, cb))
			i++
		case i == len(a) || b[j].elem < a[i].elem:
			keep(b[j].elem, filterDots(b[j].dots, ca))
			j++
		default:
			keep(a[i].elem, mergeDots(a[i].dots, b[j].dots, ca, cb))
			i++
			j++
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func appendSetStore(dst []byte, s setStore, ctx vclock) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	for _, e := range s {
		dst = appendString(dst, e.elem)
		dst = appendDots(dst, e.dots, ctx)
	}
	return dst
}

func appendDots(dst []byte, ds []dot, ctx vclock) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ds)))
	for _, d := range ds {
		dst = appendDotRef(dst, ctx, d)
	}
	return dst
}

// setStore reads what appendSetStore writes: elements strictly increasing, each with
// at least one dot.
func (d *decoder) setStore(ctx vclock) setStore {
	n := d.count(4) // element length, dot count, dot: at least 4 bytes
	if n == 0 {
		return nil
	}
	s := make(setStore, 0, n)
	for i := 0; i < n && d.ok(); i++ {
		elem := d.string()
		dots := d.dots(ctx)
		if i > 0 && s[i-1].elem >= elem {
			d.fail("set elements out of order")
		}
		s = append(s, setElem{elem: elem, dots: dots})
	}
	if !d.ok() {
		return nil
	}
	return s
}

// dots reads a non-empty list of dots with strictly increasing actors.
func (d *decoder) dots(ctx vclock) []dot {
	n := d.count(2)
	if n == 0 {
		d.fail("empty dot list")
		return nil
	}
	out := make([]dot, 0, n)
	for i := 0; i < n && d.ok(); i++ {
		dt := d.dotRef(ctx)
		if i > 0 && out[i-1].actor >= dt.actor {
			d.fail("dots out of order")
		}
		out = append(out, dt)
	}
	return out
}
