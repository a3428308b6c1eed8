package object

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/version"
)

// fatalf is what the helpers need of *testing.T and *rapid.T.
type fatalf interface {
	Helper()
	Fatalf(string, ...any)
}

// normalized returns o with its siblings in a fixed order (by dot, then by content), so
// that Equal compares sets of siblings.
func normalized(o Object) Object {
	o.Siblings = slices.Clone(o.Siblings)
	slices.SortFunc(o.Siblings, func(a, b Sibling) int {
		if c := strings.Compare(a.Dot.Actor, b.Dot.Actor); c != 0 {
			return c
		}
		if a.Dot.Counter != b.Dot.Counter {
			return cmpUint(a.Dot.Counter, b.Dot.Counter)
		}
		switch {
		case a.newer(b):
			return 1
		case b.newer(a):
			return -1
		}
		return 0
	})
	return o
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkSame(t fatalf, what string, got, want Object) {
	t.Helper()
	if !Equal(normalized(got), normalized(want)) {
		t.Fatalf("%s:\n got  %s\n want %s", what, show(got), show(want))
	}
}

func show(o Object) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s ctx=%v [", o.Kind, o.Context)
	for i, s := range o.Siblings {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%d@%s=%q", s.Dot.Actor, s.Dot.Counter, s.Timestamp, s.Value)
		if s.Tombstone {
			b.WriteString("†")
		}
		if s.ExpiresAt != 0 {
			fmt.Fprintf(&b, "exp%d", s.ExpiresAt)
		}
	}
	b.WriteString("]")
	return b.String()
}

func TestLive(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    Sibling
		now  int64
		want bool
	}{
		{"plain value", Sibling{Value: []byte("v")}, 1000, true},
		{"tombstone", Sibling{Tombstone: true}, 1000, false},
		{"before expiry", Sibling{ExpiresAt: 2000}, 1999, true},
		{"at expiry", Sibling{ExpiresAt: 2000}, 2000, false},
		{"after expiry", Sibling{ExpiresAt: 2000}, 2001, false},
		{"tombstone before expiry", Sibling{Tombstone: true, ExpiresAt: 2000}, 1000, false},
		{"never expires at time 0", Sibling{}, 0, true},
	} {
		if got := tt.s.Live(tt.now); got != tt.want {
			t.Errorf("%s: Live(%d) = %v, want %v", tt.name, tt.now, got, tt.want)
		}
	}
}

func TestKeyAndKind(t *testing.T) {
	if got := (Key{"users", "alice"}).String(); got != "users/alice" {
		t.Errorf("Key.String() = %q", got)
	}
	for k, want := range map[Kind]string{KindRegister: "register", KindSiblings: "siblings", KindCounter: "pncounter", KindSet: "orset", KindOf(crdt.TypeMap): "map", 9: "kind(9)", 0x30: "kind(48)"} {
		if k.String() != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), want)
		}
	}
}

func TestWinner(t *testing.T) {
	ts := version.MakeTimestamp
	sib := func(actor string, counter uint64, t version.Timestamp) Sibling {
		return Sibling{Value: []byte(actor), Dot: version.Dot{Actor: actor, Counter: counter}, Timestamp: t}
	}
	for _, tt := range []struct {
		name string
		sibs []Sibling
		want Sibling
	}{
		{"highest timestamp", []Sibling{sib("z", 9, ts(100, 0)), sib("a", 1, ts(100, 1)), sib("m", 5, ts(99, 9))}, sib("a", 1, ts(100, 1))},
		{"tie broken by actor", []Sibling{sib("a", 9, ts(100, 0)), sib("b", 1, ts(100, 0))}, sib("b", 1, ts(100, 0))},
		{"tie broken by actor, reversed", []Sibling{sib("b", 1, ts(100, 0)), sib("a", 9, ts(100, 0))}, sib("b", 1, ts(100, 0))},
		{"then by counter", []Sibling{sib("a", 2, ts(100, 0)), sib("a", 3, ts(100, 0))}, sib("a", 3, ts(100, 0))},
		{"tombstone can win", []Sibling{sib("a", 1, ts(1, 0)), {Tombstone: true, Dot: version.Dot{Actor: "a", Counter: 2}, Timestamp: ts(2, 0)}},
			Sibling{Tombstone: true, Dot: version.Dot{Actor: "a", Counter: 2}, Timestamp: ts(2, 0)}},
	} {
		got, ok := Object{Siblings: tt.sibs}.Winner()
		if !ok || !got.same(tt.want) {
			t.Errorf("%s: Winner = %+v, %v; want %+v", tt.name, got, ok, tt.want)
		}
		if o := (Object{Siblings: tt.sibs}); o.Timestamp() != tt.want.Timestamp {
			t.Errorf("%s: Timestamp = %s, want %s", tt.name, o.Timestamp(), tt.want.Timestamp)
		}
		a := Object{Siblings: tt.sibs[:1]}
		for _, s := range tt.sibs[1:] {
			var err error
			if a, err = mergeMode(a, Object{Siblings: []Sibling{s}}, LWW); err != nil {
				t.Fatal(err)
			}
		}
		if len(a.Siblings) != 1 || !a.Siblings[0].same(tt.want) {
			t.Errorf("%s: LWW merge kept %v, want %+v", tt.name, show(a), tt.want)
		}
	}
	if _, ok := (Object{}).Winner(); ok {
		t.Error("Winner of an empty object reported ok")
	}
}

