package storagetest

import (
	"fmt"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

var hintTests = []test{
	{"Hints", testHints},
	{"HintDeletes", testHintDeletes},
	{"HintReplace", testHintReplace},
}

// hint returns a hint for target with the given id, carrying a distinct object.
func hint(target string, id uint64) record.Hint {
	key := object.Key{Keyspace: "ks", Key: fmt.Sprintf("key\x00%d", id)}
	obj := register(fmt.Sprintf("for %s #%d", target, id), "n9", id)
	if id%3 == 0 {
		obj = fixtures()["siblings"]
	}
	return record.Hint{
		ID:        id,
		Target:    target,
		Key:       key,
		Object:    obj,
		CreatedAt: 1_700_000_000_000 + int64(id),
		ExpiresAt: 1_700_010_800_000 + int64(id),
	}
}

func testHints(t *testing.T, e storage.Engine) {
	if hs := hints(t, e, ""); len(hs) != 0 {
		t.Fatalf("hints of an empty engine: %v", hintIDs(hs))
	}
	// Targets that are prefixes of each other, ids stored out of order, over batches.
	commit(t, e, &record.Batch{Hints: []record.Hint{hint("n1", 7), hint("n1x", 2), hint("n2", 300)}})
	commit(t, e, &record.Batch{Hints: []record.Hint{hint("n1", 1), hint("n1", 1<<40), hint("n2", 4)}})
	commit(t, e, &record.Batch{Hints: []record.Hint{hint("n1", 256), hint("n\xff", 5), hint("a", 6)}})

	wantHints(t, "ScanHints(n1)", hints(t, e, "n1"),
		[]record.Hint{hint("n1", 1), hint("n1", 7), hint("n1", 256), hint("n1", 1<<40)})
	wantHints(t, "ScanHints(n1x)", hints(t, e, "n1x"), []record.Hint{hint("n1x", 2)})
	wantHints(t, "ScanHints(n2)", hints(t, e, "n2"), []record.Hint{hint("n2", 4), hint("n2", 300)})
	wantHints(t, "ScanHints(nobody)", hints(t, e, "nobody"), nil)
	wantHints(t, "ScanHints(n)", hints(t, e, "n"), nil)
	wantHints(t, "ScanHints(all)", hints(t, e, ""), []record.Hint{
		hint("a", 6),
		hint("n1", 1), hint("n1", 7), hint("n1", 256), hint("n1", 1<<40),
		hint("n1x", 2),
		hint("n2", 4), hint("n2", 300),
		hint("n\xff", 5),
	})

	calls := 0
	if err := e.ScanHints("n1", func(record.Hint) bool { calls++; return false }); err != nil {
		t.Fatalf("ScanHints: %v", err)
	}
	if calls != 1 {
		t.Fatalf("ScanHints stopped after %d calls, want 1", calls)
	}
	// Hints are not objects.
	if ks, err := e.Keyspaces(); err != nil || len(ks) != 0 {
		t.Fatalf("Keyspaces with only hints stored = %q, %v", ks, err)
	}
}

func testHintDeletes(t *testing.T, e storage.Engine) {
	var b record.Batch
	for id := uint64(1); id <= 6; id++ {
		b.Hints = append(b.Hints, hint(fmt.Sprintf("n%d", id%2), id))
	}
	commit(t, e, &b)
	commit(t, e, &record.Batch{HintDeletes: []uint64{2, 5, 999}}) // 999 was never stored
	wantHints(t, "after deleting 2 and 5", hints(t, e, ""),
		[]record.Hint{hint("n0", 4), hint("n0", 6), hint("n1", 1), hint("n1", 3)})
	// Deleting again, and deleting everything else, is fine.
	commit(t, e, &record.Batch{HintDeletes: []uint64{2, 5}})
	commit(t, e, &record.Batch{HintDeletes: []uint64{1, 3, 4, 6}})
	wantHints(t, "after deleting all", hints(t, e, ""), nil)

	// In one batch, Hints apply before HintDeletes: storing and deleting an id leaves
	// nothing; a delete of an id stored by an earlier batch applies too.
	commit(t, e, &record.Batch{Hints: []record.Hint{hint("n1", 10), hint("n2", 11)}})
	commit(t, e, &record.Batch{
		Hints:       []record.Hint{hint("n1", 12), hint("n2", 13)},
		HintDeletes: []uint64{12, 10},
	})
	wantHints(t, "store and delete in one batch", hints(t, e, ""), []record.Hint{hint("n2", 11), hint("n2", 13)})

	// A deleted id may be stored again.
	commit(t, e, &record.Batch{Hints: []record.Hint{hint("n1", 10)}})
	wantHints(t, "re-stored after delete", hints(t, e, "n1"), []record.Hint{hint("n1", 10)})
}

func testHintReplace(t *testing.T, e storage.Engine) {
	commit(t, e, &record.Batch{Hints: []record.Hint{hint("n1", 1), hint("n1", 2)}})
	// The same id for the same target replaces the hint.
	h := hint("n1", 2)
	h.Object = fixtures()["tombstone"]
	h.ExpiresAt++
	commit(t, e, &record.Batch{Hints: []record.Hint{h}})
	wantHints(t, "replaced", hints(t, e, ""), []record.Hint{hint("n1", 1), h})

	// The same id for another target moves it.
	moved := hint("n3", 2)
	commit(t, e, &record.Batch{Hints: []record.Hint{moved}})
	wantHints(t, "moved: n1", hints(t, e, "n1"), []record.Hint{hint("n1", 1)})
	wantHints(t, "moved: n3", hints(t, e, "n3"), []record.Hint{moved})

	// Within one batch, the last hint with an id wins.
	commit(t, e, &record.Batch{Hints: []record.Hint{hint("n4", 3), hint("n5", 3), hint("n4", 4)}})
	wantHints(t, "last in batch wins", hints(t, e, ""),
		[]record.Hint{hint("n1", 1), moved, hint("n4", 4), hint("n5", 3)})

	// A delete by id finds the hint wherever it moved.
	commit(t, e, &record.Batch{HintDeletes: []uint64{2, 3}})
	wantHints(t, "deleted after moves", hints(t, e, ""), []record.Hint{hint("n1", 1), hint("n4", 4)})
}
