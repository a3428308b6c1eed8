package membership

import (
	"slices"
	"testing"
)

func TestStaticSetAddAndSubscribe(t *testing.T) {
	s := NewStatic(Member{ID: "b", Status: Alive}, Member{ID: "a", Status: Dead})
	var log []string
	s.Subscribe(func() { log = append(log, "1:"+statuses(s.Members())) })
	s.Subscribe(func() { log = append(log, "2") })

	s.Set("b", Alive) // no change: no call
	s.Set("a", Alive)
	s.Add(Member{ID: "c", Status: Suspect})
	s.Add(Member{ID: "c", Status: Suspect}) // no change
	s.Set("b", Left)

	want := []string{"1:a=alive b=alive", "2", "1:a=alive b=alive c=suspect", "2", "1:a=alive b=left c=suspect", "2"}
	if !slices.Equal(log, want) {
		t.Fatalf("callbacks saw\n%q\nwant\n%q", log, want)
	}
}

func TestStaticNestedChangeRunsCallbacksAgain(t *testing.T) {
	s := NewStatic(Member{ID: "a"})
	var seen []string
	s.Subscribe(func() {
		seen = append(seen, statuses(s.Members()))
		if m := s.Members()[0]; m.Status == Suspect {
			s.Set("a", Dead) // reported after this round, before the outer Set returns
		}
	})
	s.Set("a", Suspect)
	if want := []string{"a=suspect", "a=dead"}; !slices.Equal(seen, want) {
		t.Fatalf("saw %q, want %q", seen, want)
	}
}

func TestStaticSetUnknownPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewStatic().Set("nobody", Dead)
}

func statuses(ms []Member) string {
	out := ""
	for i, m := range ms {
		if i > 0 {
			out += " "
		}
		out += m.ID + "=" + m.Status.String()
	}
	return out
}