func TestMergeKindOrder(t *testing.T) {
	reg := Object{Kind: KindRegister, Siblings: []Sibling{{Value: []byte("r"), Dot: version.Dot{Actor: "a", Counter: 1}, Timestamp: 9}},
		Context: version.Vector{{Actor: "a", Counter: 1}}}
	sib := Object{Kind: KindSiblings, Siblings: []Sibling{{Value: []byte("s"), Dot: version.Dot{Actor: "b", Counter: 1}, Timestamp: 1}},
		Context: version.Vector{{Actor: "b", Counter: 1}}}
	c := crdt.NewPNCounter()
	if err := c.Increment("a", 5); err != nil {
		t.Fatal(err)
	}
	ctr := Object{Kind: KindCounter, Siblings: []Sibling{{Value: crdt.Encode(c), Dot: version.Dot{Actor: "c", Counter: 1}, Timestamp: 1}}}
	for _, order := range [][2]Object{{reg, sib}, {sib, reg}} {
		got, err := Merge(order[0], order[1])
		if err != nil || got.Kind != KindSiblings || len(got.Siblings) != 2 {
			t.Errorf("register ⊔ siblings = %s, %v; want both values as siblings", show(got), err)
		}
	}
	for _, other := range []Object{reg, sib} {
		for _, order := range [][2]Object{{other, ctr}, {ctr, other}} {
			if got, err := Merge(order[0], order[1]); err != nil || !Equal(got, ctr) {
				t.Errorf("%s ⊔ counter = %s, %v; want the counter", other.Kind, show(got), err)
			}
		}
	}
	// An absent key has no kind to disagree with.
	if got, err := Merge(Object{Kind: KindSet}, ctr); err != nil || !Equal(got, ctr) {
		t.Errorf("Merge(absent, counter) = %v, %v; want the counter", show(got), err)
	}
}

func TestMergeCRDT(t *testing.T) {
	obj := func(actor string, n int64, ts version.Timestamp) Object {
		c := crdt.NewPNCounter()
		if err := c.Increment(actor, n); err != nil {
			t.Fatal(err)
		}
		return Object{Kind: KindCounter, Siblings: []Sibling{{Value: crdt.Encode(c), Dot: version.Dot{Actor: actor, Counter: uint64(ts)}, Timestamp: ts}}}
	}
	a, b := obj("a", 3, 10), obj("b", -1, 20)
	for _, order := range [][2]Object{{a, b}, {b, a}} {
		got, err := Merge(order[0], order[1])
		if err != nil {
			t.Fatal(err)
		}
		v, err := got.CRDT()
		if err != nil || v.(*crdt.PNCounter).Value() != 2 || got.Timestamp() != 20 {
			t.Errorf("counter merge = %v (ts %s), %v; want 2 at ts 20", v, got.Timestamp(), err)
		}
		if again, _ := Merge(got, order[1]); !Equal(again, got) {
			t.Error("merging a counter twice changed it")
		}
	}
	bad := Object{Kind: KindCounter, Siblings: []Sibling{{Value: []byte("junk"), Timestamp: 1}}}
	if _, err := Merge(a, bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("merging a corrupt counter: err = %v, want ErrCorrupt", err)
	}
}

