package crdt

import (
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func TestOpRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		o := Op{
			Type:      Type(rapid.IntRange(0, 9).Draw(t, "type")),
			Action:    Action(rapid.IntRange(0, 7).Draw(t, "action")),
			FieldType: Type(rapid.IntRange(0, 9).Draw(t, "ftype")),
			Field:     rapid.String().Draw(t, "field"),
			Delta:     rapid.Int64().Draw(t, "delta"),
			Elems:     rapid.SliceOf(rapid.String()).Draw(t, "elems"),
			Value:     rapid.SliceOf(rapid.Byte()).Draw(t, "value"),
		}
		if len(o.Value) == 0 {
			o.Value = nil
		}
		got, err := DecodeOp(AppendOp(nil, o))
		if err != nil || !got.Equal(o) {
			t.Fatalf("round trip of %+v = %+v, %v", o, got, err)
		}
	})
}

func FuzzDecodeOp(f *testing.F) {
	f.Add(AppendOp(nil, Op{Type: TypeORSet, Action: ActAdd, Elems: []string{"a", "b"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if o, err := DecodeOp(b); err == nil {
			if again, err := DecodeOp(AppendOp(nil, o)); err != nil || !again.Equal(o) {
				t.Fatalf("re-encoding %+v gave %+v, %v", o, again, err)
			}
		}
	})
}

func TestOpApply(t *testing.T) {
	apply := func(v Value, o Op) Value {
		t.Helper()
		if err := o.Apply(v, "a", 7); err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		return v
	}
	c := apply(NewPNCounter(), Op{Type: TypePNCounter, Action: ActIncrement, Delta: 5}).(*PNCounter)
	apply(c, Op{Type: TypePNCounter, Action: ActIncrement, Delta: -2})
	if c.Value() != 3 {
		t.Errorf("counter = %d, want 3", c.Value())
	}
	apply(c, Op{Type: TypePNCounter, Action: ActClear})
	if c.Value() != 0 {
		t.Errorf("cleared counter = %d, want 0", c.Value())
	}
	s := apply(NewORSet(), Op{Type: TypeORSet, Action: ActAdd, Elems: []string{"x", "y"}}).(*ORSet)
	apply(s, Op{Type: TypeORSet, Action: ActRemove, Elems: []string{"x"}})
	if got := s.Elements(); len(got) != 1 || got[0] != "y" {
		t.Errorf("set = %v, want [y]", got)
	}
	m := apply(NewMap(), Op{Type: TypeMap, Action: ActIncrement, Field: "apples", FieldType: TypePNCounter, Delta: 2}).(*Map)
	apply(m, Op{Type: TypeMap, Action: ActAdd, Field: "tags", FieldType: TypeORSet, Elems: []string{"red"}})
	apply(m, Op{Type: TypeMap, Action: ActAssign, Field: "note", FieldType: TypeLWWRegister, Value: []byte("hi")})
	if n, _ := m.Counter("apples"); n != 2 || len(m.Fields()) != 3 {
		t.Errorf("map = %v, want apples=2 and three fields", m.Fields())
	}
	apply(m, Op{Type: TypeMap, Action: ActRemoveField, Field: "apples"})
	if m.Has("apples") {
		t.Error("remove_field left the field")
	}
	two := apply(NewTwoPSet(), Op{Type: TypeTwoPSet, Action: ActAdd, Elems: []string{"z"}})
	apply(two, Op{Type: TypeTwoPSet, Action: ActRemove, Elems: []string{"z"}})
	if err := (Op{Type: TypeTwoPSet, Action: ActAdd, Elems: []string{"z"}}).Apply(two, "a", 1); !errors.Is(err, ErrRemoved) {
		t.Errorf("re-adding to a 2P-set: %v, want ErrRemoved", err)
	}
	for _, bad := range []Op{
		{Type: TypeGCounter, Action: ActIncrement, Delta: -1},
		{Type: TypeGSet, Action: ActRemove, Elems: []string{"a"}},
		{Type: TypeORSet, Action: ActAdd},
		{Type: TypePNCounter, Action: ActAssign},
		{Type: TypeMap, Action: ActIncrement, FieldType: TypePNCounter},
		{Type: TypeMap, Action: ActIncrement, Field: "f", FieldType: TypeGSet},
		{Type: 0, Action: ActAdd},
	} {
		if err := bad.Validate(); !errors.Is(err, ErrBadOp) {
			t.Errorf("Validate(%+v) = %v, want ErrBadOp", bad, err)
		}
	}
	if err := (Op{Type: TypeORSet, Action: ActAdd, Elems: []string{"a"}}).Apply(NewPNCounter(), "a", 1); !errors.Is(err, ErrWrongType) {
		t.Errorf("set op on a counter: %v, want ErrWrongType", err)
	}
}

func TestInspect(t *testing.T) {
	c := NewPNCounter()
	_ = c.Increment("b", 5)
	_ = c.Increment("a", -2)
	_ = c.Increment("b", -1)
	up, down := c.Entries()
	if !slices.Equal(up, []Entry{{"b", 5}}) || !slices.Equal(down, []Entry{{"a", 2}, {"b", 1}}) {
		t.Errorf("PNCounter entries = %v, %v", up, down)
	}
	s := NewORSet()
	s.Add("a", "x")
	s.Add("b", "x")
	s.Add("a", "y")
	if got := s.Dots("x"); !slices.Equal(got, []Entry{{"b", 1}}) { // b's add saw a's and replaced it
		t.Errorf("dots of x = %v", got)
	}
	if got := s.Context(); !slices.Equal(got, []Entry{{"a", 2}, {"b", 1}}) {
		t.Errorf("context = %v", got)
	}
	if s.Dots("z") != nil {
		t.Error("an absent element has dots")
	}
}
