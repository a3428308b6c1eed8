package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	testDSN(t)
	for _, d := range []struct {
		name string
		dur  storage.Durability
	}{{"Sync", storage.Sync}, {"NoSync", storage.NoSync}} {
		t.Run(d.name, func(t *testing.T) {
			if d.dur == storage.NoSync && testing.Short() {
				t.Skip("-short: the suite runs once, with Sync")
			}
			storagetest.Run(t, func(t *testing.T) storage.Engine {
				return openTest(t, Options{Durability: d.dur})
			})
		})
	}
}

// TestDurable reopens a new Engine on the same database and node id: "the same
// directory" of RunDurable is the node id here.
func TestDurable(t *testing.T) {
	dsn := testDSN(t)
	outer := t
	nodes := map[string]string{}
	storagetest.RunDurable(t, func(t *testing.T, dir string) storage.Engine {
		node, ok := nodes[dir]
		if !ok {
			sum := sha256.Sum256([]byte(dir))
			node = "durable-" + hex.EncodeToString(sum[:8])
			nodes[dir] = node
			// The rows outlive each session; they go when the whole test ends.
			outer.Cleanup(func() { deleteNode(outer, dsn, node) })
		}
		return openTest(t, Options{DSN: dsn, NodeID: node})
	})
}
