package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
)

// CRDT models. An update is applied by one replica of the key (its applier: the
// coordinator, or the replica a non-replica forwarded it to) to its own copy, under
// its actor (the node id: simulated disks are never wiped); the driver watches that
// step (applyOn) and records here what the oracle needs: for an increment, the
// applier's totals after it; for an add or a remove, the element's dots the applier
// held before (an add replaces them with its own dot, a remove drops them: either
// way the op observed them), and for an add the dot it issued.

// appliedUpdate is what the oracle saw when an update was applied.
type appliedUpdate struct {
	before object.Object // the applier's copy before (the reply's Reply.Before must match)
	p, n   uint64        // increment: the applier's totals after it
	addN   uint64        // add: the counter of the dot the applier gave Elem
	seen   []actorCount  // add, remove: Elem's dots the applier held before
}

// noteUpdate records an update's application on op.Applier's copy: before → after.
func (s *simulation) noteUpdate(op *Op, before, after object.Object) {
	u := &appliedUpdate{before: before}
	op.crdt = u
	fail := func(err error) {
		s.violate("oracle", op.Key, []int{op.ID}, "%s applied on %s: %v", op, op.Applier, err)
	}
	switch op.Kind {
	case OpIncrement:
		st, err := decodePN(after)
		if err != nil {
			fail(err)
			return
		}
		u.p, u.n = countOf(st.p, op.Applier), countOf(st.n, op.Applier)
	case OpAdd, OpRemove:
		st, err := decodeORSet(before)
		if err != nil {
			fail(err)
			return
		}
		u.seen = st.elems[op.Elem]
		if op.Kind == OpRemove {
			return
		}
		if st, err = decodeORSet(after); err != nil {
			fail(err)
			return
		}
		if d := st.elems[op.Elem]; len(d) != 1 || d[0].actor != op.Applier {
			fail(fmt.Errorf("after the add, %s is held under %v, not one dot of the applier", op.Elem, d))
			return
		}
		u.addN = st.elems[op.Elem][0].n
	}
}

// crdtLevels picks a level like the registers do.
func crdtLevel(r *rand.Rand, levels [3]int) core.Level {
	return registerLevels[weighted(r, levels[:])]
}

// overlaps reports whether a read at r is bound to see write w: w was acknowledged
// before r began, at levels with R+W > N.
func overlaps(cc *checkContext, w, r *Op) bool {
	return w.Complete < r.Invoke && w.Level.Required(cc.rf)+r.Level.Required(cc.rf) > cc.rf
}

// counterModel is PN-counters: gets and increments (decPct of them decrements).
type counterModel struct {
	levels [3]int // weights of ONE, QUORUM, ALL
	getPct int
	decPct int
}

func (m *counterModel) name() string                     { return "counter" }
func (m *counterModel) keyspace() string                 { return "counters" }
func (m *counterModel) settings() *core.KeyspaceSettings { return nil }
func (m *counterModel) completed(*client, *Op)           {}

func (m *counterModel) nextOp(r *rand.Rand, _ *client, op *Op) {
	op.Level = crdtLevel(r, m.levels)
	if r.IntN(100) < m.getPct {
		op.Kind = OpGet
		return
	}
	op.Kind, op.Delta = OpIncrement, 1+r.Int64N(5)
	if r.IntN(100) < m.decPct {
		op.Delta = -op.Delta
	}
}

func (m *counterModel) request(op *Op) core.Request {
	if op.Kind == OpIncrement {
		return core.Request{Op: core.OpUpdate, Key: op.Key, Level: op.Level,
			CRDT: crdt.Op{Type: crdt.TypePNCounter, Action: crdt.ActIncrement, Delta: op.Delta}}
	}
	return core.Request{Op: core.OpGet, Key: op.Key, Level: op.Level}
}

func (m *counterModel) show(op *Op) string {
	st, err := decodePN(op.Obj)
	if err != nil {
		return "undecodable: " + err.Error()
	}
	return fmt.Sprintf("counter %d", st.value())
}

// counterBounds are what the history allows a counter (or one actor's half of it)
// to hold: the acknowledged sum, plus any part of the unknown ones.
type counterBounds struct{ lo, hi int64 }

