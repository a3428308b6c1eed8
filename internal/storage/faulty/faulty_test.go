package faulty_test

import (
	"errors"
	"sync"
	"syscall"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/storage/faulty"
	"github.com/chorusdb/chorus/internal/storage/memory"
	"github.com/chorusdb/chorus/internal/storage/storagetest"
)

// A healthy wrapper is a conforming engine.
func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Engine {
		return faulty.Wrap(memory.New(memory.Options{}))
	})
}

func batch(key string) *record.Batch {
	return &record.Batch{
		Objects: []record.ObjectWrite{{Key: object.Key{Keyspace: "ks", Key: key}, Object: object.Object{Siblings: []object.Sibling{{Value: []byte(key)}}}}},
		Meta:    []record.MetaWrite{{Name: "last", Value: []byte(key)}},
		Hints:   []record.Hint{{ID: uint64(len(key)), Target: "n2", Key: object.Key{Keyspace: "ks", Key: key}}},
		Repairs: []record.Repair{{Key: object.Key{Keyspace: "ks", Key: key}, StaleNode: "n3"}},
	}
}

func found(t *testing.T, e storage.Engine, key string) bool {
	t.Helper()
	_, ok, err := e.Get(object.Key{Keyspace: "ks", Key: key})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return ok
}

func TestFailCommitsAppliesNothing(t *testing.T) {
	e := faulty.Wrap(memory.New(memory.Options{}))
	defer e.Close()
	if err := e.Commit(batch("a")); err != nil {
		t.Fatal(err)
	}
	e.FailCommits(syscall.ENOSPC)
	err := e.Commit(batch("bb"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Commit on a full disk: %v, want ENOSPC", err)
	}
	if found(t, e, "bb") {
		t.Fatal("a failed Commit applied its object")
	}
	if v, _, _ := e.GetMeta("last"); string(v) != "a" {
		t.Fatalf("a failed Commit applied its meta: %q", v)
	}
	if rs, _ := e.RecentRepairs(10); len(rs) != 1 {
		t.Fatalf("a failed Commit applied its repair: %+v", rs)
	}
	n := 0
	_ = e.ScanHints("", func(record.Hint) bool { n++; return true })
	if n != 1 {
		t.Fatalf("a failed Commit applied its hint: %d hints", n)
	}
	e.Heal()
	if err := e.Commit(batch("bb")); err != nil {
		t.Fatalf("Commit after Heal: %v", err)
	}
	if !found(t, e, "bb") {
		t.Fatal("Commit after Heal not applied")
	}
	if e.Commits() != 2 || e.FailedCommits() != 1 {
		t.Fatalf("Commits %d, FailedCommits %d; want 2, 1", e.Commits(), e.FailedCommits())
	}
}

func TestFailCommitsAfter(t *testing.T) {
	e := faulty.Wrap(memory.New(memory.Options{}))
	defer e.Close()
	e.FailCommitsAfter(2, nil)
	for i, key := range []string{"a", "bb", "ccc", "dddd"} {
		err := e.Commit(batch(key))
		if i < 2 && err != nil {
			t.Fatalf("commit %d: %v, want success", i, err)
		}
		if i >= 2 && !errors.Is(err, faulty.ErrInjected) {
			t.Fatalf("commit %d: %v, want ErrInjected", i, err)
		}
		if found(t, e, key) != (i < 2) {
			t.Fatalf("commit %d: applied=%v", i, !(i < 2))
		}
	}
}

func TestFailReads(t *testing.T) {
	e := faulty.Wrap(memory.New(memory.Options{}))
	defer e.Close()
	if err := e.Commit(batch("a")); err != nil {
		t.Fatal(err)
	}
	e.FailReads(syscall.EIO)
	k := object.Key{Keyspace: "ks", Key: "a"}
	checks := map[string]error{}
	_, _, checks["Get"] = e.Get(k)
	checks["ScanObjects"] = e.ScanObjects("ks", "", func(object.Key, object.Object) bool { return true })
	_, checks["Keyspaces"] = e.Keyspaces()
	_, _, checks["GetMeta"] = e.GetMeta("last")
	checks["ScanMeta"] = e.ScanMeta("", func(string, []byte) bool { return true })
	checks["ScanHints"] = e.ScanHints("", func(record.Hint) bool { return true })
	_, checks["RecentRepairs"] = e.RecentRepairs(1)
	for name, err := range checks {
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("%s with failing reads: %v, want EIO", name, err)
		}
	}
	// Writes still work while reads fail.
	if err := e.Commit(batch("bb")); err != nil {
		t.Fatalf("Commit with failing reads: %v", err)
	}
	e.Heal()
	if !found(t, e, "bb") {
		t.Fatal("write during read failures lost")
	}
}

// TestFaultsUnderConcurrency switches faults while commits run (race detector), and
// checks that exactly the commits reported as successful were applied.
func TestFaultsUnderConcurrency(t *testing.T) {
	e := faulty.Wrap(memory.New(memory.Options{}))
	defer e.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := map[string]bool{}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := string(rune('a'+g)) + string(rune(i))
				err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: object.Key{Keyspace: "ks", Key: key}}}})
				mu.Lock()
				ok[key] = err == nil
				mu.Unlock()
			}
		}()
	}
	for i := range 50 {
		if i%2 == 0 {
			e.FailCommits(nil)
		} else {
			e.Heal()
		}
	}
	wg.Wait()
	for key, succeeded := range ok {
		if found(t, e, key) != succeeded {
			t.Fatalf("key %q: Commit succeeded=%v but applied=%v", key, succeeded, !succeeded)
		}
	}
	if e.Commits()+e.FailedCommits() != 800 {
		t.Fatalf("%d commits + %d failed, want 800", e.Commits(), e.FailedCommits())
	}
}
