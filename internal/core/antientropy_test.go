package core_test

import (
	"fmt"
	"testing"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/ring"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// TestAntiEntropyBytesGrowWithDifference syncs two replicas of 100,000 keys that differ
// in 0.1% of them, and checks that the exchange sends under 2% of the bytes a full
// transfer would, and that both end equal.
func TestAntiEntropyBytesGrowWithDifference(t *testing.T) {
	const keys, differing = 100_000, 100
	if testing.Short() {
		t.Skip("100,000 keys; skipped with -short")
	}
	ids := []string{"a", "b"}
	stores := map[string]mapStore{"a": {}, "b": {}}
	full := 0
	value := make([]byte, 100)
	for i := 0; i < keys; i++ {
		k := object.Key{Keyspace: "default", Key: fmt.Sprintf("key-%06d", i)}
		o := object.Object{Siblings: []object.Sibling{{Value: value, Timestamp: version.MakeTimestamp(1000, 0), Dot: version.Dot{Actor: "a", Counter: uint64(i + 1)}}}}
		stores["a"][k], stores["b"][k] = o, o
		full += len(k.Keyspace) + len(k.Key) + len(object.Encode(o))
	}
	for i := 0; i < differing; i++ {
		k := object.Key{Keyspace: "default", Key: fmt.Sprintf("key-%06d", i*997)}
		stores["b"][k] = object.Object{Siblings: []object.Sibling{{Value: []byte("newer"), Timestamp: version.MakeTimestamp(2000, 0), Dot: version.Dot{Actor: "b", Counter: 1}}}}
	}
	r := ring.New([]ring.Member{{ID: "a"}, {ID: "b"}}, ring.DefaultVnodes)
	cores := map[string]*core.Core{}
	for _, id := range ids {
		cfg := core.DefaultConfig(id)
		cfg.ReplicationFactor = 2
		c, err := core.New(cfg, stores[id], 0)
		if err != nil {
			t.Fatal(err)
		}
		c.SetView(core.View{Ring: r, Up: map[string]bool{"a": true, "b": true}})
		cores[id] = c
	}
	sent := 0
	var inflight []wire.Message
	flush := func(id string) {
		rd := cores[id].Ready()
		for _, w := range rd.Batch.Objects {
			stores[id][w.Key] = w.Object
		}
		for _, m := range rd.Messages {
			sent += len(wire.Append(nil, m))
			inflight = append(inflight, m)
		}
		cores[id].Advance()
	}
	if n := cores["a"].StartRepair(1_000_000, ""); n != 1 {
		t.Fatalf("started %d exchanges, want 1", n)
	}
	flush("a")
	for len(inflight) > 0 {
		m := inflight[0]
		inflight = inflight[1:]
		cores[m.To].Receive(1_000_000, m)
		flush(m.To)
	}
	for k, o := range stores["a"] {
		if !object.Equal(o, stores["b"][k]) {
			t.Fatalf("%s differs after the exchange", k)
		}
	}
	if len(stores["a"]) != keys || len(stores["b"]) != keys {
		t.Fatalf("key counts %d and %d, want %d", len(stores["a"]), len(stores["b"]), keys)
	}
	st := cores["a"].Stats()
	ratio := float64(sent) / float64(full)
	t.Logf("%d keys, %d differing: exchange sent %d bytes, full transfer %d bytes (%.3f%%); ranges compared %d, differing %d, keys repaired %d",
		keys, differing, sent, full, 100*ratio, st.AERangesCompared, st.AERangesDiffering, st.AEKeysRepaired)
	if ratio >= 0.02 {
		t.Fatalf("the exchange sent %.2f%% of a full transfer, want under 2%%", 100*ratio)
	}
	if st.AEKeysRepaired < differing {
		t.Fatalf("keys repaired %d, want at least %d", st.AEKeysRepaired, differing)
	}
}

// TestHintIDsFitABigintAndIncrease: hint ids increase in creation order and stay below
// 2⁶³ (PostgreSQL's bigint), also for a restarted core.
func TestHintIDsFitABigintAndIncrease(t *testing.T) {
	r := ring.New([]ring.Member{{ID: "a"}, {ID: "b"}}, ring.DefaultVnodes)
	store := mapStore{}
	cfg := core.DefaultConfig("a")
	cfg.ReplicationFactor, cfg.Shards, cfg.Shard = 2, 64, 63
	c, err := core.New(cfg, store, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.SetView(core.View{Ring: r, Up: map[string]bool{"a": true}}) // b down: every write hints
	now := int64(1_900_000_000_000)                               // 2030
	var last uint64
	for i := 0; i < 1000; i++ {
		c.Submit(now, core.Request{ID: uint64(i + 1), Op: core.OpPut, Key: object.Key{Keyspace: "default", Key: fmt.Sprint(i)}, Value: []byte("v"), Level: core.One})
		for _, h := range c.Ready().Batch.Hints {
			if h.ID >= 1<<63 || h.ID <= last {
				t.Fatalf("hint id %d after %d: not increasing or beyond a bigint", h.ID, last)
			}
			last = h.ID
		}
		c.Advance()
	}
}
