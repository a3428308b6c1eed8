package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// siblingsModel is a keyspace that keeps siblings (core.ResolutionSiblings): gets,
// puts of values unique in the run, and deletes, at ONE, QUORUM and ALL. A client
// carries, per key, the join of the contexts of every reply it got (reads, and the
// context a write answers with, as HTTP PUT does), and sends it with its next write;
// blindPct of the writes carry no context at all (concurrent with everything).
//
// The causal oracle: a write w is superseded when a later write's context covers its
// dot (version.Vector.Contains), which is exactly when the core drops it. After heal
// and convergence, the live siblings of the key must be the acknowledged puts that no
// write superseded — every one of them (P1) — plus possibly unknown ones, and none
// that an acknowledged write superseded; there can be no more of them than there
// were concurrent writers.
type siblingsModel struct {
	levels     [3]int // weights of ONE, QUORUM, ALL
	mix        [3]int // weights of get, put, delete
	blindPct   int
	readRepair core.ReadRepairMode
}

// siblingsKeyspace is the keyspace of the siblings model.
const siblingsKeyspace = "siblings"

func (m *siblingsModel) name() string     { return "siblings" }
func (m *siblingsModel) keyspace() string { return siblingsKeyspace }
func (m *siblingsModel) settings() *core.KeyspaceSettings {
	return &core.KeyspaceSettings{ReadRepair: m.readRepair, Resolution: core.ResolutionSiblings}
}

func (m *siblingsModel) nextOp(r *rand.Rand, c *client, op *Op) {
	op.Kind = [3]OpKind{OpGet, OpPut, OpDelete}[weighted(r, m.mix[:])]
	op.Level = registerLevels[weighted(r, m.levels[:])]
	if op.Kind == OpGet {
		return
	}
	if op.Kind == OpPut {
		op.Value = uniqueValue(r, op.ID)
	}
	if r.IntN(100) >= m.blindPct {
		op.Context = c.ctx[op.Key]
	}
}

// uniqueValue is a value unique in the run, so that any copy of it anywhere names its
// op; padded to vary message sizes.
func uniqueValue(r *rand.Rand, id int) []byte {
	v := fmt.Appendf(nil, "v%d.", id)
	for range r.IntN(48) {
		v = append(v, 'a'+byte(r.IntN(26)))
	}
	return v
}

func (m *siblingsModel) request(op *Op) core.Request {
	req := core.Request{Key: op.Key, Level: op.Level, Context: op.Context}
	switch op.Kind {
	case OpPut:
		req.Op, req.Value = core.OpPut, op.Value
	case OpDelete:
		req.Op = core.OpDelete
	default:
		req.Op = core.OpGet
	}
	return req
}

// completed: the client keeps the context of what it was answered.
func (m *siblingsModel) completed(c *client, op *Op) {
	if op.Outcome == OK {
		c.ctx[op.Key] = c.ctx[op.Key].Join(op.Obj.FullContext())
	}
}

func (m *siblingsModel) show(op *Op) string {
	var vals []string
	dead := 0
	for _, s := range op.Obj.Siblings {
		if !s.Live(math.MaxInt64) {
			dead++
			continue
		}
		v, _, _ := strings.Cut(string(s.Value), ".")
		vals = append(vals, v)
	}
	out := fmt.Sprintf("siblings [%s]", strings.Join(vals, " "))
	if dead > 0 {
		out += fmt.Sprintf(" and %d tombstone(s)", dead)
	}
	return out
}

// liveDots returns the dots of o's live siblings.
func liveDots(o object.Object) map[version.Dot]bool {
	out := map[version.Dot]bool{}
	for _, s := range o.Siblings {
		if s.Live(math.MaxInt64) {
			out[s.Dot] = true
		}
	}
	return out
}

// siblingWrite is one stamped write of a siblings key, with what supersedes it.
type siblingWrite struct {
	op *Op
	// byAny: some stamped write (acknowledged or unknown) carried a context covering
	// this write's dot; byOK: an acknowledged one did (then it must be gone).
	byAny, byOK *Op
}

