package crdt

import (
	"encoding/binary"
	"fmt"
)

// formatVersion is the first byte of every encoding. A decoder refuses versions it
// does not know rather than guess.
const formatVersion = 1

// Every encoding is: format version byte, type byte, then the type's body, built from
// uvarints, zig-zag varints and length-prefixed strings. Collections are written in
// sorted order with no duplicates and no empty entries, so a state has exactly one
// encoding: decoders reject anything else, which makes Append(Decode(b)) == b and lets
// replicas compare states by their bytes.
//
// Causal types (ORSet, MVRegister, Map) write their causal context first (actors in
// order, each with its highest counter) and then name each dot by the index of its
// actor in that context, which keeps actor ids out of the per-element data and
// guarantees by construction that every dot is covered by the context.

// Limits that keep a hostile encoding from costing more than its length.
const (
	// MaxDepth is how deeply maps may nest (a top-level map is depth 1).
	MaxDepth = 16

	// maxCounter bounds the counters of dots and causal contexts so that issuing the
	// next dot can never wrap around.
	maxCounter = 1 << 62
)

func appendHeader(dst []byte, t Type) []byte { return append(dst, formatVersion, byte(t)) }

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decoder reads a body. The first error sticks: later reads return zero values, and
// callers check d.err at the end (or in loops, so that a corrupt count stops early).
type decoder struct {
	buf []byte
	err error
}

// start checks the header of buf for type t and returns a decoder for the body.
func start(buf []byte, t Type) *decoder {
	got, err := PeekType(buf)
	if err != nil {
		return &decoder{err: err}
	}
	if got != t {
		return &decoder{err: fmt.Errorf("%w: encoding holds %s, not %s", ErrWrongType, got, t)}
	}
	return &decoder{buf: buf[2:]}
}

// finish returns the decoding error, if any, or an error for trailing bytes.
func (d *decoder) finish() error {
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
	return d.err
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	d.buf = nil
}

func (d *decoder) ok() bool { return d.err == nil }

func (d *decoder) byte() byte {
	if len(d.buf) == 0 {
		d.fail("truncated")
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

// uvarint reads a minimally encoded uvarint (binary.Uvarint also accepts padded
// forms such as 0x80 0x00 for 0, which would give one value two encodings).
func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 || (n > 1 && d.buf[n-1] == 0) {
		d.fail("bad uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// varint reads a minimally encoded zig-zag varint.
func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// raw returns the next length-prefixed byte string, aliasing the input.
func (d *decoder) raw() []byte {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.buf))
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

// string returns the next length-prefixed string (a copy).
func (d *decoder) string() string { return string(d.raw()) }

// bytes returns the next length-prefixed byte string (a copy; nil when empty).
func (d *decoder) bytes() []byte {
	b := d.raw()
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// count reads a collection length and checks it against the bytes left, given that
// each item takes at least minItem bytes, so that a caller may allocate count items.
func (d *decoder) count(minItem int) int {
	n := d.uvarint()
	if n > uint64(len(d.buf)/minItem) {
		d.fail("count %d exceeds what %d bytes can hold", n, len(d.buf))
		return 0
	}
	return int(n)
}

// counter reads a dot or context counter: at least 1, at most maxCounter.
func (d *decoder) counter() uint64 {
	n := d.uvarint()
	if d.ok() && (n == 0 || n > maxCounter) {
		d.fail("counter %d out of range", n)
	}
	return n
}

// sortedStrings reads a strictly increasing list of strings.
func (d *decoder) sortedStrings() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.ok(); i++ {
		s := d.string()
		if i > 0 && out[i-1] >= s {
			d.fail("strings out of order")
		}
		out = append(out, s)
	}
	if !d.ok() {
		return nil
	}
	return out
}

func appendSortedStrings(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = appendString(dst, s)
	}
	return dst
}

// dotRef reads a dot as (index of its actor in ctx, counter) and checks that ctx
// covers it.
func (d *decoder) dotRef(ctx vclock) dot {
	i := d.uvarint()
	c := d.counter()
	if !d.ok() {
		return dot{}
	}
	if i >= uint64(len(ctx)) {
		d.fail("dot actor index %d out of range", i)
		return dot{}
	}
	if c > ctx[i].n {
		d.fail("dot %s:%d not covered by the causal context", ctx[i].actor, c)
		return dot{}
	}
	return dot{actor: ctx[i].actor, n: c}
}

// appendDotRef writes d as (index of its actor in ctx, counter). The context always
// covers the dots of its own state.
func appendDotRef(dst []byte, ctx vclock, d dot) []byte {
	dst = binary.AppendUvarint(dst, uint64(ctx.index(d.actor)))
	return binary.AppendUvarint(dst, d.n)
}
