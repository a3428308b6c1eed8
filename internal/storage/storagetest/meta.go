package storagetest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

var metaTests = []test{
	{"Meta", testMeta},
	{"ScanMeta", testScanMeta},
}

func wantMeta(t *testing.T, e storage.Engine, name string, want []byte) {
	t.Helper()
	got, found, err := e.GetMeta(name)
	if err != nil {
		t.Fatalf("GetMeta(%q): %v", name, err)
	}
	if !found {
		t.Fatalf("GetMeta(%q): not found, want %q", name, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("GetMeta(%q) = %q, want %q", name, got, want)
	}
}

func testMeta(t *testing.T, e storage.Engine) {
	if v, found, err := e.GetMeta("hlc"); err != nil || found || v != nil {
		t.Fatalf("GetMeta of a missing name = %q, %v, %v; want nil, false, nil", v, found, err)
	}
	commit(t, e, &record.Batch{Meta: []record.MetaWrite{
		{Name: "hlc", Value: []byte{0, 0, 1, 2}},
		{Name: "dots", Value: []byte("n1:100")},
		{Name: "empty", Value: nil},
		{Name: "", Value: []byte("empty name")},
	}})
	wantMeta(t, e, "hlc", []byte{0, 0, 1, 2})
	wantMeta(t, e, "dots", []byte("n1:100"))
	wantMeta(t, e, "empty", []byte{})
	wantMeta(t, e, "", []byte("empty name"))

	commit(t, e, &record.Batch{Meta: []record.MetaWrite{
		{Name: "hlc", Value: []byte{9}},
		{Name: "hlc", Value: []byte{0, 0, 1, 3}}, // later write in a batch wins
	}})
	wantMeta(t, e, "hlc", []byte{0, 0, 1, 3})
	wantMeta(t, e, "dots", []byte("n1:100"))
}

func testScanMeta(t *testing.T, e storage.Engine) {
	names := []string{"a", "a/1", "a/2", "a/2/x", "a\x00", "a0", "b", "keyspace/carts", "keyspace/users", "\xff", "\xff\xff", "\xff\xff\x00"}
	var b record.Batch
	// Written in reverse order, so that order must come from the engine.
	for i := len(names) - 1; i >= 0; i-- {
		b.Meta = append(b.Meta, record.MetaWrite{Name: names[i], Value: []byte("v:" + names[i])})
	}
	commit(t, e, &b)
	scanMeta := func(prefix string) []string {
		t.Helper()
		var got []string
		if err := e.ScanMeta(prefix, func(name string, value []byte) bool {
			if string(value) != "v:"+name {
				t.Fatalf("ScanMeta(%q): %q has value %q", prefix, name, value)
			}
			got = append(got, name)
			return true
		}); err != nil {
			t.Fatalf("ScanMeta(%q): %v", prefix, err)
		}
		return got
	}
	sorted := []string{"a", "a\x00", "a/1", "a/2", "a/2/x", "a0", "b", "keyspace/carts", "keyspace/users", "\xff", "\xff\xff", "\xff\xff\x00"}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", sorted},
		{"a", sorted[:6]},
		{"a/", []string{"a/1", "a/2", "a/2/x"}},
		{"a/2", []string{"a/2", "a/2/x"}},
		{"keyspace/", []string{"keyspace/carts", "keyspace/users"}},
		{"\xff", []string{"\xff", "\xff\xff", "\xff\xff\x00"}},
		{"\xff\xff", []string{"\xff\xff", "\xff\xff\x00"}},
		{"c", nil},
		{"zzz", nil},
	}
	for _, c := range cases {
		if got := scanMeta(c.prefix); !slices.Equal(got, c.want) {
			t.Fatalf("ScanMeta(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
	calls := 0
	if err := e.ScanMeta("", func(string, []byte) bool { calls++; return calls < 3 }); err != nil {
		t.Fatalf("ScanMeta: %v", err)
	}
	if calls != 3 {
		t.Fatalf("ScanMeta stopped after %d calls, want 3", calls)
	}
}