func TestDeadAndFullContext(t *testing.T) {
	d := func(a string, c uint64) version.Dot { return version.Dot{Actor: a, Counter: c} }
	o := Object{Kind: KindSiblings, Siblings: []Sibling{
		{Tombstone: true, Dot: d("a", 5), Timestamp: version.MakeTimestamp(100, 0)},
		{Value: []byte("v"), Dot: d("b", 7), Timestamp: version.MakeTimestamp(50, 0), ExpiresAt: 200},
	}, Context: version.Vector{d("a", 5)}}
	if _, dead := o.Dead(150); dead {
		t.Error("an object with a live sibling is dead")
	}
	if since, dead := o.Dead(250); !dead || since != 200 {
		t.Errorf("Dead(250) = %d, %v; want 200, true", since, dead)
	}
	if got := o.FullContext(); got.Get("a") != 5 || got.Get("b") != 7 {
		t.Errorf("FullContext = %v; want a:5 b:7", got)
	}
	if len(o.Live(150)) != 1 || len(o.Live(250)) != 0 {
		t.Error("Live does not follow tombstones and expiry")
	}
}

func TestMergeSiblingsCausality(t *testing.T) {
	dot := func(a string, c uint64) version.Dot { return version.Dot{Actor: a, Counter: c} }
	x := Sibling{Value: []byte("x"), Dot: dot("a", 1), Timestamp: 10}
	y := Sibling{Value: []byte("y"), Dot: dot("b", 1), Timestamp: 20}
	z := Sibling{Value: []byte("z"), Dot: dot("a", 2), Timestamp: 5}
	for _, tt := range []struct {
		name string
		a, b Object
		want Object
	}{
		{
			"concurrent writes are both kept",
			Object{Siblings: []Sibling{x}, Context: version.Vector{dot("a", 1)}},
			Object{Siblings: []Sibling{y}, Context: version.Vector{dot("b", 1)}},
			Object{Siblings: []Sibling{x, y}, Context: version.Vector{dot("a", 1), dot("b", 1)}},
		},
		{
			"a write that saw x replaces it",
			Object{Siblings: []Sibling{x}, Context: version.Vector{dot("a", 1)}},
			Object{Siblings: []Sibling{y}, Context: version.Vector{dot("a", 1), dot("b", 1)}},
			Object{Siblings: []Sibling{y}, Context: version.Vector{dot("a", 1), dot("b", 1)}},
		},
		{
			"even with an older timestamp",
			Object{Siblings: []Sibling{x, y}, Context: version.Vector{dot("a", 1), dot("b", 1)}},
			Object{Siblings: []Sibling{z}, Context: version.Vector{dot("a", 2), dot("b", 1)}},
			Object{Siblings: []Sibling{z}, Context: version.Vector{dot("a", 2), dot("b", 1)}},
		},
		{
			"a sibling both keep stays once",
			Object{Siblings: []Sibling{x, y}, Context: version.Vector{dot("a", 1), dot("b", 1)}},
			Object{Siblings: []Sibling{y}, Context: version.Vector{dot("b", 1)}},
			Object{Siblings: []Sibling{x, y}, Context: version.Vector{dot("a", 1), dot("b", 1)}},
		},
		{
			"a delete is a sibling like any other",
			Object{Siblings: []Sibling{x}, Context: version.Vector{dot("a", 1)}},
			Object{Siblings: []Sibling{{Tombstone: true, Dot: dot("b", 1)}}, Context: version.Vector{dot("a", 1), dot("b", 1)}},
			Object{Siblings: []Sibling{{Tombstone: true, Dot: dot("b", 1)}}, Context: version.Vector{dot("a", 1), dot("b", 1)}},
		},
	} {
		for _, order := range [][2]Object{{tt.a, tt.b}, {tt.b, tt.a}} {
			got, err := mergeMode(order[0], order[1], Siblings)
			if err != nil || !Equal(got, tt.want) {
				t.Errorf("%s: Merge = %s, %v; want %s", tt.name, show(got), err, show(tt.want))
			}
		}
	}
}

