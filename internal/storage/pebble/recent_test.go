package pebble

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/version"
)

func TestRecentObjectsOrder(t *testing.T) {
	r := newRecentObjects(recentShards * 1000)
	k := []byte("k")
	write := func(seq uint64, value string) {
		r.begin(k)
		var v []byte
		if value != "" {
			v = []byte(value)
		}
		r.end(k, true, seq, v)
	}
	want := func(value string, found bool) {
		t.Helper()
		v, f, known := r.get(k)
		if !known || f != found || string(v) != value {
			t.Fatalf("get = %q found %v known %v, want %q found %v", v, f, known, value, found)
		}
	}
	write(5, "five")
	write(3, "three") // an older write that ended later: ignored
	want("five", true)
	write(6, "")
	want("", false)

	// While a commit of k is in progress, Get of k goes to Pebble.
	r.begin(k)
	r.begin(k)
	if _, _, known := r.get(k); known {
		t.Fatal("known while a commit is in progress")
	}
	r.end(k, true, 9, []byte("nine"))
	if _, _, known := r.get(k); known {
		t.Fatal("known while another commit is in progress")
	}
	r.end(k, true, 8, []byte("eight"))
	want("nine", true)
	// A commit that failed records nothing.
	r.begin(k)
	r.end(k, false, 0, nil)
	want("nine", true)

	// Pinned entries stay, others go once the budget is spent.
	r.begin(k)
	s := r.shard(k)
	for i := 0; i < 100; i++ {
		other := []byte(fmt.Sprintf("o%d", i))
		if r.shard(other) == s {
			r.begin(other)
			r.end(other, true, uint64(100+i), make([]byte, 100))
		}
	}
	if s.entries["k"] == nil {
		t.Fatal("a pinned entry was evicted")
	}
	r.end(k, true, 10, []byte("ten"))
	want("ten", true)
	if s.bytes > s.maxBytes {
		t.Errorf("shard holds %d bytes, budget %d", s.bytes, s.maxBytes)
	}
	// An unknown key whose only commit failed leaves nothing behind.
	u := []byte("unknown")
	r.begin(u)
	r.end(u, false, 0, nil)
	if r.shard(u).entries["unknown"] != nil {
		t.Error("a failed commit left an entry")
	}
}

// rawGet reads key from Pebble itself, bypassing the cache.
func rawGet(t *testing.T, e *Engine, k object.Key) (object.Object, bool) {
	t.Helper()
	v, closer, err := e.db.Get(objectKey(k))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return object.Object{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	obj, err := object.Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	return obj, true
}

// TestRecentCacheMatchesStore: concurrent committers writing and purging overlapping
// keys through a cache small enough to evict all the time; afterwards, and along the
// way, Get answers exactly what Pebble holds.
func TestRecentCacheMatchesStore(t *testing.T) {
	e := openTest(t, t.TempDir(), Options{Durability: storage.NoSync, RecentObjectBytes: recentShards * 2000})
	const keys, writers, rounds = 40, 4, 300
	key := func(i int) object.Key { return object.Key{Keyspace: "ks", Key: fmt.Sprintf("k%02d", i)} }
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for r := range rounds {
				var b record.Batch
				for range 1 + rng.IntN(4) {
					k := key(rng.IntN(keys))
					if rng.IntN(5) == 0 {
						b.Objects = append(b.Objects, record.ObjectWrite{Key: k, Purge: true})
						continue
					}
					b.Objects = append(b.Objects, record.ObjectWrite{Key: k, Object: object.Object{
						Kind: object.KindRegister,
						Siblings: []object.Sibling{{
							Value:     []byte(fmt.Sprintf("w%d r%d %s", w, r, make([]byte, rng.IntN(200)))),
							Dot:       version.Dot{Actor: fmt.Sprint("w", w), Counter: uint64(r + 1)},
							Timestamp: version.MakeTimestamp(int64(r+1), 0),
						}},
					}})
				}
				if err := e.Commit(&b); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := e.Get(key(rng.IntN(keys))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := range keys {
		got, found, err := e.Get(key(i))
		if err != nil {
			t.Fatal(err)
		}
		want, wantFound := rawGet(t, e, key(i))
		if found != wantFound || !object.Equal(got, want) {
			t.Errorf("%s: Get = %v %+v, Pebble holds %v %+v", key(i), found, got, wantFound, want)
		}
	}
}

// BenchmarkRecentObjects: a lookup among 100,000 cached objects, and the record of a
// write (begin and end) into a full cache.
func BenchmarkRecentObjects(b *testing.B) {
	keys := make([][]byte, 100000)
	for i := range keys {
		keys[i] = objectKey(object.Key{Keyspace: "default", Key: fmt.Sprintf("key:%012d", i)})
	}
	value := make([]byte, 170)
	b.Run("Get", func(b *testing.B) {
		r := newRecentObjects(64 << 20)
		for i, k := range keys {
			r.begin(k)
			r.end(k, true, uint64(i+1), value)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r.get(keys[(i*7919)%len(keys)])
		}
	})
	b.Run("Write", func(b *testing.B) {
		r := newRecentObjects(DefaultRecentObjectBytes)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			k := keys[(i*7919)%len(keys)]
			r.begin(k)
			r.end(k, true, uint64(i+1), value)
		}
	})
}
