package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
)

// The oracle's view of CRDT states. The crdt package shows a counter's value and a
// set's elements, but the checkers need what is behind them: each actor's share of a
// PN-counter, and the dots that keep each element of an OR-set present. They read
// them from the canonical encoding (internal/crdt/encoding.go: format version, type,
// then uvarints and length-prefixed strings; an OR-set names each dot by its actor's
// index in the set's causal context), and cross-check what they read against the
// crdt package's own decoding, so that a change of format fails loudly ("oracle")
// instead of misleading the checks.

// actorCount is one actor's entry: a counter's total, or a causal context's highest
// dot counter.
type actorCount struct {
	actor string
	n     uint64
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
	r := stateReader{buf: b}
	r.header(crdt.TypePNCounter)
	st := pnState{p: r.clock(), n: r.clock()}
	if err := r.finish(); err != nil {
		return pnState{}, err
	}
	c, err := crdt.DecodePNCounter(b)
	if err != nil {
		return pnState{}, err
	}
	if c.Value() != st.value() {
		return pnState{}, fmt.Errorf("counter reads %d, the oracle's decoding %d", c.Value(), st.value())
	}
	return st, nil
}

// decodeORSet reads a set object.
func decodeORSet(o object.Object) (orState, error) {
	st := orState{elems: map[string][]actorCount{}}
	b, err := stateBytes(o, object.KindSet)
	if err != nil || b == nil {
		return st, err
	}
	r := stateReader{buf: b}
	r.header(crdt.TypeORSet)
	st.ctx = r.clock()
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		elem := r.string()
		k := r.uvarint()
		var dots []actorCount
		for j := uint64(0); j < k && r.err == nil; j++ {
			a, c := r.uvarint(), r.uvarint()
			if a >= uint64(len(st.ctx)) {
				r.fail("dot actor index out of range")
				break
			}
			dots = append(dots, actorCount{st.ctx[a].actor, c})
		}
		st.elems[elem] = dots
	}
	if err := r.finish(); err != nil {
		return orState{}, err
	}
	s, err := crdt.DecodeORSet(b)
	if err != nil {
		return orState{}, err
	}
	if got, want := st.elements(), s.Elements(); !slices.Equal(got, want) {
		return orState{}, fmt.Errorf("set holds %v, the oracle's decoding %v", want, got)
	}
	return st, nil
}

// stateReader reads the encoding; the first error sticks.
type stateReader struct {
	buf []byte
	err error
}

func (r *stateReader) fail(msg string) {
	if r.err == nil {
		r.err = errors.New(msg)
	}
	r.buf = nil
}

func (r *stateReader) header(t crdt.Type) {
	if len(r.buf) < 2 || r.buf[0] != 1 || crdt.Type(r.buf[1]) != t {
		r.fail("unexpected CRDT header")
		return
	}
	r.buf = r.buf[2:]
}

func (r *stateReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *stateReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.buf)) {
		r.fail("string past the end")
		return ""
	}
	s := string(r.buf[:n])
	r.buf = r.buf[n:]
	return s
}

// clock reads a list of (actor, counter), sorted by actor.
func (r *stateReader) clock() []actorCount {
	n := r.uvarint()
	var out []actorCount
	for i := uint64(0); i < n && r.err == nil; i++ {
		a := r.string()
		out = append(out, actorCount{a, r.uvarint()})
	}
	return out
}

func (r *stateReader) finish() error {
	if r.err == nil && len(r.buf) > 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return fmt.Errorf("oracle decoding: %w", r.err)
	}
	return nil
}
