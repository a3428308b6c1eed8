package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// The merge laws are checked on states reachable in a real cluster: each generated
// history runs random operations at a few replicas, each replica acting as its own
// actor, interleaved with random state deliveries (merges) between replicas. Arbitrary
// states would not do: two replicas may not issue the same dot.

var (
	actors = []string{"a", "ab", "b"} // "a" < "ab" < "b": prefixes and order matter
	elems  = []string{"", "x", "y", "z"}
	keys   = []string{"apple", "pear", "plum"}
)

// model says how to exercise one type.
type model struct {
	typ Type
	// op applies one random operation to v on behalf of actor.
	op func(t *rapid.T, actor string, v Value)
}

var models = []model{
	{TypeGCounter, func(t *rapid.T, actor string, v Value) {
		must(t, v.(*GCounter).Increment(actor, rapid.Uint64Range(0, 5).Draw(t, "n")))
	}},
	{TypePNCounter, func(t *rapid.T, actor string, v Value) {
		must(t, v.(*PNCounter).Increment(actor, rapid.Int64Range(-5, 5).Draw(t, "delta")))
	}},
	{TypeGSet, func(t *rapid.T, _ string, v Value) {
		v.(*GSet).Add(rapid.SampledFrom(elems).Draw(t, "elem"))
	}},
	{TypeTwoPSet, func(t *rapid.T, _ string, v Value) {
		s := v.(*TwoPSet)
		e := rapid.SampledFrom(elems).Draw(t, "elem")
		if rapid.Bool().Draw(t, "add") {
			_, _ = s.Add(e)
		} else {
			s.Remove(e)
		}
	}},
	{TypeORSet, func(t *rapid.T, actor string, v Value) {
		s := v.(*ORSet)
		e := rapid.SampledFrom(elems).Draw(t, "elem")
		if rapid.Bool().Draw(t, "add") {
			s.Add(actor, e)
		} else {
			s.Remove(e)
		}
	}},
	{TypeLWWRegister, func(t *rapid.T, actor string, v Value) {
		v.(*LWWRegister).Set(actor, rapid.Uint64Range(0, 4).Draw(t, "ts"), []byte(rapid.SampledFrom(elems).Draw(t, "value")))
	}},
	{TypeMVRegister, func(t *rapid.T, actor string, v Value) {
		r := v.(*MVRegister)
		if rapid.IntRange(0, 4).Draw(t, "clear") == 0 {
			r.Clear()
		} else {
			r.Set(actor, []byte(rapid.SampledFrom(elems).Draw(t, "value")))
		}
	}},
	{TypeMap, func(t *rapid.T, actor string, v Value) { mapOp(t, actor, v.(*Map), 0) }},
}

// mapOp applies a random operation to m, possibly inside nested maps.
func mapOp(t *rapid.T, actor string, m *Map, depth int) {
	key := rapid.SampledFrom(keys).Draw(t, "key")
	elem := rapid.SampledFrom(elems).Draw(t, "elem")
	switch rapid.IntRange(0, 8).Draw(t, "mapop") {
	case 0, 1:
		must(t, m.Increment(actor, key, rapid.Int64Range(-3, 3).Draw(t, "delta")))
	case 2:
		m.AddToSet(actor, key, elem)
	case 3:
		m.RemoveFromSet(key, elem)
	case 4:
		m.Assign(actor, key, rapid.Uint64Range(0, 4).Draw(t, "ts"), []byte(elem))
	case 5:
		m.AssignMulti(actor, key, []byte(elem))
	case 6:
		if depth < 2 {
			must(t, m.UpdateMap(key, func(sub *Map) error {
				mapOp(t, actor, sub, depth+1)
				return nil
			}))
		}
	case 7:
		m.Remove(key)
	case 8:
		m.RemoveField(key, rapid.SampledFrom([]Type{TypePNCounter, TypeORSet, TypeMap}).Draw(t, "type"))
	}
}

// fataler is what testing.TB and *rapid.T have in common.
type fataler interface {
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func must(t fataler, err error) {
	if err != nil {
		t.Fatal(err)
	}
}

func mustMerge(t fataler, a, b Value) Value {
	m, err := a.Merge(b)
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	return m
}

// replicas runs a random history of m's type and returns the replicas' final states.
func replicas(t *rapid.T, m model) []Value {
	rs := make([]Value, len(actors))
	for i := range rs {
		v, err := New(m.typ)
		must(t, err)
		rs[i] = v
	}
	steps := rapid.IntRange(0, 40).Draw(t, "steps")
	for range steps {
		i := rapid.IntRange(0, len(rs)-1).Draw(t, "replica")
		if rapid.IntRange(0, 2).Draw(t, "deliver") == 0 {
			j := rapid.IntRange(0, len(rs)-1).Draw(t, "from")
			rs[i] = mustMerge(t, rs[i], rs[j])
		} else {
			m.op(t, actors[i], rs[i])
		}
	}
	return rs
}

func forEachModel(t *testing.T, check func(t *rapid.T, m model)) {
	for _, m := range models {
		t.Run(m.typ.String(), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) { check(t, m) })
		})
	}
}

