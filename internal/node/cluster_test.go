package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/transport"
)

// memCluster is an in-process cluster: real nodes (shards, goroutines, real clock) on
// memory storage, an in-memory network with fault controls, and a membership view the
// test sets by hand.
type memCluster struct {
	t     *testing.T
	net   *transport.Network
	view  *membership.Static
	nodes map[string]*Node
}

func newMemCluster(t *testing.T, ids []string, adjust func(*Config)) *memCluster {
	t.Helper()
	c := &memCluster{t: t, net: transport.NewNetwork(1), nodes: map[string]*Node{}}
	var ms []membership.Member
	for _, id := range ids {
		ms = append(ms, membership.Member{ID: id, Status: membership.Alive})
	}
	c.view = membership.NewStatic(ms...)
	for _, id := range ids {
		cfg := DefaultConfig()
		cfg.NodeID, cfg.Storage = id, "memory"
		cfg.RequestTimeout = time.Second
		cfg.View = c.view
		cfg.NewTransport = func(id string, h transport.Handler) (transport.Transport, error) {
			return c.net.Join(id, h), nil
		}
		if adjust != nil {
			adjust(&cfg)
		}
		n, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.nodes[id] = n
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.Close()
		}
		c.net.Close()
	})
	// Memory storage starts empty: with anti-entropy on, nodes fill before they count.
	waitUntil(t, "the nodes to finish filling", func() bool {
		for _, n := range c.nodes {
			if n.Filling() {
				return false
			}
		}
		return true
	})
	return c
}

func (c *memCluster) do(id string, req core.Request) core.Reply {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if req.Key.Keyspace == "" {
		req.Key.Keyspace = "default"
	}
	return c.nodes[id].Do(ctx, req)
}

func put(key, value string, level core.Level) core.Request {
	return core.Request{Op: core.OpPut, Key: object.Key{Key: key}, Value: []byte(value), Level: level}
}

func get(key string, level core.Level) core.Request {
	return core.Request{Op: core.OpGet, Key: object.Key{Key: key}, Level: level}
}