func (b *counterBounds) add(op *Op, delta int64) {
	switch op.Outcome {
	case OK:
		b.lo += delta
		b.hi += delta
	case Timeout, Pending:
		if delta < 0 {
			b.lo += delta
		} else {
			b.hi += delta
		}
	}
	// Failed: never applied, adds nothing.
}

func (b counterBounds) has(v int64) bool { return b.lo <= v && v <= b.hi }

func (m *counterModel) check(cc *checkContext, key object.Key, ops []*Op) {
	var total counterBounds
	var incs []*Op
	var final *Op
	// Per applier, its share: increments (p) and decrements (n) it applied.
	type share struct{ p, n counterBounds }
	shares := map[string]*share{}
	var actors []string
	for _, op := range ops {
		switch {
		case op.Kind == OpIncrement:
			total.add(op, op.Delta)
			if op.Dot.IsZero() {
				continue
			}
			incs = append(incs, op)
			sh := shares[op.Applier]
			if sh == nil {
				sh = &share{}
				shares[op.Applier] = sh
				actors = append(actors, op.Applier)
			}
			if op.Delta > 0 {
				sh.p.add(op, op.Delta)
			} else {
				sh.n.add(op, -op.Delta)
			}
		case op.Kind == OpGet && op.Outcome == OK && op.Final:
			final = op
		}
	}
	// Quorum reads: a read bound to see an acknowledged increment has each half of
	// its applier's share at least as large as that increment left it.
	for _, r := range ops {
		if r.Kind != OpGet || r.Outcome != OK || r.Final {
			continue
		}
		var st *pnState
		for _, w := range incs {
			if w.Outcome != OK || w.crdt == nil || !overlaps(cc, w, r) {
				continue
			}
			if st == nil {
				got, err := decodePN(r.Obj)
				if err != nil {
					cc.violate("oracle", key, []int{r.ID}, "%s: %v", r, err)
					break
				}
				st = &got
			}
			if p, n := countOf(st.p, w.Applier), countOf(st.n, w.Applier); p < w.crdt.p || n < w.crdt.n {
				cc.violate("quorum-read", key, []int{w.ID, r.ID}, "%s returned %s, without acknowledged %s (R+W > N): %s's share %d-%d, below the %d-%d it left",
					r, m.show(r), w, w.Applier, p, n, w.crdt.p, w.crdt.n)
			}
		}
	}
	if final == nil {
		if total.lo != 0 || total.hi != 0 {
			cc.violate("liveness", key, nil, "no final QUORUM read of %s succeeded", key.Key)
		}
		return
	}
	st, err := decodePN(final.Obj)
	if err != nil {
		cc.violate("oracle", key, []int{final.ID}, "%s: %v", final, err)
		return
	}
	v := st.value()
	switch {
	case v < total.lo:
		cc.violate("P1 lost-write", key, []int{final.ID}, "final %s returned %d, below the %d that acknowledged increments (and unknown decrements) allow",
			final, v, total.lo)
	case v > total.hi:
		cc.violate("counter-overcount", key, []int{final.ID}, "final %s returned %d, above the %d that acknowledged and unknown increments allow: a failed increment applied, or one applied twice",
			final, v, total.hi)
	}
	// Each applier's share, exactly: what it applied and acknowledged, plus part of
	// what it applied and did not answer; nothing from anybody else.
	for _, e := range st.p {
		if shares[e.actor] == nil {
			actors = append(actors, e.actor)
			shares[e.actor] = &share{}
		}
	}
	for _, e := range st.n {
		if shares[e.actor] == nil {
			actors = append(actors, e.actor)
			shares[e.actor] = &share{}
		}
	}
	for _, a := range actors {
		sh := shares[a]
		for _, half := range []struct {
			name string
			got  int64
			b    counterBounds
		}{{"increments", int64(countOf(st.p, a)), sh.p}, {"decrements", int64(countOf(st.n, a)), sh.n}} {
			switch {
			case half.got < half.b.lo:
				cc.violate("P1 lost-write", key, []int{final.ID}, "final %s: %s's %s total %d, below the %d it acknowledged", final, a, half.name, half.got, half.b.lo)
			case half.got > half.b.hi:
				cc.violate("counter-overcount", key, []int{final.ID}, "final %s: %s's %s total %d, above the %d it applied (failed, or applied twice)",
					final, a, half.name, half.got, half.b.hi)
			}
		}
	}
}