func requireEqual(t *rapid.T, what string, a, b Value) {
	if !a.Equal(b) {
		t.Fatalf("%s: states differ:\n%x\n%x", what, Encode(a), Encode(b))
	}
	if !bytes.Equal(Encode(a), Encode(b)) {
		t.Fatalf("%s: Equal states encode differently:\n%x\n%x", what, Encode(a), Encode(b))
	}
}

func TestMergeIsCommutativeAssociativeIdempotent(t *testing.T) {
	forEachModel(t, func(t *rapid.T, m model) {
		rs := replicas(t, m)
		a, b, c := rs[0], rs[1], rs[2]
		before := [][]byte{Encode(a), Encode(b), Encode(c)}

		requireEqual(t, "commutative", mustMerge(t, a, b), mustMerge(t, b, a))
		requireEqual(t, "associative", mustMerge(t, mustMerge(t, a, b), c), mustMerge(t, a, mustMerge(t, b, c)))
		requireEqual(t, "idempotent", mustMerge(t, a, a), a)
		ab := mustMerge(t, a, b)
		requireEqual(t, "absorbs a replayed input", mustMerge(t, ab, a), ab)

		for i, v := range []Value{a, b, c} {
			if !bytes.Equal(Encode(v), before[i]) {
				t.Fatalf("merge modified its input %d", i)
			}
		}
	})
}

func TestMergeResultSharesNothingMutable(t *testing.T) {
	forEachModel(t, func(t *rapid.T, m model) {
		rs := replicas(t, m)
		a, b := rs[0], rs[1]
		before := [][]byte{Encode(a), Encode(b)}
		merged := mustMerge(t, a, b)
		for range rapid.IntRange(1, 10).Draw(t, "ops") {
			m.op(t, actors[0], merged)
		}
		if !bytes.Equal(Encode(a), before[0]) || !bytes.Equal(Encode(b), before[1]) {
			t.Fatal("operations on a merge result modified an input")
		}
	})
}

func TestEncodingRoundTrips(t *testing.T) {
	forEachModel(t, func(t *rapid.T, m model) {
		for _, v := range replicas(t, m) {
			prefix := []byte("prefix")
			enc := v.Append(prefix)
			if !bytes.HasPrefix(enc, prefix) {
				t.Fatal("Append lost dst")
			}
			enc = enc[len(prefix):]
			if enc[0] != formatVersion || Type(enc[1]) != m.typ {
				t.Fatalf("header %x", enc[:2])
			}
			got, err := Decode(enc)
			if err != nil {
				t.Fatalf("decode %x: %v", enc, err)
			}
			requireEqual(t, "round trip", got, v)
			j1, err1 := v.MarshalJSON()
			j2, err2 := got.MarshalJSON()
			if err1 != nil || err2 != nil || !bytes.Equal(j1, j2) {
				t.Fatalf("JSON differs after round trip: %s vs %s (%v, %v)", j1, j2, err1, err2)
			}
			// Every strict prefix of a valid encoding is corrupt, not a smaller value.
			cut := rapid.IntRange(0, len(enc)-1).Draw(t, "cut")
			if _, err := Decode(enc[:cut]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decoding %d of %d bytes: %v", cut, len(enc), err)
			}
		}
	})
}

func TestReplicasConvergeInAnyDeliveryOrder(t *testing.T) {
	forEachModel(t, func(t *rapid.T, m model) {
		rs := replicas(t, m)
		var first Value
		for k := range 3 {
			order := rapid.Permutation(rs).Draw(t, fmt.Sprintf("order%d", k))
			acc := order[0]
			for _, v := range order[1:] {
				if rapid.Bool().Draw(t, "twice") { // duplicated delivery
					acc = mustMerge(t, acc, v)
				}
				acc = mustMerge(t, acc, v)
			}
			if first == nil {
				first = acc
				continue
			}
			requireEqual(t, "converged", acc, first)
			j1, _ := acc.MarshalJSON()
			j2, _ := first.MarshalJSON()
			if !bytes.Equal(j1, j2) {
				t.Fatalf("views differ: %s vs %s", j1, j2)
			}
		}
	})
}

func TestMergeRejectsOtherTypes(t *testing.T) {
	for _, a := range models {
		va, _ := New(a.typ)
		if _, err := va.Merge(nil); !errors.Is(err, ErrWrongType) {
			t.Errorf("%s.Merge(nil): %v", a.typ, err)
		}
		for _, b := range models {
			vb, _ := New(b.typ)
			_, err := va.Merge(vb)
			if (a.typ == b.typ) != (err == nil) || (err != nil && !errors.Is(err, ErrWrongType)) {
				t.Errorf("%s.Merge(%s): %v", a.typ, b.typ, err)
			}
			if va.Equal(vb) != (a.typ == b.typ) {
				t.Errorf("%s.Equal(%s) wrong", a.typ, b.typ)
			}
		}
	}
}