func TestMergeContextOnly(t *testing.T) {
	// Every sibling superseded: nothing left but the context. LWW must not invent a
	// zero sibling out of two such copies.
	c := Object{Context: version.Vector{{Actor: "a", Counter: 3}}}
	for _, mode := range []Mode{LWW, Siblings} {
		got, err := mergeMode(c, c, mode)
		if err != nil || !Equal(got, c) {
			t.Errorf("mode %d: Merge(ctx-only, ctx-only) = %s, %v; want %s", mode, show(got), err, show(c))
		}
	}
}

// universe gives every dot one fixed write, so that generated objects agree on what a
// dot means, as real replicas do.
func universeSibling(d version.Dot) Sibling {
	h := len(d.Actor)*31 + int(d.Counter)*7
	s := Sibling{Dot: d, Timestamp: version.MakeTimestamp(int64(h%5), uint16(h%3)), Value: []byte(fmt.Sprint(d.Actor, d.Counter))}
	if h%4 == 0 {
		s.Tombstone, s.Value = true, nil
	}
	if h%3 == 0 {
		s.ExpiresAt = int64(h)
	}
	return s
}

var actors = []string{"a", "bb", "ccc"}

// genDVVObject draws a well-formed DVV state: a context, and as siblings some of the
// dots that context covers, each with its universe write.
func genDVVObject(kind Kind) *rapid.Generator[Object] {
	return rapid.Custom(func(t *rapid.T) Object {
		o := Object{Kind: kind}
		for _, a := range actors {
			n := rapid.Uint64Range(0, 3).Draw(t, "ctx "+a)
			if n > 0 {
				o.Context = append(o.Context, version.Dot{Actor: a, Counter: n})
			}
			for c := uint64(1); c <= n; c++ {
				if rapid.Bool().Draw(t, "keep") {
					o.Siblings = append(o.Siblings, universeSibling(version.Dot{Actor: a, Counter: c}))
				}
			}
		}
		return o
	})
}

// genSibling draws an arbitrary sibling; small ranges make ties likely.
func genSibling() *rapid.Generator[Sibling] {
	return rapid.Custom(func(t *rapid.T) Sibling {
		return Sibling{
			Value:     rapid.SliceOfN(rapid.Byte(), 0, 3).Draw(t, "value"),
			Dot:       version.Dot{Actor: rapid.SampledFrom(actors).Draw(t, "actor"), Counter: rapid.Uint64Range(1, 2).Draw(t, "counter")},
			Timestamp: version.Timestamp(rapid.Uint64Range(0, 2).Draw(t, "ts")),
			Tombstone: rapid.Bool().Draw(t, "tombstone"),
			ExpiresAt: rapid.Int64Range(-1, 1).Draw(t, "expires"),
		}
	})
}

func genContext() *rapid.Generator[version.Vector] {
	return rapid.Custom(func(t *rapid.T) version.Vector {
		var v version.Vector
		for _, a := range actors {
			if n := rapid.Uint64Range(0, 2).Draw(t, "ctx "+a); n > 0 {
				v = append(v, version.Dot{Actor: a, Counter: n})
			}
		}
		return v
	})
}

// genLWWObject draws a well-formed LWW state: at most one sibling, any content (a dot
// reused after a lost disk may carry different content), any context.
func genLWWObject(kind Kind) *rapid.Generator[Object] {
	return rapid.Custom(func(t *rapid.T) Object {
		o := Object{Kind: kind, Context: genContext().Draw(t, "context")}
		if rapid.IntRange(0, 3).Draw(t, "siblings") > 0 {
			o.Siblings = []Sibling{genSibling().Draw(t, "sibling")}
		}
		return o
	})
}

// genAnyObject draws siblings and context with no invariant between them.
func genAnyObject(kind Kind) *rapid.Generator[Object] {
	return rapid.Custom(func(t *rapid.T) Object {
		return Object{
			Kind:     kind,
			Siblings: rapid.SliceOfN(genSibling(), 0, 3).Draw(t, "siblings"),
			Context:  genContext().Draw(t, "context"),
		}
	})
}