// setModel is add-wins OR-sets: gets, adds and removes of one element drawn from a
// few per set (so that elements are added again, and removed concurrently with adds).
// A remove names an element its client last saw in the set, most of the time.
type setModel struct {
	levels [3]int // weights of ONE, QUORUM, ALL
	mix    [3]int // weights of get, add, remove
	elems  int
}

func (m *setModel) name() string                     { return "set" }
func (m *setModel) keyspace() string                 { return "sets" }
func (m *setModel) settings() *core.KeyspaceSettings { return nil }

func (m *setModel) nextOp(r *rand.Rand, c *client, op *Op) {
	op.Kind = [3]OpKind{OpGet, OpAdd, OpRemove}[weighted(r, m.mix[:])]
	op.Level = crdtLevel(r, m.levels)
	switch op.Kind {
	case OpAdd:
		op.Elem = fmt.Sprintf("e%d", r.IntN(m.elems))
	case OpRemove:
		if seen := c.seen[op.Key]; len(seen) > 0 && r.IntN(4) > 0 {
			op.Elem = seen[r.IntN(len(seen))]
		} else {
			op.Elem = fmt.Sprintf("e%d", r.IntN(m.elems))
		}
	}
}

func (m *setModel) request(op *Op) core.Request {
	switch op.Kind {
	case OpAdd, OpRemove:
		act := crdt.ActAdd
		if op.Kind == OpRemove {
			act = crdt.ActRemove
		}
		return core.Request{Op: core.OpUpdate, Key: op.Key, Level: op.Level,
			CRDT: crdt.Op{Type: crdt.TypeORSet, Action: act, Elems: []string{op.Elem}}}
	}
	return core.Request{Op: core.OpGet, Key: op.Key, Level: op.Level}
}

// completed: the client remembers the elements it was last shown.
func (m *setModel) completed(c *client, op *Op) {
	if op.Outcome != OK {
		return
	}
	if st, err := decodeORSet(op.Obj); err == nil {
		c.seen[op.Key] = st.elements()
	}
}

func (m *setModel) show(op *Op) string {
	st, err := decodeORSet(op.Obj)
	if err != nil {
		return "undecodable: " + err.Error()
	}
	return "set {" + strings.Join(st.elements(), " ") + "}"
}

// observes reports whether update u (an add or a remove of the same element) held
// actor's dot at counter n, or a later one of the same actor, which had replaced it:
// either way the dot is gone where u was applied, and cannot come back.
func observes(u *Op, actor string, n uint64) bool { return countOf(u.crdt.seen, actor) >= n }

// setLineage decides which adds of a set may legitimately have left it.
type setLineage struct {
	adds, removes []*Op
	memo          map[*Op]bool
}

// excused reports whether add a may be gone from the set: a remove (acknowledged or
// unknown) observed its dot, or an add that observed it (replacing it by its own) is
// excused in turn.
func (l *setLineage) excused(a *Op) bool {
	if v, ok := l.memo[a]; ok {
		return v
	}
	l.memo[a] = false // adds observe only older dots: no cycle
	v := false
	for _, r := range l.removes {
		if r.Elem == a.Elem && observes(r, a.Applier, a.crdt.addN) {
			v = true
			break
		}
	}
	for _, b := range l.adds {
		if v {
			break
		}
		if b != a && b.Elem == a.Elem && observes(b, a.Applier, a.crdt.addN) && l.excused(b) {
			v = true
		}
	}
	l.memo[a] = v
	return v
}

