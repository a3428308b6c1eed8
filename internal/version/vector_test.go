package version

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// genVector draws a canonical vector over a small set of actors, so that vectors
// often share actors and are ordered.
func genVector() *rapid.Generator[Vector] {
	return rapid.Custom(func(t *rapid.T) Vector {
		var v Vector
		for _, a := range []string{"a", "b", "c", "d"} {
			if c := rapid.Uint64Range(0, 3).Draw(t, a); c > 0 {
				v = append(v, Dot{Actor: a, Counter: c})
			}
		}
		return v
	})
}

// genDots draws arbitrary dots: unsorted, repeated actors, zero counters.
func genDots() *rapid.Generator[[]Dot] {
	return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Dot {
		return Dot{
			Actor:   rapid.StringMatching(`[a-e]{0,2}`).Draw(t, "actor"),
			Counter: rapid.OneOf(rapid.Uint64Range(0, 5), rapid.Uint64()).Draw(t, "counter"),
		}
	}), 0, 12)
}

// checkCanonical fails unless v is sorted by actor with distinct actors and no zero
// counters, and is nil when empty.
func checkCanonical(t interface {
	Helper()
	Fatalf(string, ...any)
}, v Vector) {
	t.Helper()
	if v != nil && len(v) == 0 {
		t.Fatalf("empty vector is not nil")
	}
	for i, d := range v {
		if d.Counter == 0 {
			t.Fatalf("%v has a zero entry", v)
		}
		if i > 0 && v[i-1].Actor >= d.Actor {
			t.Fatalf("%v is not sorted by distinct actors", v)
		}
	}
}

func equal(a, b Vector) bool { return slices.Equal(a, b) }

func TestVectorBasics(t *testing.T) {
	v := Vector{{"a", 2}, {"c", 1}}
	if v.Get("a") != 2 || v.Get("b") != 0 || v.Get("c") != 1 || v.Get("z") != 0 {
		t.Errorf("Get on %v wrong", v)
	}
	if !v.Contains(Dot{"a", 2}) || v.Contains(Dot{"a", 3}) || v.Contains(Dot{"b", 1}) {
		t.Errorf("Contains on %v wrong", v)
	}
	if got, want := v.Add(Dot{"b", 4}), (Vector{{"a", 2}, {"b", 4}, {"c", 1}}); !equal(got, want) {
		t.Errorf("Add = %v, want %v", got, want)
	}
	if got := v.Add(Dot{"a", 1}); !equal(got, v) {
		t.Errorf("Add of a seen dot = %v, want %v", got, v)
	}
	if got := v.Add(Dot{"b", 0}); !equal(got, v) {
		t.Errorf("Add of a zero dot = %v, want %v unchanged", got, v)
	}
	if v.String() != "{a:2,c:1}" || Vector(nil).String() != "{}" {
		t.Errorf("String = %q, %q", v.String(), Vector(nil).String())
	}
	if !(Dot{}).IsZero() || (Dot{"a", 0}).IsZero() || (Dot{"", 1}).IsZero() {
		t.Error("IsZero wrong")
	}
	if got := Vector(nil).Join(nil); got != nil {
		t.Errorf("nil.Join(nil) = %v, want nil", got)
	}
}

func TestCompare(t *testing.T) {
	a := Vector{{"a", 1}}
	ab := Vector{{"a", 1}, {"b", 1}}
	b := Vector{{"b", 2}}
	for _, tt := range []struct {
		v, o       Vector
		order      int
		concurrent bool
	}{
		{nil, nil, 0, false},
		{a, a, 0, false},
		{ab, a, 1, false},
		{a, ab, -1, false},
		{nil, a, -1, false},
		{a, b, 0, true},
		{ab, b, 0, true},
	} {
		order, conc := tt.v.Compare(tt.o)
		if order != tt.order || conc != tt.concurrent {
			t.Errorf("%v.Compare(%v) = %d, %v; want %d, %v", tt.v, tt.o, order, conc, tt.order, tt.concurrent)
		}
	}
}

func TestJoinLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genVector().Draw(t, "a"), genVector().Draw(t, "b"), genVector().Draw(t, "c")
		ab := a.Join(b)
		checkCanonical(t, ab)
		if !equal(ab, b.Join(a)) {
			t.Fatalf("not commutative: %v ⊔ %v = %v, reversed %v", a, b, ab, b.Join(a))
		}
		if l, r := ab.Join(c), a.Join(b.Join(c)); !equal(l, r) {
			t.Fatalf("not associative: (a⊔b)⊔c = %v, a⊔(b⊔c) = %v", l, r)
		}
		if !equal(a.Join(a), a) {
			t.Fatalf("not idempotent: %v ⊔ itself = %v", a, a.Join(a))
		}
		if !ab.Descends(a) || !ab.Descends(b) {
			t.Fatalf("%v ⊔ %v = %v does not descend both", a, b, ab)
		}
		if c.Descends(a) && c.Descends(b) && !c.Descends(ab) {
			t.Fatalf("not the least upper bound: %v descends %v and %v but not %v", c, a, b, ab)
		}
		if a.Join(nil) != nil && !equal(a.Join(nil), a) {
			t.Fatalf("nil is not the identity: %v ⊔ nil = %v", a, a.Join(nil))
		}
	})
}

func TestDescendsPartialOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genVector().Draw(t, "a"), genVector().Draw(t, "b"), genVector().Draw(t, "c")
		if !a.Descends(a) {
			t.Fatalf("not reflexive: %v", a)
		}
		if a.Descends(b) && b.Descends(a) && !equal(a, b) {
			t.Fatalf("not antisymmetric: %v and %v descend each other", a, b)
		}
		if a.Descends(b) && b.Descends(c) && !a.Descends(c) {
			t.Fatalf("not transitive: %v ≥ %v ≥ %v", a, b, c)
		}
		if !a.Descends(nil) {
			t.Fatalf("%v does not descend the empty vector", a)
		}
		order, concurrent := a.Compare(b)
		ab, ba := a.Descends(b), b.Descends(a)
		want := map[[2]bool]int{{true, true}: 0, {true, false}: 1, {false, true}: -1, {false, false}: 0}[[2]bool{ab, ba}]
		if order != want || concurrent != (!ab && !ba) {
			t.Fatalf("%v.Compare(%v) = %d, %v; Descends says %v, %v", a, b, order, concurrent, ab, ba)
		}
		if o2, c2 := b.Compare(a); o2 != -order || c2 != concurrent {
			t.Fatalf("Compare not antisymmetric: %d,%v vs %d,%v", order, concurrent, o2, c2)
		}
		for _, d := range b {
			if a.Descends(b) && !a.Contains(d) {
				t.Fatalf("%v descends %v but does not contain %v", a, b, d)
			}
		}
	})
}

func TestNormalize(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		dots := genDots().Draw(t, "dots")
		v := Normalize(dots)
		checkCanonical(t, v)
		var want Vector
		for _, d := range dots {
			if d.Counter > 0 {
				want = want.Join(Vector{d})
			}
		}
		if !equal(v, want) {
			t.Fatalf("Normalize(%v) = %v, want %v", dots, v, want)
		}
		if !equal(Normalize(v), v) {
			t.Fatalf("Normalize not idempotent on %v", v)
		}
		if got := Normalize(rapid.Permutation(dots).Draw(t, "shuffled")); !equal(got, v) {
			t.Fatalf("Normalize depends on order: %v vs %v", got, v)
		}
		for _, d := range dots {
			if !v.Contains(d) {
				t.Fatalf("Normalize(%v) = %v lost %v", dots, v, d)
			}
		}
	})
}

func TestNormalizeIsNotQuadratic(t *testing.T) {
	// A decoded context may hold as many distinct actors as its bytes allow.
	dots := make([]Dot, 200_000)
	for i := range dots {
		dots[i] = Dot{Actor: uitoa(uint64(len(dots) - i)), Counter: 1}
	}
	allocs := testing.AllocsPerRun(1, func() { Normalize(dots) })
	if allocs > 10 {
		t.Errorf("Normalize of %d dots made %v allocations", len(dots), allocs)
	}
}

func TestContextRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := Normalize(genDots().Draw(t, "dots"))
		s := EncodeContext(v)
		if strings.ContainsAny(s, "+/=") {
			t.Fatalf("EncodeContext(%v) = %q is not URL-safe", v, s)
		}
		got, err := DecodeContext(s)
		if err != nil || !equal(got, v) {
			t.Fatalf("DecodeContext(EncodeContext(%v)) = %v, %v", v, got, err)
		}
	})
	if EncodeContext(nil) != "" {
		t.Error("empty vector does not encode as the empty string")
	}
}

func TestDecodeContextRejectsGarbage(t *testing.T) {
	raw := func(b ...byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	for _, s := range []string{
		"!!!!",                 // not base64
		"YQ==",                 // padded: not the raw encoding
		"Y",                    // impossible base64 length
		raw(0x80),              // truncated varint length
		raw(5, 'a', 'b'),       // actor longer than the bytes left
		raw(1, 'a'),            // no counter
		raw(1, 'a', 0x80),      // truncated counter
		raw(1, 'a', 1, 2, 'b'), // second dot cut short
		raw(0xff, 0xff, 0xff, 0xff, // actor length 2^63
			0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
		raw(1, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // varint overflow
	} {
		if v, err := DecodeContext(s); !errors.Is(err, ErrBadContext) {
			t.Errorf("DecodeContext(%q) = %v, %v; want ErrBadContext", s, v, err)
		}
	}
}

func TestDecodeContextNormalizes(t *testing.T) {
	raw := base64.RawURLEncoding.EncodeToString([]byte{1, 'b', 1, 1, 'a', 2, 1, 'b', 3, 1, 'c', 0})
	got, err := DecodeContext(raw)
	if want := (Vector{{"a", 2}, {"b", 3}}); err != nil || !equal(got, want) {
		t.Errorf("DecodeContext = %v, %v; want %v", got, err, want)
	}
}

func FuzzDecodeContext(f *testing.F) {
	f.Add("")
	f.Add(EncodeContext(Vector{{"a", 1}}))
	f.Add(EncodeContext(Vector{{"node-1", 7}, {"node-2", 1 << 40}}))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte{1, 'b', 1, 1, 'a', 2, 1, 'a', 0}))
	f.Add("!!!!")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := DecodeContext(s)
		if err != nil {
			if !errors.Is(err, ErrBadContext) || v != nil {
				t.Fatalf("DecodeContext(%q) = %v, %v", s, v, err)
			}
			return
		}
		checkCanonical(t, v)
		again, err := DecodeContext(EncodeContext(v))
		if err != nil || !equal(again, v) {
			t.Fatalf("re-encoding %v decodes as %v, %v", v, again, err)
		}
	})
}
