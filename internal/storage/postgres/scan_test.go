package postgres

import (
	"fmt"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

// TestScanAcrossPages scans more rows than one cursor page holds: order, start and
// early stop work across page boundaries, and the whole scan sees the snapshot it
// started with even though a callback commits changes to rows of later pages.
func TestScanAcrossPages(t *testing.T) {
	e := openTest(t, Options{})
	const n = 3*scanPage + 17
	key := func(i int) object.Key { return object.Key{Keyspace: "pages", Key: fmt.Sprintf("k%05d", i)} }
	var b record.Batch
	for i := range n {
		b.Objects = append(b.Objects, record.ObjectWrite{Key: key(i), Object: reg("old")})
		b.Hints = append(b.Hints, record.Hint{ID: uint64(i + 1), Target: "n2", Key: key(i), Object: reg("h"), ExpiresAt: 1})
	}
	if err := e.Commit(&b); err != nil {
		t.Fatal(err)
	}
	i := 0
	err := e.ScanObjects("pages", "", func(k object.Key, o object.Object) bool {
		if k != key(i) {
			t.Fatalf("row %d is %s", i, k)
		}
		if v := string(o.Siblings[0].Value); v != "old" {
			t.Fatalf("row %d holds %q: the scan saw a commit made after it began", i, v)
		}
		if i == 10 { // rewrite every later row, from inside the scan
			var w record.Batch
			for j := 11; j < n; j++ {
				w.Objects = append(w.Objects, record.ObjectWrite{Key: key(j), Object: reg("new")})
			}
			w.Objects = append(w.Objects, record.ObjectWrite{Key: key(n - 1), Purge: true})
			if err := e.Commit(&w); err != nil {
				t.Fatal(err)
			}
		}
		i++
		return true
	})
	if err != nil || i != n {
		t.Fatalf("scan visited %d rows, %v; want %d", i, err, n)
	}
	if got := scanKeysFrom(t, e, key(scanPage+5).Key, 2*scanPage); len(got) != 2*scanPage || got[0] != key(scanPage+5).Key {
		t.Fatalf("scan from the middle of page 2 visited %d keys from %v", len(got), got[:1])
	}
	// Hints: delivered one at a time while being scanned, as handoff does.
	seen := 0
	if err := e.ScanHints("n2", func(h record.Hint) bool {
		seen++
		if h.ID != uint64(seen) {
			t.Fatalf("hint %d has id %d", seen, h.ID)
		}
		return e.Commit(&record.Batch{HintDeletes: []uint64{h.ID}}) == nil
	}); err != nil || seen != n {
		t.Fatalf("ScanHints visited %d, %v; want %d", seen, err, n)
	}
	if err := e.ScanHints("", func(h record.Hint) bool { t.Fatalf("hint %d not delivered", h.ID); return false }); err != nil {
		t.Fatal(err)
	}
}

// scanKeysFrom returns at most limit keys of keyspace "pages" from start on.
func scanKeysFrom(t *testing.T, e *Engine, start string, limit int) []string {
	t.Helper()
	var keys []string
	if err := e.ScanObjects("pages", start, func(k object.Key, _ object.Object) bool {
		keys = append(keys, k.Key)
		return len(keys) < limit
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}
