package pebble

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/storage/storagetest"
)

// openTest opens an engine in dir and closes it when the test ends.
func openTest(t *testing.T, dir string, opts Options) *Engine {
	t.Helper()
	e, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestConformance runs the storage conformance suite with each durability, and with
// each of the engine's read shortcuts (the recent-objects cache, the key filter)
// turned off, so that neither can hide a difference from Pebble's own answers.
func TestConformance(t *testing.T) {
	for _, d := range []struct {
		name string
		opts Options
	}{
		{"Sync", Options{Durability: storage.Sync}},
		{"NoSync", Options{Durability: storage.NoSync}},
		{"NoRecentCache", Options{Durability: storage.NoSync, RecentObjectBytes: -1}},
		{"NoKeyFilter", Options{Durability: storage.NoSync, KeyFilterBytes: -1}},
	} {
		t.Run(d.name, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Engine {
				return openTest(t, t.TempDir(), d.opts)
			})
		})
	}
}

func TestDurable(t *testing.T) {
	storagetest.RunDurable(t, func(t *testing.T, dir string) storage.Engine {
		return openTest(t, dir, Options{})
	})
}

func TestOptionsValidate(t *testing.T) {
	err := Options{Durability: 7, MaxRepairs: -1, CacheBytes: -1}.Validate()
	if err == nil {
		t.Fatal("Validate accepted bad options")
	}
	for _, want := range []string{"durability", "MaxRepairs", "CacheBytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q does not mention %s", err, want)
		}
	}
	if _, err := Open(t.TempDir(), Options{MaxRepairs: -1}); err == nil {
		t.Fatal("Open accepted bad options")
	}
}

func TestMaxRepairsOption(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, dir, Options{MaxRepairs: 100})
	for i := range 250 {
		if err := e.Commit(&record.Batch{Repairs: []record.Repair{{StaleNode: "n", RepairedAt: int64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := countPrefix(t, e, prefixRepair); n != 100 {
		t.Fatalf("%d repair entries stored, want 100", n)
	}
	// Batches that push out fewer, and more, than deleteRangeMin entries at once, and
	// one larger than the window.
	next := 250
	for _, size := range []int{30, 90, 150} {
		var b record.Batch
		for range size {
			b.Repairs = append(b.Repairs, record.Repair{StaleNode: "n", RepairedAt: int64(next)})
			next++
		}
		if err := e.Commit(&b); err != nil {
			t.Fatal(err)
		}
		if n := countPrefix(t, e, prefixRepair); n != 100 {
			t.Fatalf("after a batch of %d: %d repair entries stored, want 100", size, n)
		}
		rs, err := e.RecentRepairs(1000)
		if err != nil || len(rs) != 100 || rs[0].RepairedAt != int64(next-1) || rs[99].RepairedAt != int64(next-100) {
			t.Fatalf("after a batch of %d: RecentRepairs = %d entries from %d, %v", size, len(rs), rs[0].RepairedAt, err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening with a smaller window trims at once.
	e = openTest(t, dir, Options{MaxRepairs: 10})
	if n := countPrefix(t, e, prefixRepair); n != 10 {
		t.Fatalf("%d repair entries stored after reopening with MaxRepairs 10, want 10", n)
	}
	rs, err := e.RecentRepairs(1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 10 || rs[0].RepairedAt != int64(next-1) || rs[9].RepairedAt != int64(next-10) {
		t.Fatalf("RecentRepairs = %+v", rs)
	}
}

// countPrefix counts the Pebble keys starting with prefix.
func countPrefix(t *testing.T, e *Engine, prefix byte) int {
	t.Helper()
	it, err := e.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for valid := it.SeekGE([]byte{prefix}); valid && it.Key()[0] == prefix; valid = it.Next() {
		n++
	}
	return n
}

func TestHintIndexCleanedUp(t *testing.T) {
	e := openTest(t, t.TempDir(), Options{})
	var b record.Batch
	for id := range uint64(50) {
		b.Hints = append(b.Hints, record.Hint{ID: id, Target: fmt.Sprintf("n%d", id%4), Key: object.Key{Keyspace: "ks", Key: "k"}})
	}
	if err := e.Commit(&b); err != nil {
		t.Fatal(err)
	}
	b = record.Batch{}
	for id := range uint64(50) {
		b.HintDeletes = append(b.HintDeletes, id)
	}
	if err := e.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if h, i := countPrefix(t, e, prefixHint), countPrefix(t, e, prefixHintIndex); h != 0 || i != 0 {
		t.Fatalf("after deleting every hint: %d hint keys, %d index keys left", h, i)
	}
}

func TestOpenLockedInProcess(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, dir, Options{})
	_, err := Open(dir, Options{})
	if err == nil {
		t.Fatal("second Open of the same directory succeeded")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: unclear error %q", err)
	}
	// Once closed, it opens again.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	openTest(t, dir, Options{})
}

// lockHelperEnv makes the test binary, run as a child, hold a store open.
const lockHelperEnv = "CHORUS_PEBBLE_LOCK_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockHelperEnv); dir != "" {
		os.Exit(holdLock(dir))
	}
	os.Exit(m.Run())
}

// holdLock opens the store in dir, says "ready", and keeps it open until stdin closes.
func holdLock(dir string) int {
	e, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = e.Close()
	return 0
}

func TestOpenLockedByOtherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	_, err = Open(dir, Options{})
	if err == nil {
		t.Fatal("Open of a directory another process holds succeeded")
	}
	if !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("Open: unclear error %q", err)
	}
	t.Logf("error as reported: %v", err)
}

func TestOpenBadDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(file, "sub")} {
		if _, err := Open(dir, Options{}); err == nil {
			t.Errorf("Open(%s) succeeded", dir)
		} else {
			t.Logf("Open(%s): %v", dir, err)
		}
	}
	if os.Getuid() != 0 { // root ignores permissions
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ro, Options{}); err == nil {
			t.Errorf("Open of a read-only directory succeeded")
		}
	}
}

