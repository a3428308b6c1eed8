package crdt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// samples returns a few values of every type, for seeds and table tests.
func samples(t testing.TB) []Value {
	g := NewGCounter()
	must(t, g.Increment("n1", 3))
	must(t, g.Increment("n2", 1<<40))
	pn := NewPNCounter()
	must(t, pn.Increment("n1", 7))
	must(t, pn.Increment("n2", -9))
	gs := NewGSet()
	gs.Add("a")
	gs.Add("b")
	tp := NewTwoPSet()
	_, _ = tp.Add("a")
	_, _ = tp.Add("b")
	tp.Remove("a")
	or := NewORSet()
	or.Add("n1", "milk")
	or.Add("n2", "eggs")
	or.Add("n1", "bread")
	or.Remove("bread")
	other := NewORSet()
	other.Add("n3", "milk")
	or = or.Join(other)
	lww := NewLWWRegister()
	lww.Set("n1", 42, []byte("hello"))
	mv := NewMVRegister()
	mv.Set("n1", []byte("red"))
	mv2 := NewMVRegister()
	mv2.Set("n2", []byte{0xff, 0})
	mv = mv.Join(mv2)
	m := NewMap()
	must(t, m.Increment("n1", "apple", 2))
	must(t, m.Increment("n2", "apple", -1))
	m.AddToSet("n1", "tags", "x")
	m.Assign("n1", "owner", 9, []byte("ann"))
	m.AssignMulti("n2", "note", []byte("hi"))
	must(t, m.UpdateMap("addr", func(s *Map) error {
		s.Assign("n1", "city", 1, []byte("Porto"))
		return s.Increment("n2", "visits", 1)
	}))
	vs := []Value{g, pn, gs, tp, or, lww, mv, m}
	for _, typ := range []Type{TypeGCounter, TypePNCounter, TypeGSet, TypeTwoPSet, TypeORSet, TypeLWWRegister, TypeMVRegister, TypeMap} {
		empty, _ := New(typ)
		vs = append(vs, empty)
	}
	return vs
}

// checkDecoded states what must hold of any input that Decode accepts.
func checkDecoded(t fataler, data []byte, v Value) {
	if enc := Encode(v); !bytes.Equal(enc, data) {
		t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", data, enc)
	}
	if m := mustMerge(t, v, v); !m.Equal(v) {
		t.Fatal("merge with itself changed the value")
	}
	j, err := v.MarshalJSON()
	if err != nil || !json.Valid(j) {
		t.Fatalf("JSON view %q: %v", j, err)
	}
}

func TestDecodeRejectsGarbageWithoutPanicking(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "data")
		if rapid.Bool().Draw(t, "header") && len(data) >= 2 {
			data[0], data[1] = formatVersion, byte(rapid.IntRange(1, int(maxType)).Draw(t, "type"))
		}
		if v, err := Decode(data); err == nil {
			checkDecoded(t, data, v)
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
	})
}

func TestDecodeRejectsMutatedEncodingsWithoutPanicking(t *testing.T) {
	forEachModel(t, func(t *rapid.T, m model) {
		for _, v := range replicas(t, m) {
			data := Encode(v)
			i := rapid.IntRange(0, len(data)-1).Draw(t, "at")
			switch rapid.IntRange(0, 2).Draw(t, "mutation") {
			case 0:
				data[i] ^= byte(rapid.IntRange(1, 255).Draw(t, "xor"))
			case 1:
				data = append(data[:i], data[i+1:]...)
			case 2:
				data = append(data[:i], append([]byte{rapid.Byte().Draw(t, "b")}, data[i:]...)...)
			}
			if got, err := Decode(data); err == nil {
				checkDecoded(t, data, got)
			}
		}
	})
}

