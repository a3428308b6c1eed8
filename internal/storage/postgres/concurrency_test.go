package postgres

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

// TestSharedDatabaseNodesDoNotInterfere runs two nodes on one database, committing the
// same keys at the same time: each ends with one of its own values for every key, and
// never sees the other's rows.
func TestSharedDatabaseNodesDoNotInterfere(t *testing.T) {
	dsn := testDSN(t)
	a := openTest(t, Options{DSN: dsn})
	b := openTest(t, Options{DSN: dsn})
	const writers, rounds, keys = 4, 40, 5
	committed := map[*Engine]map[string]map[string]bool{a: {}, b: {}} // engine → key → values
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, e := range []*Engine{a, b} {
		name := "a"
		if e == b {
			name = "b"
		}
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					k := fmt.Sprintf("k%d", (w+i)%keys)
					v := fmt.Sprintf("%s/%d/%d", name, w, i)
					err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: object.Key{Keyspace: "shared", Key: k}, Object: reg(v)}}})
					if err != nil {
						t.Errorf("node %s: Commit: %v", name, err)
						return
					}
					mu.Lock()
					if committed[e][k] == nil {
						committed[e][k] = map[string]bool{}
					}
					committed[e][k][v] = true
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for e, byKey := range committed {
		n := 0
		err := e.ScanObjects("shared", "", func(k object.Key, o object.Object) bool {
			n++
			v := string(o.Siblings[0].Value)
			if !byKey[k.Key][v] {
				t.Errorf("key %s holds %q, which this node never committed", k.Key, v)
			}
			return true
		})
		if err != nil || n != keys {
			t.Fatalf("scan saw %d keys, %v; want %d", n, err, keys)
		}
	}
}

// TestConcurrentBatchesNeverMix commits, from many goroutines of one engine, batches
// that each rewrite the same keys (listed in a different order every time). Every scan
// during the run, and the final state, hold one batch's values for all keys.
func TestConcurrentBatchesNeverMix(t *testing.T) {
	e := openTest(t, Options{})
	const writers, rounds, keys = 6, 25, 12
	batch := func(rng *rand.Rand, tag string) *record.Batch {
		var b record.Batch
		for _, k := range rng.Perm(keys) {
			b.Objects = append(b.Objects, record.ObjectWrite{Key: object.Key{Keyspace: "mix", Key: fmt.Sprintf("k%02d", k)}, Object: reg(tag)})
		}
		return &b
	}
	if err := e.Commit(batch(rand.New(rand.NewSource(0)), "initial")); err != nil {
		t.Fatal(err)
	}
	uniform := func(what string) string {
		t.Helper()
		var vals []string
		if err := e.ScanObjects("mix", "", func(_ object.Key, o object.Object) bool {
			vals = append(vals, string(o.Siblings[0].Value))
			return true
		}); err != nil {
			t.Errorf("%s: ScanObjects: %v", what, err)
			return ""
		}
		for _, v := range vals {
			if v != vals[0] || len(vals) != keys {
				t.Errorf("%s: keys hold %q: a mix of batches", what, vals)
				return ""
			}
		}
		return vals[0]
	}
	var committed sync.Map
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w) + 1))
			for i := range rounds {
				tag := fmt.Sprintf("w%d-%d", w, i)
				if err := e.Commit(batch(rng, tag)); err != nil {
					t.Errorf("writer %d: Commit: %v", w, err)
					return
				}
				committed.Store(tag, true)
			}
		}()
	}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
				uniform("during the run")
			}
		}
	}()
	wg.Wait()
	close(done)
	readers.Wait()
	final := uniform("at the end")
	if _, ok := committed.Load(final); !ok {
		t.Fatalf("final state %q is no committed batch", final)
	}
}

// TestPurgeAndUpsertDoNotDeadlock commits two batches at once, one purging k1 and
// writing k2, the other purging k2 and writing k1 (and the same with hint deliveries
// and hint writes), with a pause after their first statement so that they overlap.
// Without the batch's pre-lock, each would hold the row the other waits for and the
// server would abort one for a deadlock; with it, the second waits for the first.
// The statements are sent directly, without roundTrip's retry, to see any deadlock.
func TestPurgeAndUpsertDoNotDeadlock(t *testing.T) {
	e := openTest(t, Options{})
	k1, k2 := object.Key{Keyspace: "dl", Key: "k1"}, object.Key{Keyspace: "dl", Key: "k2"}
	hint := func(id uint64) record.Hint {
		return record.Hint{ID: id, Target: "n2", Key: k1, Object: reg("h"), ExpiresAt: 1}
	}
	for round := range 3 {
		if err := e.Commit(&record.Batch{
			Objects: []record.ObjectWrite{{Key: k1, Object: reg("1")}, {Key: k2, Object: reg("2")}},
			Hints:   []record.Hint{hint(1), hint(2)},
		}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 2 {
			purge, write := k1, k2
			del, store := uint64(1), uint64(2)
			if w == 1 {
				purge, write, del, store = k2, k1, 2, 1
			}
			for _, b := range []*record.Batch{
				{Objects: []record.ObjectWrite{{Key: purge, Purge: true}, {Key: write, Object: reg("x")}}},
				{Hints: []record.Hint{hint(store)}, HintDeletes: []uint64{del}},
			} {
				stmts, _, err := e.plan(b)
				if err != nil {
					t.Fatal(err)
				}
				paused := append(statements{stmts[0], {sql: "SELECT pg_sleep(0.2)"}}, stmts[1:]...)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := e.pool.SendBatch(context.Background(), paused.batch()).Close(); err != nil {
						t.Errorf("round %d, writer %d: %v", round, w, err)
					}
				}()
			}
		}
		wg.Wait()
	}
}

// TestCommitIsOneTransaction checks that the statements of a Commit are applied all
// or not at all: a batch whose last statement fails leaves nothing of the earlier ones.
func TestCommitIsOneTransaction(t *testing.T) {
	e := openTest(t, Options{})
	k := object.Key{Keyspace: "tx", Key: "k"}
	stmts, _, err := e.plan(&record.Batch{
		Objects: []record.ObjectWrite{{Key: k, Object: reg("v")}},
		Meta:    []record.MetaWrite{{Name: "m", Value: []byte("v")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stmts.Queue("SELECT 1/0")
	err = e.pool.SendBatch(context.Background(), stmts.batch()).Close()
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("batch with a failing statement: %v", err)
	}
	if _, found, err := e.Get(k); err != nil || found {
		t.Fatalf("object of the failed batch: found=%v, %v", found, err)
	}
	if _, found, err := e.GetMeta("m"); err != nil || found {
		t.Fatalf("meta of the failed batch: found=%v, %v", found, err)
	}
	// And the connection is fine afterwards.
	if err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: k, Object: reg("v")}}}); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentCommitsOfOneKey has many goroutines commit the same key at once, for
// a series of keys that do not exist yet (concurrent inserts of one new row are where
// upserts go wrong): every Commit succeeds and the key ends with one committed value.
func TestConcurrentCommitsOfOneKey(t *testing.T) {
	e := openTest(t, Options{})
	const writers, keys = 8, 20
	for k := range keys {
		key := object.Key{Keyspace: "one", Key: fmt.Sprintf("k%d", k)}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: key, Object: reg(fmt.Sprint(w))}}}); err != nil {
					t.Errorf("writer %d: Commit: %v", w, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		got, found, err := e.Get(key)
		if err != nil || !found || len(got.Siblings) != 1 {
			t.Fatalf("Get(%s) = %v, %v, %v", key, got, found, err)
		}
	}
}
