package crdt

import (
	"errors"
	"slices"
	"testing"
)

func quantity(t *testing.T, m *Map, item string) int64 {
	t.Helper()
	v, _ := m.Counter(item)
	return v
}

// The Dynamo shopping cart, as a Map of counters, with its classic hazards: the same
// cart edited through different coordinators, removals concurrent with additions,
// and states delivered late, twice, in any order.
func TestMapShoppingCart(t *testing.T) {
	a := NewMap()
	must(t, a.Increment("a", "apple", 2))
	must(t, a.Increment("a", "pear", 1))
	b := a.Clone() // replica b has seen a's cart

	// Concurrently: a adds one more apple; b adds two apples and removes the pear.
	must(t, a.Increment("a", "apple", 1))
	must(t, b.Increment("b", "apple", 2))
	b.Remove("pear")

	for _, m := range []*Map{a.Join(b), b.Join(a), a.Join(b).Join(a).Join(b)} {
		if q := quantity(t, m, "apple"); q != 5 {
			t.Fatalf("apples: %d, want 2+1+2", q)
		}
		if m.Has("pear") {
			t.Fatal("the removed pear came back")
		}
	}

	// An old replica that still has the pear does not bring it back either.
	old := a.Clone()
	m := a.Join(b)
	if m.Join(old).Has("pear") {
		t.Fatal("merging an old replica resurrected the pear")
	}

	// Removing an item and buying it again starts from zero.
	m.Remove("apple")
	must(t, m.Increment("b", "apple", 1))
	if q := quantity(t, m.Join(old).Join(a).Join(b), "apple"); q != 1 {
		t.Fatalf("re-added apple: %d, want 1 (old quantities must not return)", q)
	}
}

func TestMapAddWinsOverConcurrentRemove(t *testing.T) {
	a := NewMap()
	must(t, a.Increment("a", "apple", 3))
	b := a.Clone()

	a.Remove("apple")                     // a removes the item it saw...
	must(t, b.Increment("b", "apple", 1)) // ...while b, another actor, adds one

	m := a.Join(b)
	if q, ok := m.Counter("apple"); !ok || q != 1 {
		t.Fatalf("apple %d (present %v), want the concurrent 1 only", q, ok)
	}
}

// Pins the one documented imprecision of counters in a map: an actor that increments
// concurrently with a removal carries its earlier (removed) total with it.
func TestMapCounterConcurrentIncrementBySameActorKeepsItsTotal(t *testing.T) {
	a := NewMap()
	must(t, a.Increment("a", "apple", 3))
	b := a.Clone()

	b.Remove("apple")
	must(t, a.Increment("a", "apple", 1))

	if q := quantity(t, a.Join(b), "apple"); q != 4 {
		t.Fatalf("apple %d; the documented behaviour is 3+1", q)
	}
}

func TestMapFieldsOfEachType(t *testing.T) {
	m := NewMap()
	m.AddToSet("a", "tags", "red")
	m.AddToSet("a", "tags", "blue")
	if !m.RemoveFromSet("tags", "red") || m.RemoveFromSet("tags", "green") {
		t.Fatal("RemoveFromSet result")
	}
	if got, ok := m.SetElements("tags"); !ok || !slices.Equal(got, []string{"blue"}) {
		t.Fatalf("tags %q", got)
	}
	m.RemoveFromSet("tags", "blue")
	if _, ok := m.SetElements("tags"); ok {
		t.Fatal("an empty set field should disappear")
	}

	if !m.Assign("a", "owner", 5, []byte("ann")) || m.Assign("b", "owner", 4, []byte("bob")) {
		t.Fatal("Assign should ignore an older write")
	}
	if v, ok := m.Register("owner"); !ok || string(v) != "ann" {
		t.Fatalf("owner %q", v)
	}

	m.AssignMulti("a", "note", []byte("hi"))
	if v, ok := m.MultiValues("note"); !ok || len(v) != 1 || string(v[0]) != "hi" {
		t.Fatalf("note %q", v)
	}

	must(t, m.UpdateMap("address", func(sub *Map) error {
		sub.Assign("a", "city", 1, []byte("Lisbon"))
		return sub.Increment("a", "visits", 1)
	}))
	sub, ok := m.Submap("address")
	if !ok {
		t.Fatal("nested map missing")
	}
	if v, _ := sub.Register("city"); string(v) != "Lisbon" {
		t.Fatalf("city %q", v)
	}
	want := []Field{{"address", TypeMap}, {"note", TypeMVRegister}, {"owner", TypeLWWRegister}}
	if got := m.Fields(); !slices.Equal(got, want) || m.Len() != 3 {
		t.Fatalf("fields %v", got)
	}
	if !m.RemoveField("owner", TypeLWWRegister) || m.RemoveField("owner", TypeLWWRegister) {
		t.Fatal("RemoveField result")
	}
}

func TestMapNameWithSeveralTypes(t *testing.T) {
	a, b := NewMap(), NewMap()
	must(t, a.Increment("a", "x", 1))
	b.AddToSet("b", "x", "e")
	m := a.Join(b)
	if got := m.Fields(); len(got) != 2 {
		t.Fatalf("fields %v", got)
	}
	j, _ := m.MarshalJSON()
	if string(j) != `{"x":{"pncounter":1,"orset":["e"]}}` {
		t.Fatalf("json %s", j)
	}
	if !m.Remove("x") || m.Len() != 0 {
		t.Fatal("Remove should drop every type under the name")
	}
}

func TestMapUpdateMapFailureChangesNothing(t *testing.T) {
	m := NewMap()
	must(t, m.UpdateMap("sub", func(sub *Map) error { return sub.Increment("a", "n", 1) }))
	before := Encode(m)
	boom := errors.New("boom")
	err := m.UpdateMap("sub", func(sub *Map) error {
		must(t, sub.Increment("a", "n", 5))
		sub.Remove("n")
		return boom
	})
	if !errors.Is(err, boom) || string(Encode(m)) != string(before) {
		t.Fatalf("err %v; state changed", err)
	}
	// An update that leaves the nested map empty removes it.
	must(t, m.UpdateMap("sub", func(sub *Map) error { sub.Remove("n"); return nil }))
	if m.Has("sub") {
		t.Fatal("an emptied nested map should disappear")
	}
}

func TestMapNestingIsBounded(t *testing.T) {
	m := NewMap()
	var nest func(sub *Map, depth int) error
	nest = func(sub *Map, depth int) error {
		if depth == MaxDepth {
			return sub.Increment("a", "leaf", 1)
		}
		return sub.UpdateMap("m", func(s *Map) error { return nest(s, depth+1) })
	}
	if err := nest(m, 0); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("nesting %d levels: %v", MaxDepth+1, err)
	}
	m = NewMap()
	must(t, nest(m, 1)) // MaxDepth levels including the top: allowed, and decodable
	if _, err := DecodeMap(Encode(m)); err != nil {
		t.Fatal(err)
	}
}

func TestMapCounterOverflow(t *testing.T) {
	m := NewMap()
	must(t, m.Increment("a", "n", 1<<62))
	must(t, m.Increment("b", "n", 1<<62-1)) // total: MaxInt64
	before := Encode(m)
	if err := m.Increment("c", "n", 1); !errors.Is(err, ErrOverflow) {
		t.Fatalf("overflow: %v", err)
	}
	if string(Encode(m)) != string(before) {
		t.Fatal("a refused increment changed the map")
	}
}
