package storagetest

import (
	"slices"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/version"
)

var batchTests = []test{
	{"EmptyBatch", testEmptyBatch},
	{"MixedBatch", testMixedBatch},
	{"CallerMutatesInput", testCallerMutatesInput},
	{"CallerMutatesOutput", testCallerMutatesOutput},
	{"CallbackReentry", testCallbackReentry},
	{"Closed", testClosed},
}

func testEmptyBatch(t *testing.T, e storage.Engine) {
	commit(t, e, &record.Batch{})
	var b record.Batch
	b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "ks", Key: "k"}, Object: register("v", "n1", 1)})
	commit(t, e, &b)
	b.Reset()
	commit(t, e, &b)
	wantObject(t, e, object.Key{Keyspace: "ks", Key: "k"}, register("v", "n1", 1))
}

func testMixedBatch(t *testing.T, e storage.Engine) {
	k := object.Key{Keyspace: "ks", Key: "k"}
	commit(t, e, &record.Batch{
		Objects:     []record.ObjectWrite{{Key: k, Object: register("v", "n1", 1)}},
		Meta:        []record.MetaWrite{{Name: "hlc", Value: []byte("1")}},
		Hints:       []record.Hint{hint("n2", 1), hint("n3", 2)},
		HintDeletes: []uint64{2},
		Repairs:     repairRange(0, 2),
	})
	wantObject(t, e, k, register("v", "n1", 1))
	wantMeta(t, e, "hlc", []byte("1"))
	wantHints(t, "hints", hints(t, e, ""), []record.Hint{hint("n2", 1)})
	wantRepairs(t, "repairs", repairs(t, e, 10), 1, 2)
}

func testCallerMutatesInput(t *testing.T, e storage.Engine) {
	k := object.Key{Keyspace: "ks", Key: "k"}
	obj := fixtures()["siblings"]
	h := hint("n2", 1)
	meta := []byte("meta")
	b := record.Batch{
		Objects: []record.ObjectWrite{{Key: k, Object: obj}},
		Meta:    []record.MetaWrite{{Name: "m", Value: meta}},
		Hints:   []record.Hint{h},
	}
	commit(t, e, &b)

	// Scribble over everything that was passed in, then reuse the batch.
	obj.Siblings[0].Value[0] = 'X'
	obj.Siblings[1].Dot.Counter = 99
	obj.Context[0] = version.Dot{Actor: "zz", Counter: 1}
	h.Object.Siblings[0].Value[0] = 'X'
	meta[0] = 'X'
	b.Reset()
	b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "ks", Key: "other"}, Object: register("o", "n1", 1)})
	commit(t, e, &b)

	wantObject(t, e, k, fixtures()["siblings"])
	wantMeta(t, e, "m", []byte("meta"))
	wantHints(t, "hints", hints(t, e, "n2"), []record.Hint{hint("n2", 1)})
}

func testCallerMutatesOutput(t *testing.T, e storage.Engine) {
	k := object.Key{Keyspace: "ks", Key: "k"}
	commit(t, e, &record.Batch{
		Objects: []record.ObjectWrite{{Key: k, Object: fixtures()["siblings"]}},
		Meta:    []record.MetaWrite{{Name: "m", Value: []byte("meta")}},
		Hints:   []record.Hint{hint("n2", 1)},
	})
	scribble := func(o object.Object) {
		o.Siblings[0].Value[0] = 'X'
		o.Siblings[0].Dot.Counter = 99
		o.Context[0].Counter = 99
	}

	got, _ := mustGet(t, e, k)
	scribble(got)
	wantObject(t, e, k, fixtures()["siblings"])

	if err := e.ScanObjects("ks", "", func(_ object.Key, o object.Object) bool { scribble(o); return true }); err != nil {
		t.Fatalf("ScanObjects: %v", err)
	}
	wantObject(t, e, k, fixtures()["siblings"])

	v, _, err := e.GetMeta("m")
	if err != nil {
		t.Fatalf("GetMeta: %v", err)
	}
	v[0] = 'X'
	if err := e.ScanMeta("", func(_ string, v []byte) bool { v[0] = 'Y'; return true }); err != nil {
		t.Fatalf("ScanMeta: %v", err)
	}
	wantMeta(t, e, "m", []byte("meta"))

	if err := e.ScanHints("", func(h record.Hint) bool { scribble(h.Object); return true }); err != nil {
		t.Fatalf("ScanHints: %v", err)
	}
	wantHints(t, "hints", hints(t, e, ""), []record.Hint{hint("n2", 1)})

	commit(t, e, &record.Batch{Repairs: repairRange(0, 2)})
	rs := repairs(t, e, 10)
	rs[0] = record.Repair{}
	wantRepairs(t, "repairs", repairs(t, e, 10), 1, 2)
}

// testCallbackReentry calls the engine from inside scan callbacks.
func testCallbackReentry(t *testing.T, e storage.Engine) {
	var b record.Batch
	for i, k := range []string{"a", "b", "c"} {
		b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "ks", Key: k}, Object: register(k, "n1", uint64(i+1))})
	}
	b.Meta = []record.MetaWrite{{Name: "m1", Value: []byte("1")}, {Name: "m2", Value: []byte("2")}}
	b.Hints = []record.Hint{hint("n2", 1), hint("n2", 2)}
	commit(t, e, &b)

	if err := e.ScanObjects("ks", "", func(k object.Key, o object.Object) bool {
		wantObject(t, e, k, o)
		put(t, e, object.Key{Keyspace: "copy", Key: k.Key}, o)
		return true
	}); err != nil {
		t.Fatalf("ScanObjects: %v", err)
	}
	if got := scanKeys(t, e, "copy", ""); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("objects written from a scan callback: %q", got)
	}
	if err := e.ScanMeta("m", func(name string, v []byte) bool {
		commit(t, e, &record.Batch{Meta: []record.MetaWrite{{Name: "copy/" + name, Value: v}}})
		return true
	}); err != nil {
		t.Fatalf("ScanMeta: %v", err)
	}
	wantMeta(t, e, "copy/m2", []byte("2"))
	// Deliver hints the way handoff does: delete each from inside the scan.
	if err := e.ScanHints("n2", func(h record.Hint) bool {
		commit(t, e, &record.Batch{HintDeletes: []uint64{h.ID}})
		return true
	}); err != nil {
		t.Fatalf("ScanHints: %v", err)
	}
	wantHints(t, "after delivering", hints(t, e, ""), nil)
}

func testClosed(t *testing.T, e storage.Engine) {
	k := object.Key{Keyspace: "ks", Key: "k"}
	put(t, e, k, register("v", "n1", 1))
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, _, err := e.Get(k)
	wantErr(t, "Get after Close", err, storage.ErrClosed)
	wantErr(t, "Commit after Close", e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: k, Purge: true}}}), storage.ErrClosed)
	wantErr(t, "ScanObjects after Close", e.ScanObjects("ks", "", func(object.Key, object.Object) bool { return true }), storage.ErrClosed)
	_, err = e.Keyspaces()
	wantErr(t, "Keyspaces after Close", err, storage.ErrClosed)
	_, _, err = e.GetMeta("m")
	wantErr(t, "GetMeta after Close", err, storage.ErrClosed)
	wantErr(t, "ScanMeta after Close", e.ScanMeta("", func(string, []byte) bool { return true }), storage.ErrClosed)
	wantErr(t, "ScanHints after Close", e.ScanHints("", func(record.Hint) bool { return true }), storage.ErrClosed)
	_, err = e.RecentRepairs(1)
	wantErr(t, "RecentRepairs after Close", err, storage.ErrClosed)
}
