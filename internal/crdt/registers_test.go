package crdt

import (
	"slices"
	"testing"
)

func TestLWWRegisterHighestTimestampWinsTiesByActor(t *testing.T) {
	r := NewLWWRegister()
	if _, ok := r.Get(); ok {
		t.Fatal("empty register reports a value")
	}
	if !r.Set("b", 10, []byte("first")) {
		t.Fatal("first write ignored")
	}
	if r.Set("a", 9, []byte("stale")) {
		t.Fatal("a write with an older timestamp took effect")
	}
	if r.Set("a", 10, []byte("tie, lower actor")) {
		t.Fatal("a tie with a lower actor took effect")
	}
	other := NewLWWRegister()
	other.Set("c", 10, []byte("tie, higher actor"))
	m := r.Join(other)
	if v, _ := m.Get(); string(v) != "tie, higher actor" || m.Actor() != "c" || m.Timestamp() != 10 {
		t.Fatalf("winner %q by %s", v, m.Actor())
	}
	if v, _ := other.Join(r).Get(); string(v) != "tie, higher actor" {
		t.Fatal("merge is not symmetric")
	}
}

func TestLWWRegisterGetReturnsACopy(t *testing.T) {
	r := NewLWWRegister()
	in := []byte("abc")
	r.Set("a", 1, in)
	in[0] = 'X'
	v, _ := r.Get()
	v[1] = 'Y'
	if got, _ := r.Get(); string(got) != "abc" {
		t.Fatalf("register aliased caller memory: %q", got)
	}
}

func TestMVRegisterKeepsConcurrentWritesUntilOverwritten(t *testing.T) {
	a, b := NewMVRegister(), NewMVRegister()
	a.Set("a", []byte("red"))
	b.Set("b", []byte("blue"))
	m := a.Join(b)
	if got := m.Values(); !slices.EqualFunc(got, [][]byte{[]byte("blue"), []byte("red")}, slices.Equal) {
		t.Fatalf("concurrent writes: %q", got)
	}
	m.Set("a", []byte("purple")) // a write that has seen both replaces both
	if got := m.Join(a).Join(b).Values(); len(got) != 1 || string(got[0]) != "purple" {
		t.Fatalf("after overwrite and replays: %q", got)
	}
	if !m.Clear() || len(m.Values()) != 0 || m.Clear() {
		t.Fatal("Clear")
	}
	if got := m.Join(a).Values(); len(got) != 0 {
		t.Fatalf("an old write came back after Clear: %q", got)
	}
}
