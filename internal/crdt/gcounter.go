package crdt

import (
	"math"
	"slices"
	"strconv"
)

// GCounter is a grow-only counter: each actor counts its own increments and the value
// is the sum. Merge takes each actor's maximum, so a state delivered twice, or an old
// state delivered late, never counts an increment twice.
//
// The zero GCounter is an empty counter ready to use.
type GCounter struct {
	counts vclock // actor → that actor's total
}

// NewGCounter returns an empty counter.
func NewGCounter() *GCounter { return &GCounter{} }

// Type returns TypeGCounter.
func (c *GCounter) Type() Type { return TypeGCounter }

// Increment adds n to actor's count. The actor must be the replica applying the
// operation to its own latest state (see the package documentation). It fails with
// ErrOverflow, leaving the counter unchanged, when actor's count would exceed the
// uint64 range.
func (c *GCounter) Increment(actor string, n uint64) error {
	if n == 0 {
		return nil
	}
	i, ok := slices.BinarySearchFunc(c.counts, actor, cmpActor)
	if !ok {
		c.counts = slices.Insert(c.counts, i, dot{actor: actor, n: n})
		return nil
	}
	if c.counts[i].n > math.MaxUint64-n {
		return ErrOverflow
	}
	c.counts[i].n += n
	return nil
}

// Value returns the sum of all actors' counts, saturating at math.MaxUint64.
func (c *GCounter) Value() uint64 {
	var s sum128
	for _, d := range c.counts {
		s.addUint(d.n)
	}
	return s.uint64()
}

// Count returns actor's own count.
func (c *GCounter) Count(actor string) uint64 { return c.counts.get(actor) }

// Join returns the merge of c and o (each actor's maximum) as a new counter. A nil o
// is the empty counter.
func (c *GCounter) Join(o *GCounter) *GCounter {
	if o == nil {
		return c.Clone()
	}
	return &GCounter{counts: joinClocks(c.counts, o.counts)}
}

// Merge implements Value.
func (c *GCounter) Merge(other Value) (Value, error) {
	o, ok := other.(*GCounter)
	if !ok {
		return nil, wrongType(TypeGCounter, other)
	}
	return c.Join(o), nil
}

// Clone returns a deep copy of c.
func (c *GCounter) Clone() *GCounter { return &GCounter{counts: c.counts.clone()} }

// Equal implements Value.
func (c *GCounter) Equal(other Value) bool {
	o, ok := other.(*GCounter)
	return ok && o != nil && c.counts.equal(o.counts)
}

// Append implements Value: header, then (actor, count) pairs in actor order.
func (c *GCounter) Append(dst []byte) []byte {
	return appendClock(appendHeader(dst, TypeGCounter), c.counts)
}

// DecodeGCounter parses what GCounter.Append writes.
func DecodeGCounter(buf []byte) (*GCounter, error) {
	d := start(buf, TypeGCounter)
	c := &GCounter{counts: d.clock(math.MaxUint64)}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// MarshalJSON renders the counter's value as a JSON number.
func (c *GCounter) MarshalJSON() ([]byte, error) {
	return strconv.AppendUint(nil, c.Value(), 10), nil
}
