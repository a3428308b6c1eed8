package sim

import (
	"slices"
	"strings"
	"testing"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// historyBuilder builds a hand-made history of one key for the checkers.
type historyBuilder struct {
	s   *simulation
	ops []*Op
}

func newHistoryBuilder(strict bool) *historyBuilder {
	s := &simulation{cfg: Config{StrictLWW: strict}, dots: map[version.Dot]dotEntry{}, values: map[string]*Op{}}
	s.sc.rf = 3
	return &historyBuilder{s: s}
}

var testKey = object.Key{Keyspace: "default", Key: "k0"}

// write adds a write stamped ts by node, invoked and completed at the given ms.
func (h *historyBuilder) write(kind OpKind, level core.Level, out Outcome, invoke, complete int64, node string, ts uint64) *Op {
	op := &Op{Kind: kind, Key: testKey, Level: level, Outcome: out, Invoke: invoke * usPerMs, Complete: complete * usPerMs, Node: node}
	op.ID = len(h.ops)
	if kind == OpPut {
		op.Value = []byte("v" + string(rune('a'+op.ID)) + ".")
		h.s.values[string(op.Value)] = op
	}
	if ts != 0 {
		op.TS = version.Timestamp(ts)
		op.Dot = version.Dot{Actor: node, Counter: ts}
		h.s.registerDot(h.sibling(op), op)
	}
	h.ops = append(h.ops, op)
	return op
}

func (h *historyBuilder) sibling(w *Op) object.Sibling {
	return object.Sibling{Value: w.Value, Dot: w.Dot, Timestamp: w.TS, Tombstone: w.Kind == OpDelete}
}

// read adds an OK read at level that returned w's write (nil: nothing).
func (h *historyBuilder) read(level core.Level, invoke, complete int64, final bool, w *Op) *Op {
	op := &Op{Kind: OpGet, Key: testKey, Level: level, Outcome: OK, Invoke: invoke * usPerMs, Complete: complete * usPerMs, Final: final}
	op.ID = len(h.ops)
	if w != nil {
		op.Obj = object.Object{Siblings: []object.Sibling{h.sibling(w)}}
	}
	h.ops = append(h.ops, op)
	return op
}

// check runs the register checker and the read observations; it returns the
// properties reported, violations first, then "measured:" clock losses.
func (h *historyBuilder) check(monotonic bool) []string {
	h.s.history.Ops = h.ops
	cc := &checkContext{s: h.s, rf: 3, monotonicReads: monotonic}
	(&registerModel{}).check(cc, testKey, h.ops)
	for _, op := range h.ops {
		if op.Kind == OpGet {
			for _, sib := range op.Obj.Siblings {
				h.s.checkSibling(sib, op.Key, op.String)
			}
		}
	}
	var out []string
	for _, v := range h.s.violations {
		out = append(out, v.Property)
	}
	for _, v := range h.s.clockLosses {
		out = append(out, "measured:"+v.Property)
	}
	return out
}

func TestSimRegisterChecker(t *testing.T) {
	for _, tc := range []struct {
		name   string
		strict bool
		mono   bool
		build  func(h *historyBuilder)
		want   []string
	}{
		{"latest acknowledged write survives", false, false, func(h *historyBuilder) {
			h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			w := h.write(OpPut, core.Quorum, OK, 20, 30, "b", 200)
			h.read(core.Quorum, 40, 45, false, w)
			h.read(core.Quorum, 100, 110, true, w)
		}, nil},
		{"acknowledged write lost", false, false, func(h *historyBuilder) {
			old := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			h.write(OpPut, core.One, OK, 20, 30, "b", 200)
			h.read(core.Quorum, 100, 110, true, old)
		}, []string{"P1 lost-write"}},
		{"resurrection after an acknowledged delete", false, false, func(h *historyBuilder) {
			p := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			h.write(OpDelete, core.Quorum, OK, 20, 30, "b", 200)
			h.read(core.Quorum, 100, 110, true, p)
		}, []string{"P1 resurrection"}},
		{"a purged tombstone reads as nothing", false, false, func(h *historyBuilder) {
			h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			h.write(OpDelete, core.Quorum, OK, 20, 30, "b", 200)
			h.read(core.Quorum, 40, 50, false, nil)
			h.read(core.Quorum, 100, 110, true, nil)
		}, nil},
		{"an unknown write may win", false, false, func(h *historyBuilder) {
			h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			t := h.write(OpPut, core.Quorum, Timeout, 20, 2020, "b", 200)
			h.read(core.Quorum, 3000, 3010, true, t)
		}, nil},
		{"stale QUORUM read after a QUORUM write", false, false, func(h *historyBuilder) {
			old := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			w := h.write(OpPut, core.Quorum, OK, 20, 30, "b", 200)
			h.read(core.Quorum, 40, 45, false, old)
			h.read(core.Quorum, 100, 110, true, w)
		}, []string{"quorum-read"}},
		{"a ONE write need not be seen by a QUORUM read", false, false, func(h *historyBuilder) {
			old := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			w := h.write(OpPut, core.One, OK, 20, 30, "b", 200)
			h.read(core.Quorum, 40, 45, false, old)
			h.read(core.All, 100, 110, true, w)
		}, nil},
		{"a ONE write is seen by an ALL read", false, false, func(h *historyBuilder) {
			old := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			w := h.write(OpPut, core.One, OK, 20, 30, "b", 200)
			h.read(core.All, 40, 45, false, old)
			h.read(core.Quorum, 100, 110, true, w)
		}, []string{"quorum-read"}},
		{"a read concurrent with the write may miss it", false, false, func(h *historyBuilder) {
			old := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			w := h.write(OpPut, core.Quorum, OK, 20, 30, "b", 200)
			h.read(core.Quorum, 25, 35, false, old)
			h.read(core.Quorum, 100, 110, true, w)
		}, nil},
		{"reads go back without blocking read repair", false, false, func(h *historyBuilder) {
			old := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			w := h.write(OpPut, core.One, Timeout, 20, 2020, "b", 200)
			h.read(core.Quorum, 30, 35, false, w)
			h.read(core.Quorum, 40, 45, false, old)
			h.read(core.Quorum, 3000, 3010, true, w)
		}, nil},
		{"reads go back despite blocking read repair", false, true, func(h *historyBuilder) {
			old := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			w := h.write(OpPut, core.One, Timeout, 20, 2020, "b", 200)
			h.read(core.Quorum, 30, 35, false, w)
			h.read(core.Quorum, 40, 45, false, old)
			h.read(core.Quorum, 3000, 3010, true, w)
		}, []string{"monotonic-read"}},
		{"a read after a purged delete reads nothing", false, true, func(h *historyBuilder) {
			p := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			h.read(core.Quorum, 20, 25, false, p)
			h.write(OpDelete, core.One, OK, 30, 40, "b", 200)
			h.read(core.Quorum, 50, 55, false, nil)
			h.read(core.Quorum, 3000, 3010, true, nil)
		}, nil},
		{"LWW loss explained by clocks is measured", false, false, func(h *historyBuilder) {
			ahead := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 300)
			h.write(OpPut, core.Quorum, OK, 20, 30, "b", 200)
			h.read(core.Quorum, 100, 110, true, ahead)
		}, []string{"measured:lww-clock-loss"}},
		{"LWW loss explained by clocks, strict", true, false, func(h *historyBuilder) {
			ahead := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 300)
			h.write(OpPut, core.Quorum, OK, 20, 30, "b", 200)
			h.read(core.Quorum, 100, 110, true, ahead)
		}, []string{"P1 realtime"}},
		{"a failed write is observed", false, false, func(h *historyBuilder) {
			h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			f := h.write(OpPut, core.Quorum, Fail, 20, 20, "b", 0)
			f.TS, f.Dot = 200, version.Dot{Actor: "b", Counter: 200} // it was sent after all
			h.read(core.Quorum, 100, 110, true, f)
		}, []string{"P3 failed-observed"}},
		{"a value nobody wrote", false, false, func(h *historyBuilder) {
			h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			ghost := &Op{Kind: OpPut, Value: []byte("ghost."), TS: 500, Dot: version.Dot{Actor: "z", Counter: 500}}
			h.read(core.Quorum, 100, 110, true, ghost)
		}, []string{"unknown-write"}},
		{"a dot names two writes", false, false, func(h *historyBuilder) {
			w := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
			again := h.write(OpPut, core.Quorum, OK, 20, 30, "b", 0)
			again.TS, again.Dot = w.TS, w.Dot
			h.s.registerDot(h.sibling(again), again)
			h.read(core.Quorum, 100, 110, true, again)
		}, []string{"dot-reuse", "dot-reuse"}}, // when stamped, and when read
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistoryBuilder(tc.strict)
			tc.build(h)
			got := h.check(tc.mono)
			if !slices.Equal(got, tc.want) {
				for _, v := range h.s.violations {
					t.Log(v.Property, v.Detail)
				}
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSimViolationDetailsNameTheOps(t *testing.T) {
	h := newHistoryBuilder(false)
	old := h.write(OpPut, core.Quorum, OK, 0, 10, "a", 100)
	lost := h.write(OpPut, core.All, OK, 20, 30, "b", 200)
	final := h.read(core.Quorum, 100, 110, true, old)
	h.check(false)
	if len(h.s.violations) != 1 {
		t.Fatalf("violations %+v", h.s.violations)
	}
	v := dedupe(h.s.violations)[0]
	if !slices.Equal(v.Ops, []int{lost.ID, final.ID}) {
		t.Errorf("ops %v, want the lost write %d and the final read %d", v.Ops, lost.ID, final.ID)
	}
	if !strings.Contains(v.Detail, "op 1 put") {
		t.Errorf("detail %q does not name the lost write", v.Detail)
	}
}
