package memory_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/storage/memory"
	"github.com/chorusdb/chorus/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Engine {
		return memory.New(memory.Options{})
	})
}

func TestMaxRepairs(t *testing.T) {
	e := memory.New(memory.Options{MaxRepairs: 3})
	defer e.Close()
	for i := range 10 {
		if err := e.Commit(&record.Batch{Repairs: []record.Repair{{StaleNode: "n", RepairedAt: int64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := e.RecentRepairs(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[0].RepairedAt != 9 || rs[2].RepairedAt != 7 {
		t.Fatalf("RecentRepairs = %+v, want 9, 8, 7", rs)
	}
}

// TestScansAreDeterministic feeds two engines the same writes in different orders and
// checks that every scan visits the same things in the same order: the simulator
// depends on it, and Go map iteration order is random.
func TestScansAreDeterministic(t *testing.T) {
	// Every write touches its own key, meta name and hint id, so any order of them
	// leaves the same state.
	var writes []record.Batch
	for i := range 50 {
		k := object.Key{Keyspace: fmt.Sprintf("ks%d", i%4), Key: fmt.Sprintf("key%d", i*7919%101)}
		writes = append(writes, record.Batch{
			Objects: []record.ObjectWrite{{Key: k}},
			Meta:    []record.MetaWrite{{Name: k.String(), Value: []byte{byte(i)}}},
			Hints:   []record.Hint{{ID: uint64(i*31%53 + 1), Target: fmt.Sprintf("n%d", i%3), Key: k}},
		})
	}
	trace := func(order []int) string {
		e := memory.New(memory.Options{})
		defer e.Close()
		for _, i := range order {
			if err := e.Commit(&writes[i]); err != nil {
				t.Fatal(err)
			}
		}
		var out strings.Builder
		kss, _ := e.Keyspaces()
		for _, ks := range kss {
			_ = e.ScanObjects(ks, "", func(k object.Key, _ object.Object) bool {
				fmt.Fprintf(&out, "%s ", k)
				return true
			})
		}
		_ = e.ScanMeta("", func(name string, _ []byte) bool { fmt.Fprintf(&out, "%s ", name); return true })
		_ = e.ScanHints("", func(h record.Hint) bool { fmt.Fprintf(&out, "%s/%d ", h.Target, h.ID); return true })
		return out.String()
	}
	forward := make([]int, len(writes))
	for i := range forward {
		forward[i] = i
	}
	want := trace(forward)
	rng := rand.New(rand.NewSource(1))
	for range 10 {
		if got := trace(rng.Perm(len(writes))); got != want {
			t.Fatalf("scans differ:\n%s\n%s", got, want)
		}
	}
}
