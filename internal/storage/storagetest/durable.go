package storagetest

import (
	"slices"
	"sort"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// RunDurable checks that an engine keeps what was committed across Close and a reopen
// of the same directory: objects (odd keys included), purges, metadata, hints and hint
// deletions, and the read-repair log, whose sequence continues after the restart and
// whose retention holds across it. open opens the engine stored in dir (creating it if
// needed); RunDurable closes what it opens.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) storage.Engine) {
	dir := t.TempDir()
	session := func(name string, fn func(t *testing.T, e storage.Engine)) {
		t.Helper()
		ok := t.Run(name, func(t *testing.T) {
			e := open(t, dir)
			defer func() {
				if err := e.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			fn(t, e)
		})
		if !ok {
			t.FailNow()
		}
	}
	fx := fixtures()
	names := make([]string, 0, len(fx))
	for name := range fx {
		names = append(names, name)
	}
	sort.Strings(names)

	session("write", func(t *testing.T, e storage.Engine) {
		var b record.Batch
		for _, name := range names {
			b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "fx", Key: name}, Object: fx[name]})
		}
		for i, k := range oddKeys {
			b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "odd", Key: k}, Object: register(k, "n1", uint64(i+1))})
		}
		b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "doomed", Key: "x"}, Object: register("x", "n1", 1)})
		b.Meta = []record.MetaWrite{{Name: "hlc", Value: []byte{1, 2, 3}}, {Name: "members/n2", Value: []byte("10.0.0.2")}}
		b.Hints = []record.Hint{hint("n2", 1), hint("n2", 2), hint("n3", 3), hint("n3", 4)}
		b.Repairs = repairRange(0, 5)
		commit(t, e, &b)
		commit(t, e, &record.Batch{
			Objects:     []record.ObjectWrite{{Key: object.Key{Keyspace: "doomed", Key: "x"}, Purge: true}},
			HintDeletes: []uint64{2},
		})
	})

	session("reopen", func(t *testing.T, e storage.Engine) {
		for _, name := range names {
			wantObject(t, e, object.Key{Keyspace: "fx", Key: name}, fx[name])
		}
		want := append([]string(nil), oddKeys...)
		sort.Strings(want)
		if got := scanKeys(t, e, "odd", ""); !slices.Equal(got, want) {
			t.Fatalf("ScanObjects(odd) after reopen = %q, want %q", got, want)
		}
		wantMissing(t, e, object.Key{Keyspace: "doomed", Key: "x"})
		ks, err := e.Keyspaces()
		if err != nil || !slices.Equal(ks, []string{"fx", "odd"}) {
			t.Fatalf("Keyspaces after reopen = %q, %v; want [fx odd]", ks, err)
		}
		wantMeta(t, e, "hlc", []byte{1, 2, 3})
		wantMeta(t, e, "members/n2", []byte("10.0.0.2"))
		wantHints(t, "hints after reopen", hints(t, e, ""), []record.Hint{hint("n2", 1), hint("n3", 3), hint("n3", 4)})
		wantRepairs(t, "repairs after reopen", repairs(t, e, 100), 4, 5)

		// The repair log continues after the entries from before the restart; the hint
		// index survived, so deletes by id still work.
		commit(t, e, &record.Batch{Repairs: repairRange(5, 7), HintDeletes: []uint64{3}})
		wantRepairs(t, "repairs appended after reopen", repairs(t, e, 100), 6, 7)
		wantHints(t, "hints deleted after reopen", hints(t, e, ""), []record.Hint{hint("n2", 1), hint("n3", 4)})
	})

	session("retention", func(t *testing.T, e storage.Engine) {
		wantRepairs(t, "repairs after second reopen", repairs(t, e, 100), 6, 7)
		wantHints(t, "hints after second reopen", hints(t, e, ""), []record.Hint{hint("n2", 1), hint("n3", 4)})
		// Fill the window across the restart: 7 from before plus DefaultMaxRepairs now.
		const keep = storage.DefaultMaxRepairs
		for from := 7; from < 7+keep; from += 1000 {
			commit(t, e, &record.Batch{Repairs: repairRange(from, min(from+1000, 7+keep))})
		}
		wantRepairs(t, "repairs past retention", repairs(t, e, 2*keep), 6+keep, keep)
	})

	session("final", func(t *testing.T, e storage.Engine) {
		const keep = storage.DefaultMaxRepairs
		wantRepairs(t, "repairs past retention after reopen", repairs(t, e, 2*keep), 6+keep, keep)
		commit(t, e, &record.Batch{Repairs: repairRange(7+keep, 8+keep)})
		wantRepairs(t, "repairs appended last", repairs(t, e, 2*keep), 7+keep, keep)
		for i, k := range oddKeys {
			wantObject(t, e, object.Key{Keyspace: "odd", Key: k}, register(k, "n1", uint64(i+1)))
		}
	})
}