func (m *setModel) check(cc *checkContext, key object.Key, ops []*Op) {
	var adds, removes []*Op
	var final *Op
	ackedUpdates := false
	for _, op := range ops {
		switch {
		case op.Kind.IsUpdate() && !op.Dot.IsZero() && op.Outcome != Fail && op.crdt != nil:
			if op.Kind == OpAdd {
				adds = append(adds, op)
			} else {
				removes = append(removes, op)
			}
			ackedUpdates = ackedUpdates || op.Outcome == OK
		case op.Kind == OpGet && op.Outcome == OK && op.Final:
			final = op
		}
	}
	m.checkQuorumReads(cc, key, ops, adds, removes)
	if final == nil {
		if ackedUpdates {
			cc.violate("liveness", key, nil, "no final QUORUM read of %s succeeded", key.Key)
		}
		return
	}
	st, err := decodeORSet(final.Obj)
	if err != nil {
		cc.violate("oracle", key, []int{final.ID}, "%s: %v", final, err)
		return
	}
	// P1: an element is present if an acknowledged add of it was not observed by a
	// remove, directly or through the adds that replaced its dot.
	l := &setLineage{adds: adds, removes: removes, memo: map[*Op]bool{}}
	for _, a := range adds {
		if a.Outcome == OK && len(st.elems[a.Elem]) == 0 && !l.excused(a) {
			cc.violate("P1 lost-write", key, []int{a.ID, final.ID},
				"final %s returned %s without %s, added by acknowledged %s, which no remove observed", final, m.show(final), a.Elem, a)
		}
	}
	// Every dot that keeps an element present is an add's that no acknowledged update
	// observed: an element whose removal observed it comes back only if added again.
	for _, e := range st.elements() {
		for _, d := range st.elems[e] {
			var owner *Op
			for _, a := range adds {
				if a.Elem == e && a.Applier == d.actor && a.crdt.addN == d.n {
					owner = a
					break
				}
			}
			if owner == nil {
				cc.violate("unknown-write", key, []int{final.ID}, "final %s holds %s under dot %s:%d, which no add that did not fail made",
					final, e, d.actor, d.n)
				continue
			}
			for _, u := range append(removes[:len(removes):len(removes)], adds...) {
				if u == owner || u.Outcome != OK || u.Elem != e || !observes(u, d.actor, d.n) {
					continue
				}
				prop := "P1 resurrection"
				if u.Kind == OpAdd {
					prop = "superseded-dot"
				}
				cc.violate(prop, key, []int{owner.ID, u.ID, final.ID},
					"final %s holds %s under the dot of %s, which acknowledged %s had observed (and %s)", final, e, owner, u,
					map[bool]string{true: "removed", false: "replaced"}[u.Kind == OpRemove])
				break
			}
		}
	}
}

// checkQuorumReads: a read bound to see an acknowledged add (R+W > N, begun after it
// was acknowledged) has seen its dot; one bound to see an acknowledged remove holds
// none of the dots it removed.
func (m *setModel) checkQuorumReads(cc *checkContext, key object.Key, ops []*Op, adds, removes []*Op) {
	for _, r := range ops {
		if r.Kind != OpGet || r.Outcome != OK || r.Final {
			continue
		}
		var st *orState
		decode := func() bool {
			if st == nil {
				got, err := decodeORSet(r.Obj)
				if err != nil {
					cc.violate("oracle", key, []int{r.ID}, "%s: %v", r, err)
					return false
				}
				st = &got
			}
			return true
		}
		for _, a := range adds {
			if a.Outcome != OK || !overlaps(cc, a, r) {
				continue
			}
			if !decode() {
				return
			}
			if countOf(st.ctx, a.Applier) < a.crdt.addN {
				cc.violate("quorum-read", key, []int{a.ID, r.ID}, "%s returned %s, which has not seen acknowledged %s (R+W > N)", r, m.show(r), a)
			}
		}
		for _, rm := range removes {
			if rm.Outcome != OK || !overlaps(cc, rm, r) {
				continue
			}
			if !decode() {
				return
			}
			for _, d := range st.elems[rm.Elem] {
				if d.n <= countOf(rm.crdt.seen, d.actor) {
					cc.violate("quorum-read", key, []int{rm.ID, r.ID}, "%s returned %s, holding %s:%d of %s that acknowledged %s had removed (R+W > N)",
						r, m.show(r), d.actor, d.n, rm.Elem, rm)
				}
			}
		}
	}
}
