package pebble

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

// errFsync is the error injected into write-ahead log syncs.
var errFsync = errors.New("injected: fsync: input/output error")

// failingWAL returns fs wrapped so that, while the toggle is on, every sync of a
// write-ahead log file fails.
func failingWAL(fs vfs.FS) (vfs.FS, *atomic.Bool) {
	var on atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !on.Load() || !strings.HasSuffix(op.Path, ".log") {
			return nil
		}
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			return errFsync
		}
		return nil
	})
	return errorfs.Wrap(fs, inj), &on
}

func oneObject(key, value string) *record.Batch {
	return &record.Batch{Objects: []record.ObjectWrite{{
		Key:    object.Key{Keyspace: "ks", Key: key},
		Object: object.Object{Siblings: []object.Sibling{{Value: []byte(value)}}},
	}}}
}

// TestWALSyncFailure checks that a failed fsync is reported, never acknowledged, and
// fails the engine, for plain commits and for commits with hints (which take another
// path through Pebble).
func TestWALSyncFailure(t *testing.T) {
	for _, withHint := range []bool{false, true} {
		t.Run(fmt.Sprintf("hint=%v", withHint), func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			fs, failing := failingWAL(mem)
			e, err := Open("db", Options{fs: fs})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if err := e.Commit(oneObject("before", "1")); err != nil {
				t.Fatal(err)
			}
			failing.Store(true)
			b := oneObject("during", "2")
			if withHint {
				b.Hints = []record.Hint{{ID: 1, Target: "n2", Key: object.Key{Keyspace: "ks", Key: "during"}}}
			}
			err = e.Commit(b)
			if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), errFsync.Error()) {
				t.Fatalf("Commit with a failing fsync: %v; want ErrFailed naming the cause", err)
			}
			// The engine refuses to serve what may not be durable, or anything else.
			if _, _, err := e.Get(object.Key{Keyspace: "ks", Key: "during"}); !errors.Is(err, ErrFailed) {
				t.Fatalf("Get after a failed fsync: %v, want ErrFailed", err)
			}
			if err := e.Commit(oneObject("after", "3")); !errors.Is(err, ErrFailed) {
				t.Fatalf("Commit after a failed fsync: %v, want ErrFailed", err)
			}
			crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
			if err := e.Close(); !errors.Is(err, ErrFailed) {
				t.Fatalf("Close of a failed engine: %v, want ErrFailed", err)
			}
			if err := e.Close(); err != nil {
				t.Fatalf("second Close of a failed engine: %v", err)
			}

			// What was acknowledged is on disk; the failed write is not.
			e2, err := Open("db", Options{fs: crashed})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer e2.Close()
			if _, found, err := e2.Get(object.Key{Keyspace: "ks", Key: "before"}); err != nil || !found {
				t.Fatalf("acknowledged write after reopen: found=%v err=%v", found, err)
			}
			if _, found, _ := e2.Get(object.Key{Keyspace: "ks", Key: "during"}); found {
				t.Fatalf("the write whose fsync failed survived the crash")
			}
		})
	}
}

// TestConcurrentSyncFailure fails an fsync while many goroutines commit: none of them
// may see success for a write that was not synced.
func TestConcurrentSyncFailure(t *testing.T) {
	mem := vfs.NewCrashableMem()
	fs, failing := failingWAL(mem)
	e, err := Open("db", Options{fs: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var acked sync.Map
	var wg sync.WaitGroup
	var commits atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("g%d-%d", g, i)
				if commits.Add(1) == 100 {
					failing.Store(true)
				}
				if err := e.Commit(oneObject(key, "v")); err != nil {
					if !errors.Is(err, ErrFailed) {
						t.Errorf("Commit: %v", err)
					}
					return
				}
				acked.Store(key, true)
			}
		}()
	}
	wg.Wait()
	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	_ = e.Close()
	e2, err := Open("db", Options{fs: crashed})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer e2.Close()
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		if _, found, err := e2.Get(object.Key{Keyspace: "ks", Key: k.(string)}); err != nil || !found {
			t.Errorf("acknowledged %s lost in the crash (found=%v err=%v)", k, found, err)
		}
		return true
	})
	t.Logf("%d commits acknowledged before the failure, all present after the crash", n)
}

// TestCrashKeepsSyncedCommits crashes the file system (dropping everything not
// fsynced) while writers commit with storage.Sync: every acknowledged commit survives,
// hints and repair log included.
func TestCrashKeepsSyncedCommits(t *testing.T) {
	mem := vfs.NewCrashableMem()
	e, err := Open("db", Options{fs: mem})
	if err != nil {
		t.Fatal(err)
	}
	var acked sync.Map
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				key := fmt.Sprintf("g%d-%d", g, i)
				b := oneObject(key, "v")
				b.Hints = []record.Hint{{ID: uint64(g<<32 | i), Target: "n2", Key: object.Key{Keyspace: "ks", Key: key}}}
				if err := e.Commit(b); err != nil {
					t.Errorf("Commit: %v", err)
					return
				}
				acked.Store(key, uint64(g<<32|i))
			}
		}()
	}
	for {
		n := 0
		acked.Range(func(any, any) bool { n++; return n < 300 })
		if n >= 300 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Snapshot what was acknowledged, then crash.
	before := map[string]uint64{}
	acked.Range(func(k, v any) bool { before[k.(string)] = v.(uint64); return true })
	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	stop.Store(true)
	wg.Wait()
	_ = e.Close()

	e2, err := Open("db", Options{fs: crashed})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer e2.Close()
	hintIDs := map[uint64]bool{}
	if err := e2.ScanHints("n2", func(h record.Hint) bool { hintIDs[h.ID] = true; return true }); err != nil {
		t.Fatal(err)
	}
	for k, id := range before {
		if _, found, err := e2.Get(object.Key{Keyspace: "ks", Key: k}); err != nil || !found {
			t.Fatalf("acknowledged %s lost in the crash (found=%v err=%v)", k, found, err)
		}
		if !hintIDs[id] {
			t.Fatalf("acknowledged hint %d lost in the crash", id)
		}
	}
	t.Logf("%d acknowledged commits survived the crash", len(before))
}

// TestCrashRepairSequence checks that after a crash the repair log's sequence resumes
// after the newest surviving entry.
func TestCrashRepairSequence(t *testing.T) {
	mem := vfs.NewCrashableMem()
	e, err := Open("db", Options{fs: mem})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := e.Commit(&record.Batch{Repairs: []record.Repair{{StaleNode: "n", RepairedAt: int64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	_ = e.Close()
	e2, err := Open("db", Options{fs: crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if err := e2.Commit(&record.Batch{Repairs: []record.Repair{{StaleNode: "n", RepairedAt: 5}}}); err != nil {
		t.Fatal(err)
	}
	rs, err := e2.RecentRepairs(10)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.RepairedAt != int64(5-i) {
			t.Fatalf("RecentRepairs after crash = %+v", rs)
		}
	}
	if len(rs) != 6 {
		t.Fatalf("RecentRepairs after crash: %d entries, want 6", len(rs))
	}
}