func uv(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func hdr(t Type, body ...[]byte) []byte {
	b := []byte{formatVersion, byte(t)}
	for _, p := range body {
		b = append(b, p...)
	}
	return b
}

func TestDecodeRejectsInvalidEncodings(t *testing.T) {
	huge := uint64(1) << 60
	pad := make([]byte, 8) // so that size checks pass and the intended check is reached
	cases := []struct {
		name string
		data []byte
		want string // in the error message
	}{
		{"empty", nil, "too short"},
		{"version only", []byte{formatVersion}, "too short"},
		{"unknown version", []byte{9, byte(TypeGSet), 0}, "format version 9"},
		{"unknown type", []byte{formatVersion, 0, 0}, "unknown type 0"},
		{"unknown type 200", []byte{formatVersion, 200, 0}, "unknown type 200"},
		{"trailing bytes", hdr(TypeGSet, uv(0), []byte{7}), "trailing"},
		{"huge element count", hdr(TypeGSet, uv(huge)), "exceeds"},
		{"huge string length", hdr(TypeGSet, uv(1, huge)), "exceeds"},
		{"huge actor count", hdr(TypeGCounter, uv(huge)), "exceeds"},
		{"huge context", hdr(TypeORSet, uv(huge)), "exceeds"},
		{"huge map", hdr(TypeMap, uv(0, huge)), "exceeds"},
		{"huge register value", hdr(TypeLWWRegister, []byte{1}, uv(1), uv(1), []byte("a"), uv(huge)), "exceeds"},
		{"overlong uvarint", hdr(TypeGSet, bytes.Repeat([]byte{0xff}, 11)), "bad uvarint"},
		{"unsorted set", hdr(TypeGSet, uv(2), uv(1), []byte("b"), uv(1), []byte("a")), "out of order"},
		{"duplicate set element", hdr(TypeGSet, uv(2), uv(1), []byte("a"), uv(1), []byte("a")), "out of order"},
		{"zero count", hdr(TypeGCounter, uv(1, 1), []byte("a"), uv(0)), "counter 0"},
		{"duplicate actor", hdr(TypeGCounter, uv(2, 1), []byte("a"), uv(1, 1), []byte("a"), uv(2)), "actors out of order"},
		{"2P-set element present and removed", hdr(TypeTwoPSet, uv(1, 1), []byte("a"), uv(1, 1), []byte("a")), "both present and removed"},
		{"register flag", hdr(TypeLWWRegister, []byte{2}), "register flag"},
		{"context counter zero", hdr(TypeORSet, uv(1, 1), []byte("a"), uv(0, 0)), "counter 0"},
		{"context counter too large", hdr(TypeORSet, uv(1, 1), []byte("a"), uv(maxCounter+1, 0)), "out of range"},
		{"dot beyond context", hdr(TypeORSet, uv(1, 1), []byte("a"), uv(2), uv(1, 1), []byte("x"), uv(1, 0, 3)), "not covered"},
		{"dot actor out of range", hdr(TypeORSet, uv(1, 1), []byte("a"), uv(2), uv(1, 1), []byte("x"), uv(1, 1, 1)), "index 1 out of range"},
		{"element without dots", hdr(TypeORSet, uv(1, 1), []byte("a"), uv(2), uv(1, 1), []byte("x"), uv(0), pad), "empty dot list"},
		{"two dots of one actor", hdr(TypeORSet, uv(1, 1), []byte("a"), uv(2), uv(1, 1), []byte("x"), uv(2, 0, 1, 0, 2)), "dots out of order"},
		{"two register entries of one actor", hdr(TypeMVRegister, uv(1, 1), []byte("a"), uv(2), uv(2, 0, 1, 0), uv(0, 2, 0)), "entries out of order"},
		{"empty map field", hdr(TypeMap, uv(1, 1), []byte("a"), uv(1), uv(1), uv(1), []byte("k"), []byte{byte(TypePNCounter)}, uv(0), pad), "empty pncounter field"},
		{"map field of a non-causal type", hdr(TypeMap, uv(1, 1), []byte("a"), uv(1), uv(1), uv(1), []byte("k"), []byte{byte(TypeGSet)}, uv(0), pad), "cannot hold"},
		{"map fields out of order", hdr(TypeMap, uv(1, 1), []byte("a"), uv(2), uv(2),
			uv(1), []byte("k"), []byte{byte(TypeORSet)}, uv(1, 1), []byte("x"), uv(1, 0, 1),
			uv(1), []byte("k"), []byte{byte(TypePNCounter)}, uv(1, 0, 1, 2)), "fields out of order"},
	}
	for _, c := range cases {
		v, err := Decode(c.data)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, %v; want ErrCorrupt with %q", c.name, v, err, c.want)
		}
	}
}

