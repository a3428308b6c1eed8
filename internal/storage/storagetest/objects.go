package storagetest

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

var objectTests = []test{
	{"GetMissing", testGetMissing},
	{"RoundTrip", testRoundTrip},
	{"Overwrite", testOverwrite},
	{"Purge", testPurge},
	{"ZeroObject", testZeroObject},
	{"OddKeys", testOddKeys},
	{"Keyspaces", testKeyspaces},
	{"ScanOrderStartStop", testScanOrderStartStop},
	{"InvalidNames", testInvalidNames},
}

func testGetMissing(t *testing.T, e storage.Engine) {
	wantMissing(t, e, object.Key{Keyspace: "ks", Key: "nothing"})
	put(t, e, object.Key{Keyspace: "ks", Key: "a"}, register("v", "n1", 1))
	wantMissing(t, e, object.Key{Keyspace: "ks", Key: "b"})
	wantMissing(t, e, object.Key{Keyspace: "other", Key: "a"})
	wantMissing(t, e, object.Key{Keyspace: "k", Key: "sa"})
}

func testRoundTrip(t *testing.T, e storage.Engine) {
	fx := fixtures()
	var b record.Batch
	for name, obj := range fx {
		b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "fx", Key: name}, Object: obj})
	}
	commit(t, e, &b)
	for name, obj := range fx {
		wantObject(t, e, object.Key{Keyspace: "fx", Key: name}, obj)
	}
	// And one at a time, through scans.
	for _, ent := range scan(t, e, "fx", "") {
		want, ok := fx[ent.key.Key]
		if !ok {
			t.Fatalf("scan visited unknown key %q", ent.key)
		}
		if !object.Equal(ent.obj, want) {
			t.Fatalf("scan: %q = %s, want %s", ent.key, show(ent.obj), show(want))
		}
		delete(fx, ent.key.Key)
	}
	if len(fx) != 0 {
		t.Fatalf("scan missed %d objects", len(fx))
	}
}

func testOverwrite(t *testing.T, e storage.Engine) {
	k := object.Key{Keyspace: "ks", Key: "k"}
	fx := fixtures()
	put(t, e, k, fx["siblings"])
	put(t, e, k, fx["register"])
	wantObject(t, e, k, fx["register"])
	put(t, e, k, fx["tombstone"])
	wantObject(t, e, k, fx["tombstone"])

	// Within one batch the later write wins.
	commit(t, e, &record.Batch{Objects: []record.ObjectWrite{
		{Key: k, Object: fx["counter"]},
		{Key: k, Object: fx["expiring"]},
	}})
	wantObject(t, e, k, fx["expiring"])
	if n := len(scan(t, e, "ks", "")); n != 1 {
		t.Fatalf("scan after overwrites visits %d objects, want 1", n)
	}
}

func testPurge(t *testing.T, e storage.Engine) {
	k := object.Key{Keyspace: "ks", Key: "k"}
	other := object.Key{Keyspace: "ks", Key: "other"}
	put(t, e, k, fixtures()["tombstone"])
	put(t, e, other, register("v", "n1", 1))
	purge(t, e, k)
	wantMissing(t, e, k)
	wantObject(t, e, other, register("v", "n1", 1))
	if keys := scanKeys(t, e, "ks", ""); !slices.Equal(keys, []string{"other"}) {
		t.Fatalf("scan after purge = %q, want [other]", keys)
	}
	// Purging what is not there is fine.
	purge(t, e, k)
	purge(t, e, object.Key{Keyspace: "never", Key: "x"})

	// Order within a batch: write then purge removes; purge then write stores.
	commit(t, e, &record.Batch{Objects: []record.ObjectWrite{
		{Key: k, Object: register("a", "n1", 2)},
		{Key: k, Purge: true},
	}})
	wantMissing(t, e, k)
	commit(t, e, &record.Batch{Objects: []record.ObjectWrite{
		{Key: k, Purge: true},
		{Key: k, Object: register("b", "n1", 3)},
	}})
	wantObject(t, e, k, register("b", "n1", 3))

	// Purge wins over the object it carries.
	commit(t, e, &record.Batch{Objects: []record.ObjectWrite{{Key: k, Object: register("c", "n1", 4), Purge: true}}})
	wantMissing(t, e, k)
}

func testZeroObject(t *testing.T, e storage.Engine) {
	k := object.Key{Keyspace: "ks", Key: "zero"}
	put(t, e, k, object.Object{})
	got, found := mustGet(t, e, k)
	if !found || !got.IsZero() {
		t.Fatalf("Get after storing the zero object = %s, %v; want zero, true", show(got), found)
	}
}

// oddKeys are keys whose bytes stress a key layout: empty, NUL bytes (the separator of
// a typical layout), 0xff (the top byte), prefixes of each other.
var oddKeys = []string{
	"", "\x00", "\x00\x00", "\x00\xff", "\x01", "a", "a\x00", "a\x00b", "a\x01", "a\xff",
	"ab", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff",
}

