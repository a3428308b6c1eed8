package crdt

import (
	"math"
	"strconv"
)

// PNCounter is a counter that can go up and down: two grow-only counters, one of
// increments (P) and one of decrements (N); the value is P − N. Like GCounter, merge
// takes each actor's maximum in each half, so no delivery pattern double-counts.
//
// The zero PNCounter is a counter at 0, ready to use.
type PNCounter struct {
	p, n GCounter
}

// NewPNCounter returns a counter at 0.
func NewPNCounter() *PNCounter { return &PNCounter{} }

// Type returns TypePNCounter.
func (c *PNCounter) Type() Type { return TypePNCounter }

// Increment adds delta (which may be negative) to the counter on behalf of actor, the
// replica applying the operation to its own latest state. A negative delta is recorded
// in N. It fails with ErrOverflow, leaving the counter unchanged, when the value seen
// here would leave the int64 range or actor's own total would exceed the uint64 range
// (the Redis INCRBY rule). Concurrent increments at other replicas can still carry the
// merged value past the range; Value then saturates.
func (c *PNCounter) Increment(actor string, delta int64) error {
	if delta == 0 {
		return nil
	}
	var s sum128
	c.sumInto(&s)
	s.addInt(delta)
	if _, fits := s.int64(); !fits {
		return ErrOverflow
	}
	if delta > 0 {
		return c.p.Increment(actor, uint64(delta))
	}
	return c.n.Increment(actor, absInt(delta))
}

// Value returns P − N, clamped to [math.MinInt64, math.MaxInt64].
func (c *PNCounter) Value() int64 {
	var s sum128
	c.sumInto(&s)
	v, _ := s.int64()
	return v
}

func (c *PNCounter) sumInto(s *sum128) {
	for _, d := range c.p.counts {
		s.addUint(d.n)
	}
	for _, d := range c.n.counts {
		s.subUint(d.n)
	}
}

// Join returns the merge of c and o as a new counter. A nil o is the zero counter.
func (c *PNCounter) Join(o *PNCounter) *PNCounter {
	if o == nil {
		return c.Clone()
	}
	return &PNCounter{
		p: GCounter{counts: joinClocks(c.p.counts, o.p.counts)},
		n: GCounter{counts: joinClocks(c.n.counts, o.n.counts)},
	}
}

// Merge implements Value.
func (c *PNCounter) Merge(other Value) (Value, error) {
	o, ok := other.(*PNCounter)
	if !ok {
		return nil, wrongType(TypePNCounter, other)
	}
	return c.Join(o), nil
}

// Clone returns a deep copy of c.
func (c *PNCounter) Clone() *PNCounter {
	return &PNCounter{p: GCounter{counts: c.p.counts.clone()}, n: GCounter{counts: c.n.counts.clone()}}
}

// Equal implements Value.
func (c *PNCounter) Equal(other Value) bool {
	o, ok := other.(*PNCounter)
	return ok && o != nil && c.p.counts.equal(o.p.counts) && c.n.counts.equal(o.n.counts)
}

// Append implements Value: header, then the P and N halves as GCounter bodies.
func (c *PNCounter) Append(dst []byte) []byte {
	dst = appendHeader(dst, TypePNCounter)
	dst = appendClock(dst, c.p.counts)
	return appendClock(dst, c.n.counts)
}

// DecodePNCounter parses what PNCounter.Append writes.
func DecodePNCounter(buf []byte) (*PNCounter, error) {
	d := start(buf, TypePNCounter)
	c := &PNCounter{}
	c.p.counts = d.clock(math.MaxUint64)
	c.n.counts = d.clock(math.MaxUint64)
	if err := d.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// MarshalJSON renders the counter's value as a JSON number.
func (c *PNCounter) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, c.Value(), 10), nil
}