func TestCorruptRecords(t *testing.T) {
	// The records are written into Pebble behind the engine's back, so its key filter
	// (filled by Open and Commit) is off: it would rightly answer "absent" for them.
	e := openTest(t, t.TempDir(), Options{KeyFilterBytes: -1})
	k := object.Key{Keyspace: "ks", Key: "bad"}
	raw := func(key, value []byte) {
		t.Helper()
		if err := e.db.Set(key, value, nil); err != nil {
			t.Fatal(err)
		}
	}
	raw(objectKey(k), []byte{0x7f, 0, 0})
	raw(metaKey("m"), []byte("meta values are opaque"))
	raw(hintKey("n1", 1), []byte{hintFormat, 1})
	good := appendHint(nil, record.Hint{ID: 3, Target: "n9"}) // stored under the wrong key
	raw(hintKey("n2", 2), good)
	raw(repairKey(0), []byte{repairFormat, 200})

	if _, _, err := e.Get(k); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("Get of a corrupt object: %v", err)
	}
	if err := e.ScanObjects("ks", "", func(object.Key, object.Object) bool { return true }); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("ScanObjects over a corrupt object: %v", err)
	}
	if err := e.ScanHints("n1", func(record.Hint) bool { return true }); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("ScanHints over a corrupt hint: %v", err)
	}
	if err := e.ScanHints("n2", func(record.Hint) bool { return true }); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("ScanHints over a misplaced hint: %v", err)
	}
	if _, err := e.RecentRepairs(10); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("RecentRepairs over a corrupt entry: %v", err)
	}
	if _, _, err := e.GetMeta("m"); err != nil {
		t.Errorf("GetMeta: %v", err)
	}
	// A corrupt record is not a failed engine: the rest still works.
	if err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: k, Object: object.Object{}}}}); err != nil {
		t.Fatalf("Commit after reading corrupt records: %v", err)
	}
	if _, _, err := e.Get(k); err != nil {
		t.Fatalf("Get after overwriting the corrupt object: %v", err)
	}
}

func TestCloseWaitsForCalls(t *testing.T) {
	e := openTest(t, t.TempDir(), Options{Durability: storage.NoSync})
	var b record.Batch
	for i := range 100 {
		b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "ks", Key: fmt.Sprint(i)}})
	}
	if err := e.Commit(&b); err != nil {
		t.Fatal(err)
	}
	inScan := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var scanErr error
	go func() {
		defer wg.Done()
		first := true
		scanErr = e.ScanObjects("ks", "", func(object.Key, object.Object) bool {
			if first {
				first = false
				close(inScan)
				<-release
			}
			return true
		})
	}()
	<-inScan
	closed := make(chan error)
	go func() { closed <- e.Close() }()
	// Calls that start while Close waits are refused; the scan in progress finishes.
	for {
		_, _, err := e.Get(object.Key{Keyspace: "ks", Key: "1"})
		if errors.Is(err, storage.ErrClosed) {
			break
		}
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if scanErr != nil {
		t.Fatalf("scan running across Close: %v", scanErr)
	}
}

// TestGroupCommit checks that concurrent Sync commits share fsyncs, also those that
// carry hints (which commit through another path).
func TestGroupCommit(t *testing.T) {
	for _, withHints := range []bool{false, true} {
		t.Run(fmt.Sprintf("hints=%v", withHints), func(t *testing.T) {
			fs, syncs := countingFS()
			e, err := Open(t.TempDir(), Options{fs: fs})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			const goroutines, each = 32, 10
			syncs.Store(0)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						b := record.Batch{Objects: []record.ObjectWrite{{Key: object.Key{Keyspace: "ks", Key: fmt.Sprintf("%d-%d", g, i)}}}}
						if withHints {
							b.Hints = []record.Hint{{ID: uint64(g*each + i), Target: "n2"}}
						}
						if err := e.Commit(&b); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			n := syncs.Load()
			t.Logf("%d commits, %d WAL fsyncs", goroutines*each, n)
			if n == 0 || n > goroutines*each/2 {
				t.Fatalf("%d fsyncs for %d concurrent commits: not grouped", n, goroutines*each)
			}
		})
	}
}

func TestOpenCorruptStore(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, dir, Options{})
	if err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: object.Key{Keyspace: "ks", Key: "k"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	manifests, err := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	if err != nil || len(manifests) == 0 {
		t.Fatalf("no MANIFEST in %s: %v", dir, err)
	}
	for _, m := range manifests {
		if err := os.WriteFile(m, []byte(strings.Repeat("garbage!", 512)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Open(dir, Options{})
	if !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Open of a store with a corrupt MANIFEST: %v, want ErrCorrupt", err)
	}
	t.Logf("error as reported: %v", err)
}
