package storagetest

import (
	"fmt"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

var repairTests = []test{
	{"Repairs", testRepairs},
	{"RepairRetention", testRepairRetention},
}

// repair returns the i-th repair log entry of a test.
func repair(i int) record.Repair {
	return record.Repair{
		Key:        object.Key{Keyspace: fmt.Sprintf("ks%d", i%3), Key: fmt.Sprintf("k\x00%d", i)},
		StaleNode:  fmt.Sprintf("n%d", i%5),
		RepairedAt: 1_700_000_000_000 + int64(i),
	}
}

// repairRange returns repair(from) .. repair(to-1).
func repairRange(from, to int) []record.Repair {
	var out []record.Repair
	for i := from; i < to; i++ {
		out = append(out, repair(i))
	}
	return out
}

// wantRepairs checks that got is repair(newest), repair(newest-1), ... (len n).
func wantRepairs(t *testing.T, what string, got []record.Repair, newest, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%s: %d entries, want %d", what, len(got), n)
	}
	for i, r := range got {
		if want := repair(newest - i); r != want {
			t.Fatalf("%s: entry %d = %+v, want %+v", what, i, r, want)
		}
	}
}

func testRepairs(t *testing.T, e storage.Engine) {
	if rs := repairs(t, e, 10); len(rs) != 0 {
		t.Fatalf("RecentRepairs of an empty engine = %+v", rs)
	}
	commit(t, e, &record.Batch{Repairs: repairRange(0, 5)})
	commit(t, e, &record.Batch{Repairs: repairRange(5, 8)})
	wantRepairs(t, "RecentRepairs(100)", repairs(t, e, 100), 7, 8)
	wantRepairs(t, "RecentRepairs(8)", repairs(t, e, 8), 7, 8)
	wantRepairs(t, "RecentRepairs(3)", repairs(t, e, 3), 7, 3)
	wantRepairs(t, "RecentRepairs(1)", repairs(t, e, 1), 7, 1)
	wantRepairs(t, "RecentRepairs(0)", repairs(t, e, 0), 7, 0)
	wantRepairs(t, "RecentRepairs(-1)", repairs(t, e, -1), 7, 0)
	// Repairs mixed with other writes.
	commit(t, e, &record.Batch{
		Objects: []record.ObjectWrite{{Key: repair(8).Key, Object: register("v", "n1", 1)}},
		Repairs: repairRange(8, 9),
	})
	wantRepairs(t, "after a mixed batch", repairs(t, e, 100), 8, 9)
}

func testRepairRetention(t *testing.T, e storage.Engine) {
	const keep = storage.DefaultMaxRepairs
	total := 0
	appendN := func(n int) {
		t.Helper()
		commit(t, e, &record.Batch{Repairs: repairRange(total, total+n)})
		total += n
	}
	appendN(keep - 3)
	wantRepairs(t, "below retention", repairs(t, e, 2*keep), total-1, total)
	appendN(1)
	appendN(10) // crosses the limit
	wantRepairs(t, "just past retention", repairs(t, e, 2*keep), total-1, keep)
	for range 5 {
		appendN(1)
	}
	appendN(keep / 2)
	wantRepairs(t, "well past retention", repairs(t, e, 2*keep), total-1, keep)
	appendN(keep + 7) // one batch larger than the whole window
	wantRepairs(t, "batch larger than retention", repairs(t, e, 2*keep), total-1, keep)
	wantRepairs(t, "limit within retention", repairs(t, e, 10), total-1, 10)
}
