package version

import "fmt"

// Timestamp is a hybrid logical clock reading: physical unix milliseconds in the high
// 48 bits and a logical counter in the low 16 bits, so plain integer comparison orders
// timestamps. The zero Timestamp is older than every real one.
type Timestamp uint64

const logicalBits = 16
const logicalMask = 1<<logicalBits - 1

// maxPhysical is the largest physical time a Timestamp can hold (about the year 10889).
const maxPhysical = 1<<(64-logicalBits) - 1

// maxTimestamp is the largest Timestamp, the ceiling of every HLC.
const maxTimestamp = Timestamp(1<<64 - 1)

// MakeTimestamp builds a Timestamp from physical milliseconds and a logical counter.
func MakeTimestamp(physicalMs int64, logical uint16) Timestamp {
	return Timestamp(uint64(physicalMs)<<logicalBits | uint64(logical))
}

// Physical returns the timestamp's physical part in unix milliseconds.
func (t Timestamp) Physical() int64 { return int64(uint64(t) >> logicalBits) }

// Logical returns the timestamp's logical counter.
func (t Timestamp) Logical() uint16 { return uint16(uint64(t) & logicalMask) }

// String renders the timestamp as physical.logical.
func (t Timestamp) String() string { return fmt.Sprintf("%d.%d", t.Physical(), t.Logical()) }

// HLC is a hybrid logical clock. It is not safe for concurrent use: each core shard
// owns one. The zero HLC is ready to use.
type HLC struct {
	last Timestamp
}

// Now returns a timestamp greater than every one this clock has issued or observed,
// and at least the given physical time. Physical times beyond the 48 bits a Timestamp
// holds count as the largest one. A clock that has reached the largest Timestamp (only a
// bogus remote timestamp can take it there) stays there rather than wrap to zero.
func (c *HLC) Now(physicalMs int64) Timestamp {
	physicalMs = min(physicalMs, maxPhysical)
	if physicalMs > c.last.Physical() {
		c.last = MakeTimestamp(physicalMs, 0)
	} else {
		c.last = c.next(c.last)
	}
	return c.last
}

// Observe advances the clock past a timestamp received from a peer, so that every
// timestamp issued afterwards is greater than it. It returns the peer's offset from
// the local physical time in milliseconds (positive: the peer is ahead).
func (c *HLC) Observe(remote Timestamp, physicalMs int64) (offsetMs int64) {
	if remote > c.last {
		c.last = remote
	}
	if p := min(physicalMs, maxPhysical); p > c.last.Physical() {
		c.last = MakeTimestamp(p, 0)
	}
	return remote.Physical() - physicalMs
}

// Last returns the greatest timestamp issued or observed.
func (c *HLC) Last() Timestamp { return c.last }

// Restore moves the clock forward to at least t; a restarted node calls it with its
// persisted high-water mark so that it never issues a timestamp it issued before.
func (c *HLC) Restore(t Timestamp) {
	if t > c.last {
		c.last = t
	}
}

func (c *HLC) next(t Timestamp) Timestamp {
	if t == maxTimestamp {
		return t
	}
	if t.Logical() == logicalMask {
		return MakeTimestamp(t.Physical()+1, 0)
	}
	return t + 1
}
