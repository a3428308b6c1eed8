package version

import (
	"math"
	"testing"

	"pgregory.net/rapid"
)

func TestTimestampParts(t *testing.T) {
	ts := MakeTimestamp(1_700_000_000_000, 42)
	if ts.Physical() != 1_700_000_000_000 || ts.Logical() != 42 || ts.String() != "1700000000000.42" {
		t.Errorf("MakeTimestamp(1700000000000, 42) = %s (physical %d, logical %d)", ts, ts.Physical(), ts.Logical())
	}
	if MakeTimestamp(5, math.MaxUint16) >= MakeTimestamp(6, 0) {
		t.Error("the logical counter spills into the physical part")
	}
}

func TestHLCNow(t *testing.T) {
	var c HLC
	steps := []struct {
		physical int64
		want     Timestamp
	}{
		{100, MakeTimestamp(100, 0)},
		{100, MakeTimestamp(100, 1)}, // same millisecond: logical counter
		{90, MakeTimestamp(100, 2)},  // clock went back: keep counting
		{101, MakeTimestamp(101, 0)}, // clock caught up
		{-5, MakeTimestamp(101, 1)},  // nonsense time: still monotonic
	}
	for _, s := range steps {
		if got := c.Now(s.physical); got != s.want {
			t.Fatalf("Now(%d) = %s, want %s", s.physical, got, s.want)
		}
		if c.Last() != s.want {
			t.Fatalf("Last() = %s after Now returned %s", c.Last(), s.want)
		}
	}
}

func TestHLCLogicalOverflow(t *testing.T) {
	var c HLC
	c.Restore(MakeTimestamp(100, math.MaxUint16))
	if got, want := c.Now(50), MakeTimestamp(101, 0); got != want {
		t.Fatalf("Now after a full logical counter = %s, want %s", got, want)
	}
	if got, want := c.Now(101), MakeTimestamp(101, 1); got != want {
		t.Fatalf("Now(101) = %s, want %s", got, want)
	}
	// 65536 timestamps in one millisecond borrow the next millisecond.
	c = HLC{}
	prev := c.Now(7)
	for i := 0; i < 1<<16; i++ {
		ts := c.Now(7)
		if ts <= prev {
			t.Fatalf("Now = %s after %s", ts, prev)
		}
		prev = ts
	}
	if prev != MakeTimestamp(8, 0) {
		t.Fatalf("after 65537 calls in millisecond 7: %s, want 8.0", prev)
	}
}

func TestHLCObserve(t *testing.T) {
	var c HLC
	c.Now(1000)
	remote := MakeTimestamp(5000, 7)
	if off := c.Observe(remote, 1000); off != 4000 {
		t.Errorf("Observe offset = %d, want 4000 (peer ahead)", off)
	}
	if got := c.Now(1001); got <= remote {
		t.Errorf("Now after Observe(%s) = %s, want greater", remote, got)
	}
	if off := c.Observe(MakeTimestamp(900, 0), 1000); off != -100 {
		t.Errorf("Observe offset = %d, want -100 (peer behind)", off)
	}
	if got := c.Now(6000); got != MakeTimestamp(6000, 0) {
		t.Errorf("Now(6000) = %s, want 6000.0", got)
	}
}

func TestHLCRestore(t *testing.T) {
	var c HLC
	hw := MakeTimestamp(2000, 3)
	c.Restore(hw)
	if got := c.Now(1000); got <= hw {
		t.Errorf("Now after Restore(%s) = %s, want greater", hw, got)
	}
	c.Restore(MakeTimestamp(10, 0)) // never moves back
	if got := c.Now(1000); got <= hw {
		t.Errorf("Restore moved the clock back: Now = %s", got)
	}
}

func TestHLCFarFuture(t *testing.T) {
	// Physical times past the 48-bit range must not wrap the clock to the past.
	var c HLC
	a := c.Now(1000)
	b := c.Now(math.MaxInt64)
	if b <= a {
		t.Fatalf("Now(MaxInt64) = %s after %s", b, a)
	}
	c = HLC{}
	c.Observe(MakeTimestamp(1000, 0), 1<<48)
	if got := c.Now(1 << 48); got <= MakeTimestamp(1000, 0) {
		t.Fatalf("Now = %s after observing 1000.0 at physical 2^48", got)
	}
	// The largest timestamp is a ceiling: the clock stays there rather than wrap to 0.
	c = HLC{}
	c.Observe(math.MaxUint64, 0)
	if got := c.Now(0); got != math.MaxUint64 {
		t.Fatalf("Now at the ceiling = %s, want %s", got, Timestamp(math.MaxUint64))
	}
}

// TestHLCMonotonic drives a clock with arbitrary physical times, remote timestamps and
// restores, and checks that every timestamp it issues exceeds everything it issued,
// observed or restored before, and is at least the physical time.
func TestHLCMonotonic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var c HLC
		var high Timestamp // greatest timestamp issued, observed or restored
		physical := rapid.OneOf(
			rapid.Int64(),
			rapid.Int64Range(1_700_000_000_000, 1_700_000_000_100),
			rapid.Int64Range(0, 3),
		)
		remote := rapid.OneOf(
			rapid.Map(rapid.Uint64(), func(u uint64) Timestamp { return Timestamp(u) }),
			rapid.Map(rapid.Int64Range(1_700_000_000_000, 1_700_000_000_100), func(p int64) Timestamp {
				return MakeTimestamp(p, uint16(p))
			}),
		)
		for i := rapid.IntRange(1, 200).Draw(t, "steps"); i > 0; i-- {
			pt := physical.Draw(t, "physical")
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0, 1:
				ts := c.Now(pt)
				if ts <= high && !(ts == math.MaxUint64 && high == math.MaxUint64) {
					t.Fatalf("Now(%d) = %s, not above %s", pt, ts, high)
				}
				if pt >= 0 && pt < 1<<48 && ts < MakeTimestamp(pt, 0) {
					t.Fatalf("Now(%d) = %s, behind the physical time", pt, ts)
				}
				high = ts
			case 2:
				r := remote.Draw(t, "remote")
				c.Observe(r, pt)
				high = max(high, r)
			case 3:
				r := remote.Draw(t, "restore")
				c.Restore(r)
				high = max(high, r)
			}
			if c.Last() < high {
				t.Fatalf("Last() = %s, below %s", c.Last(), high)
			}
		}
	})
}
