package sim

import (
	"errors"
	"fmt"
	"slices"

	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
)

// The oracle's view of CRDT states. The crdt package's values show a counter's value
// and a set's elements; the checkers need what is behind them — each actor's share of
// a PN-counter, and the dots that keep each element of an OR-set present — which the
// crdt package's inspection accessors (Entries, Context, Dots) give.

// actorCount is one actor's entry: a counter's total, or a causal context's highest
// dot counter.
type actorCount struct {
	actor string
	n     uint64
}

func fromEntries(es []crdt.Entry) []actorCount {
	out := make([]actorCount, len(es))
	for i, e := range es {
		out[i] = actorCount{e.Actor, e.N}
	}
	return out
}

// countOf returns actor's entry in a list sorted by actor (0 if none).
func countOf(l []actorCount, actor string) uint64 {
	i, ok := slices.BinarySearchFunc(l, actor, func(e actorCount, a string) int {
		switch {
		case e.actor < a:
			return -1
		case e.actor > a:
			return 1
		}
		return 0
	})
	if ok {
		return l[i].n
	}
	return 0
}

// pnState is a PN-counter: each actor's total of increments (p) and of decrements
// (n).
type pnState struct {
	p, n []actorCount
}

func (st pnState) value() int64 {
	var v int64
	for _, e := range st.p {
		v += int64(e.n)
	}
	for _, e := range st.n {
		v -= int64(e.n)
	}
	return v
}

// orState is an OR-set: its causal context, and each present element's dots (at
// most one per actor, sorted by actor).
type orState struct {
	ctx   []actorCount
	elems map[string][]actorCount
}

// elements returns the present elements, sorted.
func (st orState) elements() []string {
	out := make([]string, 0, len(st.elems))
	for e := range st.elems {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// stateBytes returns the encoded CRDT an object of kind k holds, nil for an absent
// key.
func stateBytes(o object.Object, k object.Kind) ([]byte, error) {
	if o.IsZero() {
		return nil, nil
	}
	if o.Kind != k {
		return nil, fmt.Errorf("the key holds a %s, not a %s", o.Kind, k)
	}
	w, ok := o.Winner()
	if !ok {
		return nil, errors.New("a CRDT object without a sibling")
	}
	return w.Value, nil
}

// decodePN reads a counter object.
func decodePN(o object.Object) (pnState, error) {
	b, err := stateBytes(o, object.KindCounter)
	if err != nil || b == nil {
		return pnState{}, err
	}
	c, err := crdt.DecodePNCounter(b)
	if err != nil {
		return pnState{}, err
	}
	up, down := c.Entries()
	return pnState{p: fromEntries(up), n: fromEntries(down)}, nil
}

// decodeORSet reads a set object.
func decodeORSet(o object.Object) (orState, error) {
	st := orState{elems: map[string][]actorCount{}}
	b, err := stateBytes(o, object.KindSet)
	if err != nil || b == nil {
		return st, err
	}
	s, err := crdt.DecodeORSet(b)
	if err != nil {
		return orState{}, err
	}
	st.ctx = fromEntries(s.Context())
	for _, e := range s.Elements() {
		st.elems[e] = fromEntries(s.Dots(e))
	}
	return st, nil
}
