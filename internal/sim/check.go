package sim

import (
	"fmt"
	"sort"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/wire"
)

// Violation is a property a run broke.
type Violation struct {
	// Property names what broke: "P1 lost-write", "P1 resurrection", "P2 convergence",
	// "P3 failed-observed", "P3 unavailable-sent", "quorum-read", "monotonic-read",
	// "durability", "dot-reuse", "hlc-causality", "hint-ttl", "unknown-write",
	// "double-apply", "superseded-sibling", "sibling-count", "counter-overcount",
	// "liveness", "storage", "wire", "oracle" (the simulator lost track of a write),
	// and in strict mode "P1 realtime".
	Property string `json:"property"`
	Key      string `json:"key,omitempty"`
	// Ops are the ids of the operations involved, as in the history.
	Ops    []int  `json:"ops,omitempty"`
	Detail string `json:"detail"`
	// Count is how many times the same violation was found (same property, key, ops).
	Count int `json:"count,omitempty"`
}

// checkContext is what a model's checker may use.
type checkContext struct {
	s              *simulation
	rf             int
	monotonicReads bool // blocking read repair: QUORUM reads must not go back
}

func (cc *checkContext) violate(prop string, key object.Key, ops []int, format string, args ...any) {
	cc.s.violate(prop, key, ops, format, args...)
}

// clockLoss records an LWW loss explained by clocks: measured, or a violation in
// strict mode.
func (cc *checkContext) clockLoss(key object.Key, ops []int, format string, args ...any) {
	if cc.s.cfg.StrictLWW {
		cc.violate("P1 realtime", key, ops, format, args...)
		return
	}
	cc.s.clockLosses = append(cc.s.clockLosses, Violation{Property: "lww-clock-loss", Key: key.Key, Ops: ops, Detail: fmt.Sprintf(format, args...)})
}

func (cc *checkContext) ownerOf(sib object.Sibling) *Op { return cc.s.ownerOf(sib) }

// observeReady is the oracle's look at every Ready as the driver takes it: it records
// each hint's expiry when first stored, and checks that no hint is sent at or after
// it (by the holder's clock, which is the one the core expires hints by).
func (s *simulation) observeReady(n *simNode, rd *core.Ready, nowMs int64) {
	for _, h := range rd.Batch.Hints {
		k := hintKey{n.idx, h.ID}
		if _, ok := s.hints[k]; !ok {
			s.hints[k] = h.ExpiresAt
		}
	}
	for _, m := range rd.Messages {
		if m.Type != wire.HintReq {
			continue
		}
		if exp, ok := s.hints[hintKey{n.idx, m.ID}]; ok && nowMs >= exp {
			s.violate("hint-ttl", m.Key, nil, "node %s sent hint %d (%s) to %s %d ms after its TTL ran out",
				n.id, m.ID, m.Key.Key, m.To, nowMs-exp)
		}
	}
}

// checkAll runs every checker over the finished run.
func (s *simulation) checkAll() {
	cc := &checkContext{s: s, rf: s.sc.rf, monotonicReads: s.sc.readRepair == core.ReadRepairBlocking}
	byKey := map[object.Key][]*Op{}
	for _, op := range s.history.Ops {
		byKey[op.Key] = append(byKey[op.Key], op)
	}
	keys := make([]object.Key, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Keyspace != keys[j].Keyspace {
			return keys[i].Keyspace < keys[j].Keyspace
		}
		return keyIndex(keys[i].Key) < keyIndex(keys[j].Key)
	})
	if s.phase == phaseDone {
		for _, k := range keys {
			ops := byKey[k]
			s.models[ops[0].model].check(cc, k, ops)
		}
	}
	for _, op := range s.history.Ops {
		if op.Kind.IsWrite() && op.Outcome == OK && op.TS == 0 {
			s.violate("oracle", op.Key, []int{op.ID}, "the simulator did not find the version %s stamped; the checks ignore it", op)
		}
		if op.Kind == OpGet && op.Outcome == OK && op.Obj.Kind.IsRegister() {
			for _, sib := range op.Obj.Siblings {
				s.checkSibling(sib, op.Key, op.String)
			}
		}
	}
	s.scanReplicas()
}

// checkSibling checks one copy of a write found somewhere (where names the place):
// it names a write some client made (by dot or value), not one that failed, and not
// under a dot that names a different write. It is for register kinds (LWW and
// siblings): a CRDT's one sibling is a merged state, which its model checks.
func (s *simulation) checkSibling(sib object.Sibling, key object.Key, where func() string) {
	owner := s.ownerOf(sib)
	switch {
	case owner == nil:
		s.violate("unknown-write", key, nil, "%s holds %s, which no client wrote", where(), describe(observation{ok: true, sib: sib}))
	case owner.Outcome == Fail:
		s.violate("P3 failed-observed", key, []int{owner.ID}, "%s holds the write of %s, which failed: %s", where(), owner, owner.Err)
	}
	if e, ok := s.dots[sib.Dot]; ok && e.digest != siblingDigest(sib) {
		s.violate("dot-reuse", key, []int{e.op.ID}, "%s holds a write under dot %s:%d that differs from %s's",
			where(), sib.Dot.Actor, sib.Dot.Counter, e.op)
	}
}

// scanReplicas checks every object and hint every node holds at the end.
func (s *simulation) scanReplicas() {
	for _, n := range s.nodes {
		kss, err := n.store.Keyspaces()
		if err != nil {
			s.violate("storage", noKey, nil, "node %s: keyspaces: %v", n.id, err)
			continue
		}
		for _, ks := range kss {
			err := n.store.ScanObjects(ks, "", func(key object.Key, obj object.Object) bool {
				if !obj.Kind.IsRegister() {
					return true
				}
				for _, sib := range obj.Siblings {
					s.checkSibling(sib, key, func() string { return "node " + n.id })
				}
				return true
			})
			if err != nil {
				s.violate("storage", noKey, nil, "node %s: scan: %v", n.id, err)
			}
		}
		err = n.store.ScanHints("", func(h record.Hint) bool {
			if !h.Object.Kind.IsRegister() {
				return true
			}
			for _, sib := range h.Object.Siblings {
				s.checkSibling(sib, h.Key, func() string { return fmt.Sprintf("a hint on %s for %s", n.id, h.Target) })
			}
			return true
		})
		if err != nil {
			s.violate("storage", noKey, nil, "node %s: scan hints: %v", n.id, err)
		}
	}
}
