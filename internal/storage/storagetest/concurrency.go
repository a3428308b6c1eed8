package storagetest

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

var concurrencyTests = []test{
	{"ConcurrentCommitsAndReads", testConcurrentCommitsAndReads},
	{"ScansSeeWholeBatches", testScansSeeWholeBatches},
}

// testConcurrentCommitsAndReads runs writers and readers from many goroutines; run it
// under the race detector.
func testConcurrentCommitsAndReads(t *testing.T, e storage.Engine) {
	const writers, rounds, keysPerWriter = 8, 30, 5
	var done atomic.Bool
	var wg, readers sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				b := record.Batch{
					Objects: []record.ObjectWrite{{
						Key:    object.Key{Keyspace: "conc", Key: fmt.Sprintf("w%d-%d", w, i%keysPerWriter)},
						Object: register(fmt.Sprintf("%d/%d", w, i), fmt.Sprintf("n%d", w), uint64(i+1)),
					}},
					Meta:    []record.MetaWrite{{Name: fmt.Sprintf("w/%d", w), Value: []byte(strconv.Itoa(i))}},
					Hints:   []record.Hint{hint(fmt.Sprintf("n%d", w), uint64(w*1000+i))},
					Repairs: []record.Repair{repair(w*1000 + i)},
				}
				if i > 0 && i%3 == 0 {
					b.HintDeletes = []uint64{uint64(w*1000 + i - 1)}
				}
				if err := e.Commit(&b); err != nil {
					t.Errorf("writer %d: Commit: %v", w, err)
					return
				}
			}
		}()
	}
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := 0; !done.Load(); i++ {
				w := (r + i) % writers
				if _, _, err := e.Get(object.Key{Keyspace: "conc", Key: fmt.Sprintf("w%d-%d", w, i%keysPerWriter)}); err != nil {
					t.Errorf("reader: Get: %v", err)
					return
				}
				var err error
				switch i % 5 {
				case 0:
					err = e.ScanObjects("conc", "", func(object.Key, object.Object) bool { return true })
				case 1:
					err = e.ScanHints("", func(record.Hint) bool { return true })
				case 2:
					_, err = e.RecentRepairs(20)
				case 3:
					_, err = e.Keyspaces()
				case 4:
					_, _, err = e.GetMeta(fmt.Sprintf("w/%d", w))
				}
				if err != nil {
					t.Errorf("reader: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	readers.Wait()
	if t.Failed() {
		return
	}

	for w := range writers {
		for k := range keysPerWriter {
			last := rounds - keysPerWriter + k
			wantObject(t, e, object.Key{Keyspace: "conc", Key: fmt.Sprintf("w%d-%d", w, k)},
				register(fmt.Sprintf("%d/%d", w, last), fmt.Sprintf("n%d", w), uint64(last+1)))
		}
		wantMeta(t, e, fmt.Sprintf("w/%d", w), []byte(strconv.Itoa(rounds-1)))
		var want []record.Hint
		for i := range rounds {
			if i%3 == 2 && i < rounds-1 {
				continue // deleted by round i+1
			}
			want = append(want, hint(fmt.Sprintf("n%d", w), uint64(w*1000+i)))
		}
		wantHints(t, fmt.Sprintf("hints of writer %d", w), hints(t, e, fmt.Sprintf("n%d", w)), want)
	}
	if n := len(repairs(t, e, 2*writers*rounds)); n != writers*rounds {
		t.Fatalf("repair log holds %d entries, want %d", n, writers*rounds)
	}
}

// testScansSeeWholeBatches commits batches that rewrite a set of keys together and
// checks that concurrent scans and reads never see part of a batch, nor go backwards.
func testScansSeeWholeBatches(t *testing.T, e storage.Engine) {
	const keys, batches = 16, 150
	gen := func(o object.Object) int {
		n, err := strconv.Atoi(string(o.Siblings[0].Value))
		if err != nil {
			t.Errorf("unexpected value %q", o.Siblings[0].Value)
		}
		return n
	}
	write := func(g int) error {
		var b record.Batch
		for k := range keys {
			b.Objects = append(b.Objects, record.ObjectWrite{
				Key:    object.Key{Keyspace: "atomic", Key: fmt.Sprintf("k%02d", k)},
				Object: register(strconv.Itoa(g), "n1", uint64(g+1)),
			})
		}
		return e.Commit(&b)
	}
	if err := write(0); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := 0
			for !done.Load() && !t.Failed() {
				var gens []int
				err := e.ScanObjects("atomic", "", func(_ object.Key, o object.Object) bool {
					gens = append(gens, gen(o))
					return true
				})
				if err != nil {
					t.Errorf("reader %d: ScanObjects: %v", r, err)
					return
				}
				if len(gens) != keys {
					t.Errorf("reader %d: scan saw %d keys, want %d", r, len(gens), keys)
					return
				}
				for _, g := range gens {
					if g != gens[0] {
						t.Errorf("reader %d: one scan saw generations %v: part of a batch", r, gens)
						return
					}
				}
				if gens[0] < seen {
					t.Errorf("reader %d: scan went back from generation %d to %d", r, seen, gens[0])
					return
				}
				seen = gens[0]
				// Two Gets in a row never go backwards either.
				a, _, err1 := e.Get(object.Key{Keyspace: "atomic", Key: "k00"})
				b, _, err2 := e.Get(object.Key{Keyspace: "atomic", Key: fmt.Sprintf("k%02d", keys-1)})
				if err1 != nil || err2 != nil {
					t.Errorf("reader %d: Get: %v, %v", r, err1, err2)
					return
				}
				if ga, gb := gen(a), gen(b); ga < seen || gb < ga {
					t.Errorf("reader %d: reads went backwards: scan %d, then %d, then %d", r, seen, ga, gb)
					return
				}
			}
		}()
	}
	for g := 1; g <= batches && !t.Failed(); g++ {
		if err := write(g); err != nil {
			t.Errorf("Commit: %v", err)
			break
		}
	}
	done.Store(true)
	wg.Wait()
}