// Mode picks the register kind a test merges as.
type Mode uint8

const (
	LWW Mode = iota
	Siblings
)

// mergeMode merges a and b as registers of the mode's kind.
func mergeMode(a, b Object, mode Mode) (Object, error) {
	k := KindRegister
	if mode == Siblings {
		k = KindSiblings
	}
	kind := a.Kind // reported back, so tests compare with their inputs
	a.Kind, b.Kind = k, k
	o, err := Merge(a, b)
	o.Kind = kind
	return o, err
}

func mustMerge(t fatalf, a, b Object, mode Mode) Object {
	t.Helper()
	o, err := mergeMode(a, b, mode)
	if err != nil {
		t.Fatalf("Merge(%s, %s): %v", show(a), show(b), err)
	}
	return o
}

func checkLaws(t *rapid.T, gen func(Kind) *rapid.Generator[Object], mode Mode) {
	kind := KindRegister
	if mode == Siblings {
		kind = KindSiblings
	}
	a, b, c := gen(kind).Draw(t, "a"), gen(kind).Draw(t, "b"), gen(kind).Draw(t, "c")
	before := []Object{deepCopy(a), deepCopy(b), deepCopy(c)}

	ab := mustMerge(t, a, b, mode)
	checkSame(t, "commutative: a⊔b vs b⊔a", ab, mustMerge(t, b, a, mode))
	checkSame(t, "associative: (a⊔b)⊔c vs a⊔(b⊔c)", mustMerge(t, ab, c, mode), mustMerge(t, a, mustMerge(t, b, c, mode), mode))
	checkSame(t, "idempotent: a⊔a vs a", mustMerge(t, a, a, mode), a)
	checkSame(t, "absorbing: (a⊔b)⊔b vs a⊔b", mustMerge(t, ab, b, mode), ab)
	checkSame(t, "identity: a⊔∅ vs a", mustMerge(t, a, Object{Kind: kind}, mode), a)
	if !ab.Context.Descends(a.Context) || !ab.Context.Descends(b.Context) {
		t.Fatalf("context of a⊔b = %v does not cover %v and %v", ab.Context, a.Context, b.Context)
	}
	for i, o := range []Object{a, b, c} {
		if !Equal(o, before[i]) || !sameValues(o, before[i]) {
			t.Fatalf("Merge modified its input: %s became %s", show(before[i]), show(o))
		}
	}
}

func deepCopy(o Object) Object {
	o.Siblings = slices.Clone(o.Siblings)
	for i := range o.Siblings {
		o.Siblings[i].Value = slices.Clone(o.Siblings[i].Value)
	}
	o.Context = slices.Clone(o.Context)
	return o
}

// sameValues also tells nil from empty, which Equal does not.
func sameValues(a, b Object) bool {
	for i := range a.Siblings {
		if (a.Siblings[i].Value == nil) != (b.Siblings[i].Value == nil) {
			return false
		}
	}
	return true
}

func TestMergeLawsLWW(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { checkLaws(t, genLWWObject, LWW) })
}

func TestMergeLawsSiblings(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { checkLaws(t, genDVVObject, Siblings) })
}

// TestMergeCommutesOnAnything checks that two replicas converge even on copies that
// break the invariants (a dot reused with other content, siblings outside the context):
// the merge must not depend on which copy is local.
func TestMergeCommutesOnAnything(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mode := rapid.SampledFrom([]Mode{LWW, Siblings}).Draw(t, "mode")
		a, b := genAnyObject(KindRegister).Draw(t, "a"), genAnyObject(KindRegister).Draw(t, "b")
		checkSame(t, "commutative", mustMerge(t, a, b, mode), mustMerge(t, b, a, mode))
		// (Merging with an absent copy returns the other copy as it is.)
		if got := mustMerge(t, a, b, mode); mode == LWW && !a.IsZero() && !b.IsZero() &&
			len(a.Siblings)+len(b.Siblings) > 0 && len(got.Siblings) != 1 {
			t.Fatalf("LWW kept %d siblings", len(got.Siblings))
		}
	})
}

