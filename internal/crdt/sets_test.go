package crdt

import (
	"errors"
	"slices"
	"testing"
)

func TestGSet(t *testing.T) {
	a, b := NewGSet(), NewGSet()
	if !a.Add("x") || a.Add("x") {
		t.Fatal("Add should report whether the element is new")
	}
	b.Add("y")
	m := a.Join(b)
	if got := m.Elements(); !slices.Equal(got, []string{"x", "y"}) || !m.Contains("y") || m.Len() != 2 {
		t.Fatalf("union %q", got)
	}
}

func TestTwoPSetRemovedElementsNeverComeBack(t *testing.T) {
	a := NewTwoPSet()
	if _, err := a.Add("token"); err != nil {
		t.Fatal(err)
	}
	old := a.Clone()
	if !a.Remove("token") {
		t.Fatal("remove of a present element reported false")
	}
	if _, err := a.Add("token"); !errors.Is(err, ErrRemoved) {
		t.Fatalf("re-add: %v", err)
	}
	// An old replica still holding the element, even re-adding it, does not revive it.
	if _, err := old.Add("token"); err != nil {
		t.Fatal(err)
	}
	if m := old.Join(a); m.Contains("token") || !m.Removed("token") || m.Len() != 0 {
		t.Fatalf("merged: %q", m.Elements())
	}
	// Removing what is not present does nothing, so it cannot pre-empt a future add.
	if a.Remove("other") || a.Removed("other") {
		t.Fatal("removing an absent element recorded a tombstone")
	}
}
