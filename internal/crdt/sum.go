package crdt

import (
	"math"
	"math/bits"
)

// sum128 is a 128-bit two's-complement accumulator, so that counter values are exact
// however many actors contribute and are clamped only once, at the end.
type sum128 struct {
	hi int64
	lo uint64
}

func (s *sum128) addUint(v uint64) {
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, v, 0)
	s.hi += int64(carry)
}

func (s *sum128) subUint(v uint64) {
	var borrow uint64
	s.lo, borrow = bits.Sub64(s.lo, v, 0)
	s.hi -= int64(borrow)
}

func (s *sum128) addInt(v int64) {
	if v >= 0 {
		s.addUint(uint64(v))
	} else {
		s.subUint(absInt(v))
	}
}

// int64 returns the sum clamped to the int64 range, and whether it fitted.
func (s sum128) int64() (int64, bool) {
	switch {
	case s.hi == 0 && s.lo <= math.MaxInt64:
		return int64(s.lo), true
	case s.hi == -1 && s.lo > math.MaxInt64:
		return int64(s.lo), true
	case s.hi < 0:
		return math.MinInt64, false
	default:
		return math.MaxInt64, false
	}
}

// uint64 returns the sum (assumed non-negative) clamped to the uint64 range.
func (s sum128) uint64() uint64 {
	if s.hi != 0 {
		return math.MaxUint64
	}
	return s.lo
}

// absInt returns |v| as a uint64 (correct for math.MinInt64).
func absInt(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}
