package sim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// registerModel is the last-write-wins register: gets, puts of values unique in the
// run, and deletes, at ONE, QUORUM and ALL.
type registerModel struct {
	levels [3]int // weights of ONE, QUORUM, ALL
	mix    [3]int // weights of get, put, delete
}

var registerLevels = [3]core.Level{core.One, core.Quorum, core.All}

func (m *registerModel) name() string                     { return "register" }
func (m *registerModel) keyspace() string                 { return "default" }
func (m *registerModel) settings() *core.KeyspaceSettings { return nil }

func (m *registerModel) completed(*client, *Op) {}

func (m *registerModel) show(op *Op) string { return describe(observe(op.Obj)) }

func (m *registerModel) nextOp(r *rand.Rand, _ *client, op *Op) {
	op.Kind = [3]OpKind{OpGet, OpPut, OpDelete}[weighted(r, m.mix[:])]
	op.Level = registerLevels[weighted(r, m.levels[:])]
	if op.Kind == OpPut {
		op.Value = uniqueValue(r, op.ID)
	}
}

func (m *registerModel) request(op *Op) core.Request {
	req := core.Request{Key: op.Key, Level: op.Level}
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

// weighted picks an index with probability proportional to its weight.
func weighted(r *rand.Rand, w []int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	n := r.IntN(total)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

// observation is what a read returned, reduced to the LWW winner.
type observation struct {
	ok  bool // the object held a sibling
	sib object.Sibling
}

func observe(o object.Object) observation {
	w, ok := o.Winner()
	return observation{ok: ok, sib: w}
}

func (o observation) ts() version.Timestamp {
	if !o.ok {
		return 0
	}
	return o.sib.Timestamp
}

func (o observation) live() bool { return o.ok && !o.sib.Tombstone }

// registerKey is one key's history, split the way the register checks need it.
type registerKey struct {
	key   object.Key
	acked []*Op // OK writes that were stamped, by completion time
	reads []*Op // OK reads, final ones included, by completion time
	final *Op   // the last OK final read
	// maxDeleteTS is the newest stamped delete not known to have failed: an absent
	// key may be that delete's tombstone, purged.
	maxDeleteTS version.Timestamp
}

func (m *registerModel) check(cc *checkContext, key object.Key, ops []*Op) {
	k := registerKey{key: key}
	for _, op := range ops {
		switch {
		case op.Kind.IsWrite() && op.TS != 0 && op.Outcome != Fail:
			if op.Kind == OpDelete {
				k.maxDeleteTS = max(k.maxDeleteTS, op.TS)
			}
			if op.Outcome == OK {
				k.acked = append(k.acked, op)
			}
		case op.Kind == OpGet && op.Outcome == OK:
			k.reads = append(k.reads, op)
			if op.Final {
				k.final = op
			}
		}
	}
	byCompletion := func(ops []*Op) {
		sort.SliceStable(ops, func(i, j int) bool { return ops[i].Complete < ops[j].Complete })
	}
	byCompletion(k.acked)
	byCompletion(k.reads)
	m.checkQuorumReads(cc, &k)
	if cc.monotonicReads {
		m.checkMonotonicReads(cc, &k)
	}
	m.checkFinal(cc, &k)
}

// covers reports whether an observation reflects write w (or something newer).
func (k *registerKey) covers(obs observation, w *Op) bool {
	return k.atLeast(obs, w.TS, w.Kind == OpDelete)
}

// atLeast reports whether an observation is as new as a version with timestamp ts
// (a tombstone if deleted): its winner is at least as new, or both say the key is not
// live (a tombstone may be purged once every replica has it, leaving nothing), or the
// key is absent and a newer delete exists (its tombstone purged).
func (k *registerKey) atLeast(obs observation, ts version.Timestamp, deleted bool) bool {
	switch {
	case obs.ts() >= ts:
		return true
	case deleted && !obs.live():
		return true
	case !obs.ok && k.maxDeleteTS >= ts:
		return true
	}
	return false
}

// newestIndex answers, for ops sorted by completion, "which op that completed before
// t, at a level that overlaps a read needing r replicas, is the newest?" in O(N log
// ops): per class of level (how many replicas it needs), the running newest.
type newestIndex struct {
	rf   int
	at   [][]int64 // by class: completion times, ascending
	best [][]*Op   // by class: the newest of the ops up to the same position
	ts   func(*Op) version.Timestamp
}

func newNewestIndex(ops []*Op, rf int, ts func(*Op) version.Timestamp) *newestIndex {
	x := &newestIndex{rf: rf, at: make([][]int64, rf+1), best: make([][]*Op, rf+1), ts: ts}
	for _, op := range ops {
		c := op.Level.Required(rf)
		if c > rf {
			continue
		}
		b := op
		if n := len(x.best[c]); n > 0 && ts(x.best[c][n-1]) >= ts(op) {
			b = x.best[c][n-1]
		}
		x.at[c] = append(x.at[c], op.Complete)
		x.best[c] = append(x.best[c], b)
	}
	return x
}

// newestBefore returns the newest op that completed before t at a level needing c
// replicas with c+need > rf, or nil.
func (x *newestIndex) newestBefore(t int64, need int) *Op {
	var best *Op
	for c := x.rf + 1 - need; c <= x.rf; c++ {
		if c < 1 {
			continue
		}
		i := sort.Search(len(x.at[c]), func(i int) bool { return x.at[c][i] >= t })
		if i == 0 {
			continue
		}
		if b := x.best[c][i-1]; best == nil || x.ts(b) > x.ts(best) {
			best = b
		}
	}
	return best
}

// checkQuorumReads: a read at R that began after a write at W was acknowledged, with
// R+W > N, returns that write or something newer (QUORUM and ALL count primaries only,
// and a replica acknowledges only what is durable). Final reads are left to
// checkFinal.
func (m *registerModel) checkQuorumReads(cc *checkContext, k *registerKey) {
	acked := newNewestIndex(k.acked, cc.rf, func(w *Op) version.Timestamp { return w.TS })
	for _, r := range k.reads {
		if r.Final {
			continue // checkFinal holds the final reads to the same, as P1
		}
		w := acked.newestBefore(r.Invoke, r.Level.Required(cc.rf))
		if w == nil {
			continue
		}
		if obs := observe(r.Obj); !k.covers(obs, w) {
			cc.violate("quorum-read", k.key, []int{w.ID, r.ID},
				"%s returned %s, older than acknowledged %s (R+W > N)", r, describe(obs), w)
		}
	}
}

// checkMonotonicReads: with blocking read repair, a read at R that began after a read
// at R' returned, with R+R' > N, returns what that read returned or something newer.
func (m *registerModel) checkMonotonicReads(cc *checkContext, k *registerKey) {
	reads := newNewestIndex(k.reads, cc.rf, func(r *Op) version.Timestamp { return observe(r.Obj).ts() })
	for _, r := range k.reads {
		prev := reads.newestBefore(r.Invoke, r.Level.Required(cc.rf))
		if prev == nil {
			continue
		}
		before, now := observe(prev.Obj), observe(r.Obj)
		if !k.atLeast(now, before.ts(), !before.live()) {
			cc.violate("monotonic-read", k.key, []int{prev.ID, r.ID},
				"%s returned %s after %s had returned %s (blocking read repair)", r, describe(now), prev, describe(before))
		}
	}
}

// checkFinal checks the final QUORUM read: P1 (no acknowledged write lost; a live
// value older than an acknowledged delete is a resurrection), and measures the LWW
// losses that clocks explain.
func (m *registerModel) checkFinal(cc *checkContext, k *registerKey) {
	if k.final == nil {
		if len(k.acked) > 0 {
			cc.violate("liveness", k.key, nil, "no final QUORUM read of %s succeeded", k.key.Key)
		}
		return
	}
	obs := observe(k.final.Obj)
	var lost []*Op
	for _, w := range k.acked {
		if !k.covers(obs, w) {
			lost = append(lost, w)
		}
	}
	if len(lost) > 0 {
		slices.SortFunc(lost, func(a, b *Op) int { return cmp.Compare(b.TS, a.TS) })
		prop := "P1 lost-write"
		if lost[0].Kind == OpDelete && obs.live() {
			prop = "P1 resurrection"
		}
		ids := []int{k.final.ID}
		for _, w := range lost {
			ids = append(ids, w.ID)
		}
		cc.violate(prop, k.key, ids, "final %s returned %s; %d acknowledged write(s) newer, the newest %s",
			k.final, describe(obs), len(lost), lost[0])
	}
	m.measureClockLoss(cc, k, obs)
}

// measureClockLoss: the final value's write was superseded in real time (an
// acknowledged write began after it was acknowledged) yet won, by its larger
// timestamp. That is last-write-wins under clocks that disagree; it is reported, and
// is a violation only in strict mode.
func (m *registerModel) measureClockLoss(cc *checkContext, k *registerKey, obs observation) {
	if !obs.ok {
		return
	}
	owner := cc.ownerOf(obs.sib)
	if owner == nil || owner.Outcome != OK {
		return
	}
	for _, a := range k.acked {
		if a.Invoke > owner.Complete && a.TS < obs.sib.Timestamp {
			cc.clockLoss(k.key, []int{owner.ID, a.ID},
				"%s won over %s, which began %sms after it was acknowledged", owner, a, msString(a.Invoke-owner.Complete))
			return
		}
	}
}

func describe(obs observation) string {
	switch {
	case !obs.ok:
		return "nothing"
	case obs.sib.Tombstone:
		return fmt.Sprintf("a tombstone (ts %s, dot %s:%d)", obs.sib.Timestamp, obs.sib.Dot.Actor, obs.sib.Dot.Counter)
	}
	v := obs.sib.Value
	if i := slices.Index(v, '.'); i > 0 {
		v = v[:i]
	}
	return fmt.Sprintf("%q (ts %s)", v, obs.sib.Timestamp)
}
