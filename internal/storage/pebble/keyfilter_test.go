package pebble

import (
	"fmt"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/version"
)

// TestKeyFilterAtCapacity fills a filter to its design load: every key added is
// "maybe", and about 1% of keys never added are too.
func TestKeyFilterAtCapacity(t *testing.T) {
	f := newKeyFilter(64 << 10)
	n := int(f.capacity())
	if n < 50_000 || n > 55_000 {
		t.Fatalf("a 64 KiB filter holds %d keys at its design load, want about 52,000", n)
	}
	key := func(prefix string, i int) []byte {
		return objectKey(object.Key{Keyspace: "default", Key: fmt.Sprintf("%s:%09d", prefix, i)})
	}
	for i := range n {
		f.add(key("in", i))
	}
	for i := range n {
		if !f.mayContain(key("in", i)) {
			t.Fatalf("key %d was added but the filter says absent", i)
		}
	}
	fp := 0
	for i := range n {
		if f.mayContain(key("out", i)) {
			fp++
		}
	}
	if rate := float64(fp) / float64(n); rate > 0.02 {
		t.Errorf("%.2f%% false positives at capacity, want about 1%%", 100*rate)
	}
	if newKeyFilter(0) != nil || newKeyFilter(-1) != nil {
		t.Errorf("a filter of no size is not nil")
	}
}

// TestKeyFilterSkipsNewKeysAndSurvivesReopen: a Get of a key never written is answered
// by the filter (counted); keys written before a restart are found after it, because
// Open refills the filter from the store; a purged key reads as absent.
func TestKeyFilterSkipsNewKeysAndSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	obj := func(v string) object.Object {
		return object.Object{Kind: object.KindRegister, Siblings: []object.Sibling{{
			Value: []byte(v), Dot: version.Dot{Actor: "a", Counter: 1}, Timestamp: version.MakeTimestamp(1, 0),
		}}}
	}
	k := func(i int) object.Key { return object.Key{Keyspace: "ks", Key: fmt.Sprint("k", i)} }
	e, err := Open(dir, Options{Durability: storage.NoSync, RecentObjectBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	var b record.Batch
	for i := range 100 {
		b.Objects = append(b.Objects, record.ObjectWrite{Key: k(i), Object: obj(fmt.Sprint(i))})
	}
	if err := e.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if _, found, err := e.Get(k(1000)); err != nil || found {
		t.Fatalf("Get of a key never written = %v, %v", found, err)
	}
	if s, _ := e.Stats(); s.KeyFilterSkips != 1 {
		t.Errorf("KeyFilterSkips = %d after one Get of a new key, want 1", s.KeyFilterSkips)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// Open fills the filter from the store in the background; until then Get looks
	// every key up.
	e = openTest(t, dir, Options{Durability: storage.NoSync, RecentObjectBytes: -1})
	waitKeyFilter(t, e)
	for i := range 100 {
		got, found, err := e.Get(k(i))
		if err != nil || !found || string(got.Siblings[0].Value) != fmt.Sprint(i) {
			t.Fatalf("after reopening, Get(%s) = %v %+v, %v", k(i), found, got, err)
		}
	}
	skips := 0
	for i := 100; i < 1100; i++ {
		if _, found, err := e.Get(k(i)); err != nil || found {
			t.Fatalf("Get of a key never written = %v, %v", found, err)
		}
	}
	if s, _ := e.Stats(); s.KeyFilterSkips < 900 {
		t.Errorf("KeyFilterSkips = %d of 1000 Gets of new keys, want nearly all", s.KeyFilterSkips)
	} else {
		skips = int(s.KeyFilterSkips)
	}
	if err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: k(5), Purge: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := e.Get(k(5)); err != nil || found {
		t.Fatalf("Get of a purged key = %v, %v", found, err)
	}
	if s, _ := e.Stats(); int(s.KeyFilterSkips) != skips {
		t.Errorf("a purged key was answered by the filter, which never forgets a key")
	}
}

// waitKeyFilter waits until Open's scan has filled e's key filter.
func waitKeyFilter(t *testing.T, e *Engine) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !e.filterReady.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the key filter was not filled within 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCloseStopsKeyFilterScan: Close while Open's scan is running returns, and the
// engine reopens.
func TestCloseStopsKeyFilterScan(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(dir, Options{Durability: storage.NoSync})
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < 50_000; start += 1000 {
		var b record.Batch
		for i := start; i < start+1000; i++ {
			b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "ks", Key: fmt.Sprint("k", i)}, Object: benchObject(i)})
		}
		if err := e.Commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e, err := Open(dir, Options{Durability: storage.NoSync})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	e = openTest(t, dir, Options{Durability: storage.NoSync})
	waitKeyFilter(t, e)
	if _, found, err := e.Get(object.Key{Keyspace: "ks", Key: "k49999"}); err != nil || !found {
		t.Fatalf("Get after reopening = %v, %v", found, err)
	}
}