func testOddKeys(t *testing.T, e storage.Engine) {
	var b record.Batch
	for i, k := range oddKeys {
		b.Objects = append(b.Objects, record.ObjectWrite{
			Key:    object.Key{Keyspace: "odd", Key: k},
			Object: register(fmt.Sprintf("v%d", i), "n1", uint64(i+1)),
		})
	}
	// Neighbouring keyspaces whose encodings could run into "odd"'s.
	for _, ks := range []string{"od", "odd\x01", "odd\xff", "odda", ""} {
		b.Objects = append(b.Objects, record.ObjectWrite{
			Key:    object.Key{Keyspace: ks, Key: "d\x00x"},
			Object: register("neighbour "+ks, "n2", 1),
		})
	}
	commit(t, e, &b)
	for i, k := range oddKeys {
		wantObject(t, e, object.Key{Keyspace: "odd", Key: k}, register(fmt.Sprintf("v%d", i), "n1", uint64(i+1)))
	}
	want := append([]string(nil), oddKeys...)
	sort.Strings(want)
	if got := scanKeys(t, e, "odd", ""); !slices.Equal(got, want) {
		t.Fatalf("ScanObjects(odd) = %q, want %q", got, want)
	}
	for i, start := range want {
		if got := scanKeys(t, e, "odd", start); !slices.Equal(got, want[i:]) {
			t.Fatalf("ScanObjects(odd, %q) = %q, want %q", start, got, want[i:])
		}
	}
	// The keyspace "od" must not see "odd"'s objects, though "od" + "d\x00x" would
	// spell the same bytes in a careless layout.
	if got := scanKeys(t, e, "od", ""); !slices.Equal(got, []string{"d\x00x"}) {
		t.Fatalf("ScanObjects(od) = %q, want [d\\x00x]", got)
	}
	wantMissing(t, e, object.Key{Keyspace: "od", Key: "d"})
	wantMissing(t, e, object.Key{Keyspace: "odd", Key: "d\x00x"})
}

func testKeyspaces(t *testing.T, e storage.Engine) {
	list := func() []string {
		t.Helper()
		ks, err := e.Keyspaces()
		if err != nil {
			t.Fatalf("Keyspaces: %v", err)
		}
		return ks
	}
	if ks := list(); len(ks) != 0 {
		t.Fatalf("Keyspaces of an empty engine = %q", ks)
	}
	names := []string{"b\xff", "a", "", "ab", "a\x01", "users", "carts"}
	var b record.Batch
	for i, ks := range names {
		for j := range 3 {
			b.Objects = append(b.Objects, record.ObjectWrite{
				Key:    object.Key{Keyspace: ks, Key: fmt.Sprintf("k%d", j)},
				Object: register(fmt.Sprintf("%s/%d", ks, j), "n1", uint64(10*i+j+1)),
			})
		}
	}
	commit(t, e, &b)
	want := append([]string(nil), names...)
	sort.Strings(want)
	if got := list(); !slices.Equal(got, want) {
		t.Fatalf("Keyspaces = %q, want %q", got, want)
	}
	// Keyspaces are isolated: the same key holds different objects.
	for i, ks := range names {
		wantObject(t, e, object.Key{Keyspace: ks, Key: "k1"}, register(fmt.Sprintf("%s/1", ks), "n1", uint64(10*i+2)))
		if got := scanKeys(t, e, ks, ""); !slices.Equal(got, []string{"k0", "k1", "k2"}) {
			t.Fatalf("ScanObjects(%q) = %q", ks, got)
		}
	}
	// A keyspace whose last object is purged is no longer listed.
	for j := range 3 {
		purge(t, e, object.Key{Keyspace: "ab", Key: fmt.Sprintf("k%d", j)})
	}
	want = []string{"", "a", "a\x01", "b\xff", "carts", "users"}
	if got := list(); !slices.Equal(got, want) {
		t.Fatalf("Keyspaces after emptying ab = %q, want %q", got, want)
	}
}