func TestMergeLWWKeepsTheWinner(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := genLWWObject(KindRegister).Draw(t, "a"), genLWWObject(KindRegister).Draw(t, "b")
		got := mustMerge(t, a, b, LWW)
		all := append(slices.Clone(a.Siblings), b.Siblings...)
		if len(all) == 0 {
			if len(got.Siblings) != 0 {
				t.Fatalf("LWW of no siblings kept %s", show(got))
			}
			return
		}
		for _, s := range all {
			w := got.Siblings[0]
			if s.Timestamp > w.Timestamp || (s.Timestamp == w.Timestamp && s.Dot.Actor > w.Dot.Actor) {
				t.Fatalf("LWW kept %s over %+v", show(got), s)
			}
		}
	})
}

func BenchmarkMerge(b *testing.B) {
	sib := func(actor string, c uint64) Sibling {
		return Sibling{Value: bytes.Repeat([]byte("v"), 100), Dot: version.Dot{Actor: actor, Counter: c}, Timestamp: version.Timestamp(c)}
	}
	ctx := version.Vector{{Actor: "node-1", Counter: 10}, {Actor: "node-2", Counter: 7}, {Actor: "node-3", Counter: 4}}
	for _, tt := range []struct {
		name string
		mode Mode
		a, b Object
	}{
		{"lww", LWW,
			Object{Siblings: []Sibling{sib("node-1", 10)}, Context: ctx},
			Object{Siblings: []Sibling{sib("node-2", 7)}, Context: ctx[1:]}},
		{"siblings/3+1", Siblings,
			Object{Siblings: []Sibling{sib("node-1", 10), sib("node-2", 7), sib("node-3", 4)}, Context: ctx},
			Object{Siblings: []Sibling{sib("node-4", 1)}, Context: version.Vector{{Actor: "node-4", Counter: 1}}}},
		{"siblings/supersede", Siblings,
			Object{Siblings: []Sibling{sib("node-1", 10), sib("node-2", 7)}, Context: ctx},
			Object{Siblings: []Sibling{sib("node-1", 11)}, Context: ctx.Add(version.Dot{Actor: "node-1", Counter: 11})}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := mergeMode(tt.a, tt.b, tt.mode); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// genMixedObject draws a register (one sibling), a siblings object or a counter, so
// that merges across kinds are exercised.
func genMixedObject() *rapid.Generator[Object] {
	return rapid.Custom(func(t *rapid.T) Object {
		switch rapid.IntRange(0, 2).Draw(t, "kind") {
		case 0:
			o := genDVVObject(KindRegister).Draw(t, "register")
			if len(o.Siblings) > 1 {
				o.Siblings = o.Siblings[:1]
			}
			return o
		case 1:
			return genDVVObject(KindSiblings).Draw(t, "siblings")
		}
		c := crdt.NewPNCounter()
		for _, a := range actors {
			if n := rapid.Int64Range(-2, 2).Draw(t, "incr "+a); n != 0 {
				_ = c.Increment(a, n)
			}
		}
		ts := version.Timestamp(rapid.Uint64Range(1, 3).Draw(t, "ts"))
		return Object{Kind: KindCounter, Siblings: []Sibling{{Value: crdt.Encode(c), Dot: version.Dot{Actor: "a", Counter: uint64(ts)}, Timestamp: ts}}}
	})
}

// TestMergeAcrossKinds: copies of different kinds (a keyspace whose settings reached a
// node late; a register write racing a key's first CRDT update) still merge the same
// whichever copy is local, merging twice changes nothing, and a CRDT always wins.
func TestMergeAcrossKinds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := genMixedObject().Draw(t, "a"), genMixedObject().Draw(t, "b")
		ab, err := Merge(a, b)
		if err != nil {
			t.Fatal(err)
		}
		ba, _ := Merge(b, a)
		checkSame(t, "commutative across kinds", ab, ba)
		again, _ := Merge(ab, b)
		checkSame(t, "absorbing across kinds", again, ab)
		if (a.Kind == KindCounter || b.Kind == KindCounter) && ab.Kind != KindCounter && !a.IsZero() && !b.IsZero() {
			t.Fatalf("%s ⊔ %s = %s: the CRDT lost", a.Kind, b.Kind, ab.Kind)
		}
	})
}
