package postgres

import (
	"fmt"
	"math/rand"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/version"
)

// benchParallelism is how many goroutines per GOMAXPROCS the parallel benchmarks run:
// enough concurrent Commits to fill the pool, as a node's shards would.
const benchParallelism = 8

// benchObject is a register holding a 100-byte value.
func benchObject(i int) object.Object {
	dot := version.Dot{Actor: "bench", Counter: uint64(i + 1)}
	return object.Object{
		Kind:     object.KindRegister,
		Siblings: []object.Sibling{{Value: []byte(strings.Repeat("v", 100)), Dot: dot, Timestamp: version.MakeTimestamp(1_700_000_000_000, 0)}},
		Context:  version.Vector{dot},
	}
}

// BenchmarkCommit commits one-object batches from many goroutines at once (each a new
// key), with and without synchronous commit; the batch=100 cases commit 100 objects per
// batch and report objects per second, to show what grouping writes saves; the serial
// cases commit from one goroutine, to show the latency of one Commit.
func BenchmarkCommit(b *testing.B) {
	for _, c := range []struct {
		name   string
		dur    storage.Durability
		batch  int
		serial bool
	}{
		{"Sync", storage.Sync, 1, false},
		{"NoSync", storage.NoSync, 1, false},
		{"Sync/batch=100", storage.Sync, 100, false},
		{"NoSync/batch=100", storage.NoSync, 100, false},
		{"Sync/serial", storage.Sync, 1, true},
		{"NoSync/serial", storage.NoSync, 1, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := openTest(b, Options{Durability: c.dur})
			var next atomic.Int64
			commit := func(batch *record.Batch) error {
				batch.Reset()
				for range c.batch {
					i := int(next.Add(1))
					batch.Objects = append(batch.Objects, record.ObjectWrite{
						Key:    object.Key{Keyspace: "bench", Key: fmt.Sprintf("key-%09d", i)},
						Object: benchObject(i),
					})
				}
				return e.Commit(batch)
			}
			b.ResetTimer()
			if c.serial {
				var batch record.Batch
				for range b.N {
					if err := commit(&batch); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.SetParallelism(benchParallelism)
				b.RunParallel(func(pb *testing.PB) {
					var batch record.Batch
					for pb.Next() {
						if err := commit(&batch); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}

// BenchmarkGet reads random keys among 10,000 from many goroutines at once.
func BenchmarkGet(b *testing.B) {
	e := openTest(b, Options{})
	const keys = 10000
	for from := 0; from < keys; from += 1000 {
		var batch record.Batch
		for i := from; i < from+1000; i++ {
			batch.Objects = append(batch.Objects, record.ObjectWrite{
				Key:    object.Key{Keyspace: "bench", Key: fmt.Sprintf("key-%09d", i)},
				Object: benchObject(i),
			})
		}
		if err := e.Commit(&batch); err != nil {
			b.Fatal(err)
		}
	}
	var seed atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewSource(seed.Add(1)))
		for pb.Next() {
			k := object.Key{Keyspace: "bench", Key: fmt.Sprintf("key-%09d", rng.Intn(keys))}
			if _, found, err := e.Get(k); err != nil || !found {
				b.Errorf("Get(%s): found=%v, %v", k, found, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}
