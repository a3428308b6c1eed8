package core_test

import (
	"testing"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/ring"
	"github.com/chorusdb/chorus/internal/wire"
)

// BenchmarkCoordinatorStep measures the core's work for one QUORUM put and one QUORUM
// get through a three-node cluster: the coordinator's Submit, the replicas' Receive,
// the coordinator's handling of their answers, and every Ready/Advance — everything
// but storage and the network.
func BenchmarkCoordinatorStep(b *testing.B) {
	ids := []string{"a", "b", "c"}
	var members []ring.Member
	for _, id := range ids {
		members = append(members, ring.Member{ID: id})
	}
	rg := ring.New(members, ring.DefaultVnodes)
	up := map[string]bool{"a": true, "b": true, "c": true}
	cores := map[string]*core.Core{}
	stores := map[string]mapStore{}
	for _, id := range ids {
		cfg := core.DefaultConfig(id)
		cfg.AntiEntropyIntervalMs = 0
		stores[id] = mapStore{}
		c, err := core.New(cfg, stores[id], 0)
		if err != nil {
			b.Fatal(err)
		}
		c.SetView(core.View{Ring: rg, Up: up})
		cores[id] = c
	}
	now := int64(1_000_000)
	var inbox []wire.Message
	flush := func(id string) {
		rd := cores[id].Ready()
		for _, w := range rd.Batch.Objects {
			stores[id][w.Key] = w.Object
		}
		inbox = append(inbox, rd.Messages...)
		cores[id].Advance()
	}
	step := func(req core.Request) {
		cores["a"].Submit(now, req)
		flush("a")
		for len(inbox) > 0 {
			m := inbox[0]
			inbox = inbox[1:]
			cores[m.To].Receive(now, m)
			flush(m.To)
		}
	}
	key := object.Key{Keyspace: "default", Key: "user:1"}
	value := make([]byte, 100)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now++
		step(core.Request{ID: uint64(2 * i), Op: core.OpPut, Key: key, Value: value})
		step(core.Request{ID: uint64(2*i + 1), Op: core.OpGet, Key: key})
	}
}
