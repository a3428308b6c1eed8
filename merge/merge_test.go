package merge_test

import (
	"errors"
	"testing"

	"github.com/chorusdb/chorus/merge"
)

func TestRegisterAndLookup(t *testing.T) {
	merge.Register("first", func(v [][]byte) ([]byte, error) { return v[0], nil })
	f, ok := merge.Lookup("first")
	if !ok {
		t.Fatal("registered function not found")
	}
	if got, err := f([][]byte{[]byte("a"), []byte("b")}); err != nil || string(got) != "a" {
		t.Fatalf("first = %q, %v", got, err)
	}
	if names := merge.Names(); len(names) < 2 || names[0] != "first" || names[1] != "union" {
		t.Fatalf("Names = %v", names)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice did not panic")
		}
	}()
	merge.Register("union", func([][]byte) ([]byte, error) { return nil, errors.New("x") })
}

func TestUnion(t *testing.T) {
	got, err := merge.Union([][]byte{[]byte(`{"items":["b","a"],"n":1}`), []byte(`{"items":["c","a"]}`)})
	if err != nil || string(got) != `{"items":["a","b","c"],"n":1}` {
		t.Fatalf("Union = %s, %v", got, err)
	}
	if _, err := merge.Union([][]byte{[]byte("not json")}); err == nil {
		t.Fatal("Union accepted a value that is not JSON")
	}
}