// readAlone reads key through id at ONE with every other member marked down, so only
// id's own copy answers; the view is restored afterwards.
func (c *memCluster) readAlone(id, key string) core.Reply {
	c.t.Helper()
	for other := range c.nodes {
		if other != id {
			c.view.Set(other, membership.Dead)
		}
	}
	defer func() {
		for other := range c.nodes {
			c.view.Set(other, membership.Alive)
		}
	}()
	waitUntil(c.t, "the view to reach the shards", func() bool {
		r := c.do(id, get(key, core.Two))
		return errors.Is(r.Err, core.ErrUnavailable)
	})
	return c.do(id, get(key, core.One))
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInProcessClusterWithANodeCutOff: a node cut off by the network (membership still
// says alive) makes ALL time out while QUORUM works; once it is marked down, ALL fails
// at once and writes leave hints; when it is back, the hints bring it level.
func TestInProcessClusterWithANodeCutOff(t *testing.T) {
	c := newMemCluster(t, []string{"a", "b", "c"}, func(cfg *Config) { cfg.AntiEntropyInterval = 0 })
	if r := c.do("a", put("k", "v1", core.All)); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := c.do("c", get("k", core.Quorum)); r.Err != nil || string(r.Value) != "v1" {
		t.Fatalf("GET through c = %q, %v", r.Value, r.Err)
	}

	c.net.Isolate("c")
	if r := c.do("a", put("k", "v2", core.Quorum)); r.Err != nil {
		t.Fatalf("QUORUM write with c cut off: %v", r.Err)
	}
	if r := c.do("b", get("k", core.Quorum)); r.Err != nil || string(r.Value) != "v2" {
		t.Fatalf("QUORUM read with c cut off = %q, %v", r.Value, r.Err)
	}
	if r := c.do("a", put("k", "v3", core.All)); !errors.Is(r.Err, core.ErrTimeout) {
		t.Fatalf("ALL with c cut off but believed alive = %v, want TIMEOUT", r.Err)
	}

	c.view.Set("c", membership.Dead)
	waitUntil(t, "ALL to fail with UNAVAILABLE", func() bool {
		r := c.do("a", put("k", "v4", core.All))
		return r.Err != nil && r.Err.Error() == "UNAVAILABLE need 3 replicas for ALL, 2 alive"
	})
	for i := 0; i < 100; i++ {
		if r := c.do("b", put(fmt.Sprintf("during-%d", i), "x", core.Quorum)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	hints, err := c.nodes["b"].Hints(context.Background())
	if err != nil || len(hints) != 1 || hints[0].Target != "c" || hints[0].Count < 100 {
		t.Fatalf("b's hints = %+v, %v; want ≥ 100 for c", hints, err)
	}

	c.net.HealAll()
	c.view.Set("c", membership.Alive)
	waitUntil(t, "hints to drain", func() bool {
		for _, n := range c.nodes {
			if hs, _ := n.Hints(context.Background()); len(hs) > 0 {
				return false
			}
		}
		return true
	})
	for i := 0; i < 100; i += 9 {
		if r := c.readAlone("c", fmt.Sprintf("during-%d", i)); r.Err != nil || string(r.Value) != "x" {
			t.Fatalf("c alone: during-%d = %q, %v", i, r.Value, r.Err)
		}
	}
}

// TestInProcessPartitionHealsByAntiEntropy: writes made while a replica was partitioned
// away (hints dropped by a tiny TTL) reach it through background anti-entropy.
func TestInProcessPartitionHealsByAntiEntropy(t *testing.T) {
	c := newMemCluster(t, []string{"a", "b", "c"}, func(cfg *Config) {
		cfg.AntiEntropyInterval = 300 * time.Millisecond
		cfg.HintTTL = time.Millisecond
		cfg.TombstoneGrace = time.Hour
	})
	c.net.Isolate("c")
	for i := 0; i < 200; i++ {
		if r := c.do("a", put(fmt.Sprintf("p-%d", i), "v", core.Quorum)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	c.net.HealAll()
	waitUntil(t, "anti-entropy to repair c", func() bool {
		held := 0
		c.nodes["c"].engine.ScanObjects("default", "", func(object.Key, object.Object) bool { held++; return true })
		return held == 200
	})
	// Every key reached c by anti-entropy, or by a hint of the last writes that had
	// not yet reached its 1 ms TTL when the partition healed (a CI run saw 177 keys
	// repaired by anti-entropy). A shard publishes its counters after its commit, so
	// they may trail what storage shows for a moment.
	var repaired, delivered uint64
	waitUntil(t, "anti-entropy and hints to account for the 200 keys", func() bool {
		repaired, delivered = 0, 0
		for _, id := range []string{"a", "b", "c"} {
			st := c.nodes[id].coreStats()
			repaired += st.AEKeysRepaired
			delivered += st.HintsDelivered
		}
		return repaired+delivered >= 200
	})
	t.Logf("anti-entropy repaired %d keys, hints delivered %d", repaired, delivered)
	if repaired < 100 {
		t.Fatalf("anti-entropy repaired %d keys (hints delivered %d): the partition was not healed by anti-entropy", repaired, delivered)
	}
	for i := 0; i < 200; i += 13 {
		if r := c.readAlone("c", fmt.Sprintf("p-%d", i)); r.Err != nil || string(r.Value) != "v" {
			t.Fatalf("c alone: p-%d = %q, %v", i, r.Value, r.Err)
		}
	}
}

func del(key string, level core.Level) core.Request {
	return core.Request{Op: core.OpDelete, Key: object.Key{Key: key}, Level: level}
}

// TestInProcessDeleteDuringPartitionNeverResurrects: a key deleted while one replica
// was partitioned away (its hint expiring) stays deleted whichever mechanism reaches
// the stale replica first: a read at ALL, or anti-entropy.
func TestInProcessDeleteDuringPartitionNeverResurrects(t *testing.T) {
	for _, heal := range []string{"read", "anti-entropy"} {
		t.Run(heal, func(t *testing.T) {
			c := newMemCluster(t, []string{"a", "b", "c"}, func(cfg *Config) {
				cfg.HintTTL = time.Millisecond
				cfg.TombstoneGrace = time.Hour
				if heal == "read" {
					cfg.AntiEntropyInterval = 0
				} else {
					cfg.AntiEntropyInterval = 200 * time.Millisecond
				}
			})
			if r := c.do("a", put("gone", "zombie", core.All)); r.Err != nil {
				t.Fatal(r.Err)
			}
			c.net.Isolate("c")
			if r := c.do("a", del("gone", core.Quorum)); r.Err != nil || !r.Found {
				t.Fatalf("DEL with c partitioned = found %v, %v", r.Found, r.Err)
			}
			c.net.HealAll()
			if heal == "read" {
				r := c.do("b", get("gone", core.All))
				if r.Err != nil || r.Found {
					t.Fatalf("read at ALL after the delete = %q found=%v, %v", r.Value, r.Found, r.Err)
				}
			}
			waitUntil(t, "c to hold the tombstone", func() bool {
				o, _, _ := c.nodes["c"].engine.Get(object.Key{Keyspace: "default", Key: "gone"})
				w, ok := o.Winner()
				return ok && w.Tombstone
			})
			if r := c.readAlone("c", "gone"); r.Err != nil || r.Found {
				t.Fatalf("c alone returns the deleted value %q (found=%v, %v)", r.Value, r.Found, r.Err)
			}
		})
	}
}

// TestInProcessReadsFailOverFromAStalledReplica: with reads asking only R replicas, a
// replica cut off by the network but still believed alive delays the QUORUM reads that
// asked it by the speculative delay, after which they ask the replica they had left
// out; none fails.
func TestInProcessReadsFailOverFromAStalledReplica(t *testing.T) {
	c := newMemCluster(t, []string{"a", "b", "c"}, func(cfg *Config) {
		cfg.AntiEntropyInterval = 0
		cfg.SpeculativeRead = 20 * time.Millisecond
	})
	const keys = 40
	for i := range keys {
		if r := c.do("a", put(fmt.Sprintf("k%d", i), "v", core.All)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	c.net.Isolate("c")
	before := c.nodes["a"].coreStats().SpeculativeReads
	for i := range keys {
		if r := c.do("a", get(fmt.Sprintf("k%d", i), core.Quorum)); r.Err != nil || string(r.Value) != "v" {
			t.Fatalf("QUORUM read of k%d with c stalled = %q, %v", i, r.Value, r.Err)
		}
	}
	// a reads its own copy and asks the first peer in the key's preference order: c for
	// about half of the keys.
	if n := c.nodes["a"].coreStats().SpeculativeReads - before; n == 0 || n == keys {
		t.Errorf("%d of %d reads asked the left-out replica; want some, not all", n, keys)
	}
	c.net.HealAll()
}
