package crdt

import (
	"errors"
	"math"
	"testing"
)

func TestPNCounterIncrementAndDecrement(t *testing.T) {
	a, b := NewPNCounter(), NewPNCounter()
	must(t, a.Increment("a", 5))
	must(t, a.Increment("a", -2))
	must(t, b.Increment("b", -10))
	m := a.Join(b)
	if got := m.Value(); got != -7 {
		t.Fatalf("value %d, want -7", got)
	}
	// Replayed and duplicated deliveries change nothing.
	if got := m.Join(a).Join(b).Join(a).Value(); got != -7 {
		t.Fatalf("after replays %d, want -7", got)
	}
}

func TestPNCounterOverflowIsRefusedLocally(t *testing.T) {
	c := NewPNCounter()
	must(t, c.Increment("a", math.MaxInt64))
	if err := c.Increment("a", 1); !errors.Is(err, ErrOverflow) {
		t.Fatalf("past MaxInt64: %v", err)
	}
	if c.Value() != math.MaxInt64 {
		t.Fatalf("a refused increment changed the value to %d", c.Value())
	}
	must(t, c.Increment("a", math.MinInt64)) // back to -1
	if c.Value() != -1 {
		t.Fatalf("value %d, want -1", c.Value())
	}
	if err := c.Increment("a", math.MinInt64); !errors.Is(err, ErrOverflow) {
		t.Fatalf("past MinInt64: %v", err)
	}
}

func TestPNCounterValueSaturatesWhenConcurrentIncrementsOverflow(t *testing.T) {
	a, b := NewPNCounter(), NewPNCounter()
	must(t, a.Increment("a", math.MaxInt64))
	must(t, b.Increment("b", math.MaxInt64))
	m := a.Join(b)
	if m.Value() != math.MaxInt64 {
		t.Fatalf("value %d, want saturation at MaxInt64", m.Value())
	}
	// The state is still exact: decrements bring the value back into range.
	must(t, m.Increment("c", math.MinInt64))
	if m.Value() != math.MaxInt64-1 { // MaxInt64 + MaxInt64 + MinInt64
		t.Fatalf("value %d, want %d", m.Value(), int64(math.MaxInt64-1))
	}
}

func TestGCounter(t *testing.T) {
	c := NewGCounter()
	must(t, c.Increment("a", 3))
	must(t, c.Increment("b", 4))
	must(t, c.Increment("a", 0))
	if c.Value() != 7 || c.Count("a") != 3 || c.Count("z") != 0 {
		t.Fatalf("value %d", c.Value())
	}
	must(t, c.Increment("a", math.MaxUint64-3))
	if err := c.Increment("a", 1); !errors.Is(err, ErrOverflow) {
		t.Fatalf("past MaxUint64: %v", err)
	}
	if c.Value() != math.MaxUint64 {
		t.Fatalf("sum past MaxUint64 should saturate, got %d", c.Value())
	}
}
