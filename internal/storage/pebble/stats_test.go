package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/version"
)

// TestStats writes, flushes and compacts, checking that the figures Stats reports move
// the way those operations should move them.
func TestStats(t *testing.T) {
	e, err := Open(t.TempDir(), Options{Durability: storage.NoSync})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer e.Close()
	stats := func() storage.Stats {
		t.Helper()
		s, err := e.Stats()
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		return s
	}

	s0 := stats()
	if s0.Compactions != 0 || s0.Flushes != 0 || s0.Tables != 0 {
		t.Fatalf("fresh store: %+v", s0)
	}

	const keys = 500
	value := bytes.Repeat([]byte("v"), 200)
	write := func(round uint64) {
		t.Helper()
		var b record.Batch
		for i := range keys {
			dot := version.Dot{Actor: "n1", Counter: round*keys + uint64(i) + 1}
			b.Objects = append(b.Objects, record.ObjectWrite{
				Key: object.Key{Keyspace: "ks", Key: fmt.Sprintf("key-%04d", i)},
				Object: object.Object{
					Kind: object.KindRegister,
					Siblings: []object.Sibling{{
						Value: value, Dot: dot, Timestamp: version.MakeTimestamp(1_700_000_000_000+int64(dot.Counter), 0),
					}},
					Context: version.Vector{dot},
				},
			})
		}
		if err := e.Commit(&b); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if err := e.db.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}

	write(0)
	s1 := stats()
	if s1.WALWrittenBytes < keys*200 {
		t.Errorf("WALWrittenBytes = %d after writing %d values of 200 bytes", s1.WALWrittenBytes, keys)
	}
	if s1.Flushes < 1 || s1.FlushBytes == 0 {
		t.Errorf("after a flush: Flushes = %d, FlushBytes = %d", s1.Flushes, s1.FlushBytes)
	}
	if s1.L0Files < 1 || s1.Tables < s1.L0Files || s1.ReadAmplification < 1 {
		t.Errorf("after a flush: L0Files = %d, Tables = %d, ReadAmplification = %d", s1.L0Files, s1.Tables, s1.ReadAmplification)
	}
	if s1.LiveDataBytes == 0 || s1.DiskBytes < s1.LiveDataBytes+s1.WALBytes {
		t.Errorf("sizes: DiskBytes = %d, LiveDataBytes = %d, WALBytes = %d", s1.DiskBytes, s1.LiveDataBytes, s1.WALBytes)
	}
	if s1.DiskBytes > 64<<20 {
		t.Errorf("DiskBytes = %d for ~100 KiB of data", s1.DiskBytes)
	}

	// A second generation of the same keys overlaps the first: compacting them has to
	// rewrite both into one.
	write(1)
	if err := e.db.Compact(context.Background(), []byte{0}, bytes.Repeat([]byte{0xff}, 16), false); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	s2 := stats()
	if s2.Compactions < 1 || s2.CompactionBytes == 0 {
		t.Errorf("after a compaction: Compactions = %d, CompactionBytes = %d", s2.Compactions, s2.CompactionBytes)
	}
	if s2.L0Files != 0 {
		t.Errorf("L0Files = %d after compacting everything", s2.L0Files)
	}
	if s2.Flushes < s1.Flushes+1 || s2.WALWrittenBytes <= s1.WALWrittenBytes {
		t.Errorf("counters did not grow: before %+v, after %+v", s1, s2)
	}
	t.Logf("after writes, flushes and a compaction: %+v", s2)
	if s2.CompactionsFailed != 0 {
		t.Errorf("CompactionsFailed = %d", s2.CompactionsFailed)
	}

	// A key the last commit wrote is read from the recent-objects cache; one never
	// written goes to the LSM.
	if _, found, err := e.Get(object.Key{Keyspace: "ks", Key: "key-0001"}); err != nil || !found {
		t.Fatalf("Get of a written key: found=%v err=%v", found, err)
	}
	if _, found, err := e.Get(object.Key{Keyspace: "ks", Key: "never-written"}); err != nil || found {
		t.Fatalf("Get of an unknown key: found=%v err=%v", found, err)
	}
	s3 := stats()
	if s3.RecentObjectHits != s2.RecentObjectHits+1 || s3.RecentObjectMisses != s2.RecentObjectMisses+1 {
		t.Errorf("recent objects: hits %d→%d, misses %d→%d; want one more of each",
			s2.RecentObjectHits, s3.RecentObjectHits, s2.RecentObjectMisses, s3.RecentObjectMisses)
	}

	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := e.Stats(); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Stats after Close: %v, want ErrClosed", err)
	}
}
