package crdt

import (
	"slices"
	"testing"
)

func TestORSetConcurrentAddWinsOverRemove(t *testing.T) {
	a := NewORSet()
	a.Add("a", "milk")
	b := a.Clone() // b has seen a's add

	a.Remove("milk")   // a removes what it saw...
	b.Add("b", "milk") // ...while b adds the same element concurrently

	for _, m := range []*ORSet{a.Join(b), b.Join(a)} {
		if !m.Contains("milk") {
			t.Fatalf("concurrent add lost to remove: %q", m.Elements())
		}
	}
}

func TestORSetObservedRemoveIsNotUndoneByAnOldReplica(t *testing.T) {
	a := NewORSet()
	a.Add("a", "milk")
	a.Add("a", "eggs")
	old := a.Clone() // a replica that saw both adds and nothing since
	a.Remove("milk")

	for _, m := range []*ORSet{a.Join(old), old.Join(a), a.Join(old).Join(old)} {
		if m.Contains("milk") || !m.Contains("eggs") {
			t.Fatalf("after merging an old replica: %q", m.Elements())
		}
	}
	// The old replica's own later add is new, so it does bring the element back.
	old.Add("b", "milk")
	if !a.Join(old).Contains("milk") {
		t.Fatal("a new add after the remove was lost")
	}
}

func TestORSetReAddAfterRemove(t *testing.T) {
	s := NewORSet()
	s.Add("a", "x")
	s.Remove("x")
	s.Add("a", "x")
	if !s.Contains("x") || s.Len() != 1 {
		t.Fatalf("re-add: %q", s.Elements())
	}
	if s.Remove("y") {
		t.Fatal("removing an absent element reported true")
	}
}

func TestORSetRemovesLeaveNoTombstones(t *testing.T) {
	s := NewORSet()
	for i := range 1000 {
		e := string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		s.Add("node-1", e)
		s.Add("node-2", e)
		s.Remove(e)
	}
	// What is left is the causal context: one counter per actor.
	if n := len(Encode(s)); n > 32 {
		t.Fatalf("empty set after 1000 removes encodes to %d bytes", n)
	}
	if s.Len() != 0 || len(s.ctx) != 2 {
		t.Fatalf("state: %d elements, context %v", s.Len(), s.ctx)
	}
}

func TestORSetElementsAreSorted(t *testing.T) {
	s := NewORSet()
	for _, e := range []string{"pear", "apple", "fig", "apple"} {
		s.Add("a", e)
	}
	if got := s.Elements(); !slices.Equal(got, []string{"apple", "fig", "pear"}) {
		t.Fatalf("elements %q", got)
	}
}