func testScanOrderStartStop(t *testing.T, e storage.Engine) {
	rng := rand.New(rand.NewSource(1))
	var keys []string
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("key-%03d", i*2)) // even numbers: room between
	}
	// Commit in random order, over several batches.
	perm := rng.Perm(len(keys))
	for len(perm) > 0 {
		n := min(len(perm), 1+rng.Intn(30))
		var b record.Batch
		for _, i := range perm[:n] {
			b.Objects = append(b.Objects, record.ObjectWrite{
				Key:    object.Key{Keyspace: "scan", Key: keys[i]},
				Object: register(keys[i], "n1", uint64(i+1)),
			})
		}
		commit(t, e, &b)
		perm = perm[n:]
	}
	got := scan(t, e, "scan", "")
	if len(got) != len(keys) {
		t.Fatalf("scan visited %d objects, want %d", len(got), len(keys))
	}
	for i, ent := range got {
		if ent.key.Key != keys[i] || string(ent.obj.Siblings[0].Value) != keys[i] {
			t.Fatalf("scan entry %d = %q (%s), want %q", i, ent.key.Key, show(ent.obj), keys[i])
		}
	}
	cases := []struct {
		start string
		first int // index in keys of the first key visited; len(keys) for none
	}{
		{"", 0},
		{"key-000", 0},
		{"key-001", 1},
		{"key-100", 50},
		{"key-101", 51},
		{"key-398", 199},
		{"key-399", 200},
		{"kez", 200},
		{"a", 0},
	}
	for _, c := range cases {
		if got := scanKeys(t, e, "scan", c.start); !slices.Equal(got, keys[c.first:]) {
			t.Fatalf("ScanObjects(start=%q) visited %d keys from %q, want from %q",
				c.start, len(got), first(got), first(keys[c.first:]))
		}
	}
	// Early stop: fn is not called again after it returns false.
	calls := 0
	if err := e.ScanObjects("scan", "key-010", func(object.Key, object.Object) bool {
		calls++
		return calls < 5
	}); err != nil {
		t.Fatalf("ScanObjects: %v", err)
	}
	if calls != 5 {
		t.Fatalf("scan stopped after %d calls, want 5", calls)
	}
	if got := scanKeys(t, e, "empty", ""); len(got) != 0 {
		t.Fatalf("scan of an empty keyspace = %q", got)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return s[0]
}

func testInvalidNames(t *testing.T, e storage.Engine) {
	bad := object.Key{Keyspace: "a\x00b", Key: "k"}
	good := object.Key{Keyspace: "a", Key: "b\x00k"}
	_, _, err := e.Get(bad)
	wantErr(t, "Get with a NUL in the keyspace", err, storage.ErrInvalid)
	err = e.ScanObjects(bad.Keyspace, "", func(object.Key, object.Object) bool { return true })
	wantErr(t, "ScanObjects with a NUL in the keyspace", err, storage.ErrInvalid)
	err = e.ScanHints("n\x00", func(record.Hint) bool { return true })
	wantErr(t, "ScanHints with a NUL in the target", err, storage.ErrInvalid)

	valid := record.Batch{
		Objects: []record.ObjectWrite{{Key: good, Object: register("v", "n1", 1)}},
		Meta:    []record.MetaWrite{{Name: "m", Value: []byte("v")}},
		Hints:   []record.Hint{{ID: 1, Target: "n2", Key: good, Object: register("v", "n1", 1)}},
		Repairs: []record.Repair{{Key: good, StaleNode: "n3", RepairedAt: 1}},
	}
	invalid := []struct {
		name string
		edit func(b *record.Batch)
	}{
		{"object keyspace with NUL", func(b *record.Batch) {
			b.Objects = append(b.Objects, record.ObjectWrite{Key: bad, Object: register("x", "n1", 2)})
		}},
		{"purge in keyspace with NUL", func(b *record.Batch) {
			b.Objects = append(b.Objects, record.ObjectWrite{Key: bad, Purge: true})
		}},
		{"empty hint target", func(b *record.Batch) {
			b.Hints = append(b.Hints, record.Hint{ID: 2, Target: "", Key: good})
		}},
		{"hint target with NUL", func(b *record.Batch) {
			b.Hints = append(b.Hints, record.Hint{ID: 2, Target: "n\x002", Key: good})
		}},
		{"hint key keyspace with NUL", func(b *record.Batch) {
			b.Hints = append(b.Hints, record.Hint{ID: 2, Target: "n2", Key: bad})
		}},
	}
	for _, c := range invalid {
		b := valid
		b.Objects = append([]record.ObjectWrite(nil), valid.Objects...)
		b.Hints = append([]record.Hint(nil), valid.Hints...)
		c.edit(&b)
		wantErr(t, "Commit with "+c.name, e.Commit(&b), storage.ErrInvalid)
		// Nothing of the rejected batch was applied.
		wantMissing(t, e, good)
		if _, found, err := e.GetMeta("m"); err != nil || found {
			t.Fatalf("%s: meta applied from a rejected batch (found=%v, err=%v)", c.name, found, err)
		}
		if hs := hints(t, e, ""); len(hs) != 0 {
			t.Fatalf("%s: hints applied from a rejected batch: %v", c.name, hintIDs(hs))
		}
		if rs := repairs(t, e, 10); len(rs) != 0 {
			t.Fatalf("%s: repairs applied from a rejected batch: %+v", c.name, rs)
		}
	}
	commit(t, e, &valid)
	wantObject(t, e, good, register("v", "n1", 1))
}