func (m *siblingsModel) check(cc *checkContext, key object.Key, ops []*Op) {
	var writes []*siblingWrite
	var final *Op
	for _, op := range ops {
		switch {
		case op.Kind.IsWrite() && !op.Dot.IsZero() && op.Outcome != Fail:
			writes = append(writes, &siblingWrite{op: op})
		case op.Kind == OpGet && op.Outcome == OK && op.Final:
			final = op
		}
	}
	byDot := make(map[version.Dot]*siblingWrite, len(writes))
	for _, w := range writes {
		byDot[w.op.Dot] = w
	}
	// The oracle: who supersedes whom, by the contexts the writes carried.
	for _, later := range writes {
		if len(later.op.Context) == 0 {
			continue
		}
		for _, w := range writes {
			if w == later || !later.op.Context.Contains(w.op.Dot) {
				continue
			}
			if w.byAny == nil {
				w.byAny = later.op
			}
			if later.op.Outcome == OK && w.byOK == nil {
				w.byOK = later.op
			}
		}
	}
	m.checkQuorumReads(cc, key, ops, writes)
	if final == nil {
		for _, w := range writes {
			if w.op.Outcome == OK {
				cc.violate("liveness", key, nil, "no final QUORUM read of %s succeeded", key.Key)
				break
			}
		}
		return
	}
	live := liveDots(final.Obj)
	// P1: every acknowledged put that no write superseded is a sibling.
	for _, w := range writes {
		if w.op.Kind == OpPut && w.op.Outcome == OK && w.byAny == nil && !live[w.op.Dot] {
			cc.violate("P1 lost-write", key, []int{w.op.ID, final.ID},
				"final %s returned %s without acknowledged %s, which no write's context covered", final, m.show(final), w.op)
		}
	}
	// No sibling that an acknowledged write superseded.
	for _, s := range final.Obj.Siblings {
		if !live[s.Dot] {
			continue
		}
		w := byDot[s.Dot]
		if w == nil || w.byOK == nil {
			continue // a sibling no client wrote is reported by checkSibling
		}
		cc.violate("superseded-sibling", key, []int{w.op.ID, w.byOK.ID, final.ID},
			"final %s still holds %s, superseded by acknowledged %s whose context covered it", final, w.op, w.byOK)
	}
	// No more siblings than concurrent writers: a client's write carrying its context
	// supersedes the client's own earlier writes, except those it did not hear about
	// (timed out) and those followed by a blind write.
	writers := m.concurrentWriters(ops)
	if n := len(live); n > writers {
		cc.violate("sibling-count", key, []int{final.ID},
			"final %s returned %d live siblings, more than the %d concurrent writers", final, n, writers)
	}
}

// concurrentWriters bounds how many siblings the clients' writes to a key can leave:
// per client, its last write, plus each write it did not learn the outcome of, plus
// each write followed by one without a context; never more than it wrote.
func (m *siblingsModel) concurrentWriters(ops []*Op) int {
	type tally struct{ writes, loose int }
	per := map[int]*tally{}
	var clients []int
	for _, op := range ops {
		if !op.Kind.IsWrite() || op.Final {
			continue
		}
		t := per[op.Client]
		if t == nil {
			t = &tally{}
			per[op.Client] = t
			clients = append(clients, op.Client)
		}
		t.writes++
		if op.Outcome == Timeout || op.Outcome == Pending {
			t.loose++
		}
		if len(op.Context) == 0 {
			t.loose++ // the write before it (if any) is not superseded by it
		}
	}
	slices.Sort(clients)
	total := 0
	for _, c := range clients {
		t := per[c]
		total += min(t.writes, 1+t.loose)
	}
	return total
}

// checkQuorumReads: a read at R that began after a put at W was acknowledged, with
// R+W > N, holds that put as a sibling, unless some write superseded it.
func (m *siblingsModel) checkQuorumReads(cc *checkContext, key object.Key, ops []*Op, writes []*siblingWrite) {
	var acked []*siblingWrite
	for _, w := range writes {
		if w.op.Kind == OpPut && w.op.Outcome == OK && w.byAny == nil {
			acked = append(acked, w)
		}
	}
	if len(acked) == 0 {
		return
	}
	for _, r := range ops {
		if r.Kind != OpGet || r.Outcome != OK || r.Final {
			continue
		}
		need := r.Level.Required(cc.rf)
		var live map[version.Dot]bool
		for _, w := range acked {
			if w.op.Complete >= r.Invoke || w.op.Level.Required(cc.rf)+need <= cc.rf {
				continue
			}
			if live == nil {
				live = liveDots(r.Obj)
			}
			if !live[w.op.Dot] {
				cc.violate("quorum-read", key, []int{w.op.ID, r.ID},
					"%s returned %s without acknowledged %s (R+W > N), which no write superseded", r, m.show(r), w.op)
			}
		}
	}
}