func TestDecodeMemoryFollowsBytesReceived(t *testing.T) {
	// Small inputs that declare enormous collections must fail before allocating for
	// them.
	inputs := [][]byte{
		hdr(TypeGSet, uv(math.MaxUint64)),
		hdr(TypeORSet, uv(1<<40)),
		hdr(TypeMap, uv(0, 1<<40)),
		hdr(TypeMVRegister, uv(0, 1<<40)),
		hdr(TypePNCounter, uv(0, 1<<40)),
		hdr(TypeLWWRegister, []byte{1}, uv(1, 1), []byte("a"), uv(1<<40)),
	}
	for _, in := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			if _, err := Decode(in); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%x: %v", in, err)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / 100; per > 4096 {
			t.Errorf("%x: %d bytes allocated per decode of %d bytes", in, per, len(in))
		}
	}
}

func TestDecodeRejectsDeepNesting(t *testing.T) {
	// A leaf counter at the bottom of MaxDepth+1 nested maps, all sharing one context.
	// Field "c": a counter with one entry (actor 0, dot 1, value 1 zig-zagged to 2).
	field := append(append(uv(1), 'c'), append([]byte{byte(TypePNCounter)}, uv(1, 0, 1, 2)...)...)
	store := append(uv(1), field...) // a map store holding the counter
	for range MaxDepth {
		store = append(uv(1), append(append(uv(1), 'm'), append([]byte{byte(TypeMap)}, store...)...)...)
	}
	data := hdr(TypeMap, uv(1, 1), []byte("a"), uv(1), store)
	if _, err := Decode(data); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%d nested maps: %v", MaxDepth+1, err)
	}
	// One level less is fine.
	store = append(uv(1), field...)
	for range MaxDepth - 1 {
		store = append(uv(1), append(append(uv(1), 'm'), append([]byte{byte(TypeMap)}, store...)...)...)
	}
	if _, err := Decode(hdr(TypeMap, uv(1, 1), []byte("a"), uv(1), store)); err != nil {
		t.Fatalf("%d nested maps: %v", MaxDepth, err)
	}
}

func TestTypedDecodersRejectOtherTypes(t *testing.T) {
	enc := Encode(NewGCounter())
	if _, err := DecodeORSet(enc); !errors.Is(err, ErrWrongType) {
		t.Fatalf("DecodeORSet(gcounter): %v", err)
	}
	if _, err := DecodeMap(Encode(NewORSet())); !errors.Is(err, ErrWrongType) {
		t.Fatalf("DecodeMap(orset): %v", err)
	}
}

func TestTypeNames(t *testing.T) {
	for typ := TypeGCounter; typ <= maxType; typ++ {
		got, err := ParseType(typ.String())
		if err != nil || got != typ {
			t.Errorf("ParseType(%q) = %v, %v", typ.String(), got, err)
		}
	}
	if _, err := ParseType("hyperloglog"); !errors.Is(err, ErrWrongType) {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := New(0); !errors.Is(err, ErrWrongType) {
		t.Errorf("New(0): %v", err)
	}
	if Type(0).Valid() || Type(99).String() != "crdt.Type(99)" {
		t.Error("invalid types")
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range samples(f) {
		f.Add(Encode(v))
	}
	f.Add([]byte{})
	f.Add([]byte{formatVersion, byte(TypeMap), 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		checkDecoded(t, data, v)
	})
}

// FuzzMerge checks that merge laws hold even for states that no history produced but
// the decoder accepts.
func FuzzMerge(f *testing.F) {
	vs := samples(f)
	for i := range vs {
		f.Add(Encode(vs[i]), Encode(vs[(i+1)%len(vs)]))
		f.Add(Encode(vs[i]), Encode(vs[(i+8)%len(vs)]))
	}
	f.Fuzz(func(t *testing.T, x, y []byte) {
		a, errA := Decode(x)
		b, errB := Decode(y)
		if errA != nil || errB != nil || a.Type() != b.Type() {
			return
		}
		ab, ba := mustMerge(t, a, b), mustMerge(t, b, a)
		if !ab.Equal(ba) {
			t.Fatalf("not commutative:\n%x\n%x", Encode(ab), Encode(ba))
		}
		if !mustMerge(t, ab, a).Equal(ab) || !mustMerge(t, ab, b).Equal(ab) {
			t.Fatal("merge does not absorb its inputs")
		}
		back, err := Decode(Encode(ab))
		if err != nil || !back.Equal(ab) {
			t.Fatalf("merged state does not round-trip: %v", err)
		}
	})
}
