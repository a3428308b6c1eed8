package pebble

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/version"
)

// countingFS wraps the real file system and counts syncs of write-ahead log files.
func countingFS() (vfs.FS, *atomic.Int64) {
	var n atomic.Int64
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") {
			switch op.Kind {
			case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
				n.Add(1)
			}
		}
		return nil
	})
	return errorfs.Wrap(vfs.Default, inj), &n
}

// benchObject is a small register of about 100 bytes of value.
func benchObject(i int) object.Object {
	dot := version.Dot{Actor: "node-1", Counter: uint64(i + 1)}
	return object.Object{
		Siblings: []object.Sibling{{Value: []byte(strings.Repeat("v", 100)), Dot: dot, Timestamp: version.MakeTimestamp(1_700_000_000_000, 0)}},
		Context:  version.Vector{dot},
	}
}

// BenchmarkCommitSync commits one-object batches with storage.Sync from many goroutines
// at once. fsyncs/op below 1 is group commit at work: concurrent commits share fsyncs.
func BenchmarkCommitSync(b *testing.B) {
	for _, par := range []int{1, 4, 16, 64} {
		goroutines := par * runtime.GOMAXPROCS(0)
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			benchCommit(b, storage.Sync, par)
		})
	}
}

// BenchmarkCommitNoSync is BenchmarkCommitSync with storage.NoSync, for comparison.
func BenchmarkCommitNoSync(b *testing.B) {
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			benchCommit(b, storage.NoSync, par)
		})
	}
}

func benchCommit(b *testing.B, d storage.Durability, parallelism int) {
	fs, syncs := countingFS()
	e, err := Open(b.TempDir(), Options{Durability: d, fs: fs})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	syncs.Store(0)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			batch := record.Batch{Objects: []record.ObjectWrite{{
				Key:    object.Key{Keyspace: "bench", Key: fmt.Sprintf("key-%09d", i)},
				Object: benchObject(i),
			}}}
			if err := e.Commit(&batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(syncs.Load())/float64(b.N), "fsyncs/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkGet reads random keys of 100,000 stored objects (all in the block cache).
func BenchmarkGet(b *testing.B) {
	const n = 100_000
	e, err := Open(b.TempDir(), Options{Durability: storage.NoSync})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for start := 0; start < n; start += 1000 {
		var batch record.Batch
		for i := start; i < start+1000; i++ {
			batch.Objects = append(batch.Objects, record.ObjectWrite{
				Key:    object.Key{Keyspace: "bench", Key: fmt.Sprintf("key-%09d", i)},
				Object: benchObject(i),
			})
		}
		if err := e.Commit(&batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.db.Flush(); err != nil { // read from sstables, not the memtable
		b.Fatal(err)
	}
	for _, parallel := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", parallel), func(b *testing.B) {
			b.ReportAllocs()
			get := func(rng *rand.Rand) {
				k := object.Key{Keyspace: "bench", Key: fmt.Sprintf("key-%09d", rng.Intn(n))}
				if _, found, err := e.Get(k); err != nil || !found {
					b.Errorf("Get(%s): %v, %v", k, found, err)
				}
			}
			if !parallel {
				rng := rand.New(rand.NewSource(1))
				for b.Loop() {
					get(rng)
				}
				return
			}
			var seed atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewSource(seed.Add(1)))
				for pb.Next() {
					get(rng)
				}
			})
		})
	}
}

// BenchmarkFsync probes the disk under b.TempDir(): each op overwrites 4 KiB of a file
// and fsyncs it, as a write-ahead log append does. 1e9/(ns/op) is the fsyncs per second
// the disk takes from one writer, the ceiling of ungrouped Sync commits.
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "probe"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for b.Loop() {
		if _, err := f.WriteAt(buf, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsyncs/s")
}
