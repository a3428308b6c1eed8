package sim

import (
	"slices"
	"strings"
	"testing"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// props returns the properties the hand-made history h broke, in order.
func props(h *historyBuilder) []string {
	var out []string
	for _, v := range h.s.violations {
		out = append(out, v.Property)
	}
	return out
}

func expectProps(t *testing.T, h *historyBuilder, want []string) {
	t.Helper()
	if got := props(h); !slices.Equal(got, want) {
		for _, v := range h.s.violations {
			t.Log(v.Property, v.Detail)
		}
		t.Fatalf("got %v, want %v", got, want)
	}
}

var siblingsKey = object.Key{Keyspace: siblingsKeyspace, Key: "k1"}

// sibWrite adds a put to the siblings key by client, stamped (node, ts), carrying
// ctx (nil: none).
func (h *historyBuilder) sibWrite(client int, out Outcome, invoke, complete int64, node string, ts uint64, ctx ...*Op) *Op {
	op := &Op{Client: client, Kind: OpPut, Key: siblingsKey, Level: core.Quorum, Outcome: out,
		Invoke: invoke * usPerMs, Complete: complete * usPerMs, Node: node, Applier: node}
	op.ID = len(h.ops)
	op.Value = []byte("v" + string(rune('a'+op.ID)) + ".")
	h.s.values[string(op.Value)] = op
	for _, c := range ctx {
		op.Context = op.Context.Add(c.Dot)
	}
	if ts != 0 {
		op.TS = version.Timestamp(ts)
		op.Dot = version.Dot{Actor: node, Counter: ts}
		h.s.registerDot(h.sibling(op), op)
	}
	h.ops = append(h.ops, op)
	return op
}

// sibRead adds an OK read of the siblings key that returned ws as live siblings.
func (h *historyBuilder) sibRead(level core.Level, invoke, complete int64, final bool, ws ...*Op) *Op {
	op := &Op{Client: -1, Kind: OpGet, Key: siblingsKey, Level: level, Outcome: OK, Invoke: invoke * usPerMs, Complete: complete * usPerMs, Final: final}
	op.ID = len(h.ops)
	op.Obj.Kind = object.KindSiblings
	for _, w := range ws {
		op.Obj.Siblings = append(op.Obj.Siblings, h.sibling(w))
		op.Obj.Context = op.Obj.Context.Add(w.Dot)
	}
	h.ops = append(h.ops, op)
	return op
}

func (h *historyBuilder) checkModel(m model, key object.Key) {
	h.s.history.Ops = h.ops
	m.check(&checkContext{s: h.s, rf: 3}, key, h.ops)
}

func TestSimSiblingsChecker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(h *historyBuilder)
		want  []string
	}{
		{"concurrent acknowledged writes are both kept", func(h *historyBuilder) {
			a := h.sibWrite(0, OK, 0, 10, "a", 100)
			b := h.sibWrite(1, OK, 5, 12, "b", 101)
			h.sibRead(core.Quorum, 100, 110, true, a, b)
		}, nil},
		{"a write carrying the context replaces what it saw", func(h *historyBuilder) {
			a := h.sibWrite(0, OK, 0, 10, "a", 100)
			b := h.sibWrite(1, OK, 20, 30, "b", 200, a)
			h.sibRead(core.Quorum, 100, 110, true, b)
		}, nil},
		{"a concurrent acknowledged write is lost", func(h *historyBuilder) {
			h.sibWrite(0, OK, 0, 10, "a", 100)
			b := h.sibWrite(1, OK, 20, 30, "b", 200)
			h.sibRead(core.Quorum, 100, 110, true, b)
		}, []string{"P1 lost-write"}},
		{"a superseded sibling remains", func(h *historyBuilder) {
			a := h.sibWrite(0, OK, 0, 10, "a", 100)
			b := h.sibWrite(1, OK, 20, 30, "b", 200, a)
			h.sibRead(core.Quorum, 100, 110, true, a, b)
		}, []string{"superseded-sibling"}},
		{"superseded by an unknown write: it may stay", func(h *historyBuilder) {
			a := h.sibWrite(0, OK, 0, 10, "a", 100)
			h.sibWrite(1, Timeout, 20, 3000, "b", 200, a)
			h.sibRead(core.Quorum, 4000, 4010, true, a)
		}, nil},
		{"superseded by an unknown write: it may go", func(h *historyBuilder) {
			a := h.sibWrite(0, OK, 0, 10, "a", 100)
			b := h.sibWrite(1, Timeout, 20, 3000, "b", 200, a)
			h.sibRead(core.Quorum, 4000, 4010, true, b)
		}, nil},
		{"an unknown write may be missing", func(h *historyBuilder) {
			a := h.sibWrite(0, OK, 0, 10, "a", 100)
			h.sibWrite(1, Timeout, 20, 3000, "b", 200)
			h.sibRead(core.Quorum, 4000, 4010, true, a)
		}, nil},
		{"one client's writes pile up", func(h *historyBuilder) {
			a := h.sibWrite(0, OK, 0, 10, "a", 100)
			b := h.sibWrite(0, OK, 20, 30, "a", 200, a)
			c := h.sibWrite(0, OK, 40, 50, "a", 300, b)
			h.sibRead(core.Quorum, 100, 110, true, a, b, c)
		}, []string{"superseded-sibling", "superseded-sibling", "sibling-count"}},
		{"a QUORUM read after a QUORUM write misses it", func(h *historyBuilder) {
			a := h.sibWrite(0, OK, 0, 10, "a", 100)
			h.sibRead(core.Quorum, 20, 25, false)
			h.sibRead(core.Quorum, 100, 110, true, a)
		}, []string{"quorum-read"}},
		{"a read concurrent with the write may miss it", func(h *historyBuilder) {
			a := h.sibWrite(0, OK, 0, 10, "a", 100)
			h.sibRead(core.Quorum, 5, 25, false)
			h.sibRead(core.Quorum, 100, 110, true, a)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistoryBuilder(false)
			tc.build(h)
			h.checkModel(&siblingsModel{}, siblingsKey)
			expectProps(t, h, tc.want)
		})
	}
}

var counterKey = object.Key{Keyspace: "counters", Key: "k2"}

// counterObj is a counter object holding, per actor, the given increments.
func counterObj(incs map[string]int64) object.Object {
	c := crdt.NewPNCounter()
	for _, a := range []string{"a", "b", "c"} {
		if d, ok := incs[a]; ok {
			if err := c.Increment(a, d); err != nil {
				panic(err)
			}
		}
	}
	return object.Object{Kind: object.KindCounter, Siblings: []object.Sibling{{Value: crdt.Encode(c), Dot: version.Dot{Actor: "a", Counter: 1}, Timestamp: 1}}}
}

// incr adds an increment of delta applied by node (stamped if out is not Fail),
// whose applier's total it took to total.
func (h *historyBuilder) incr(out Outcome, invoke, complete int64, node string, delta int64, total uint64) *Op {
	op := &Op{Kind: OpIncrement, Key: counterKey, Level: core.Quorum, Outcome: out, Delta: delta,
		Invoke: invoke * usPerMs, Complete: complete * usPerMs, Node: node}
	op.ID = len(h.ops)
	if out != Fail {
		op.Applier = node
		op.Dot = version.Dot{Actor: node, Counter: uint64(1000 + op.ID)}
		op.crdt = &appliedUpdate{p: total}
	}
	h.ops = append(h.ops, op)
	return op
}

func (h *historyBuilder) objRead(key object.Key, invoke, complete int64, final bool, o object.Object) *Op {
	op := &Op{Client: -1, Kind: OpGet, Key: key, Level: core.Quorum, Outcome: OK, Invoke: invoke * usPerMs, Complete: complete * usPerMs, Final: final, Obj: o}
	op.ID = len(h.ops)
	h.ops = append(h.ops, op)
	return op
}

func TestSimCounterChecker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(h *historyBuilder)
		want  []string
	}{
		{"acknowledged increments, an unknown one not applied", func(h *historyBuilder) {
			h.incr(OK, 0, 10, "a", 3, 3)
			h.incr(Timeout, 20, 3000, "b", 2, 2)
			h.objRead(counterKey, 4000, 4010, true, counterObj(map[string]int64{"a": 3}))
		}, nil},
		{"an unknown increment applied", func(h *historyBuilder) {
			h.incr(OK, 0, 10, "a", 3, 3)
			h.incr(Timeout, 20, 3000, "b", 2, 2)
			h.objRead(counterKey, 4000, 4010, true, counterObj(map[string]int64{"a": 3, "b": 2}))
		}, nil},
		{"an acknowledged increment lost", func(h *historyBuilder) {
			h.incr(OK, 0, 10, "a", 3, 3)
			h.incr(OK, 20, 30, "b", 2, 2)
			h.objRead(counterKey, 4000, 4010, true, counterObj(map[string]int64{"a": 3}))
		}, []string{"P1 lost-write", "P1 lost-write"}},
		{"a failed increment applied", func(h *historyBuilder) {
			h.incr(OK, 0, 10, "a", 3, 3)
			h.incr(Fail, 20, 20, "b", 2, 0)
			h.objRead(counterKey, 4000, 4010, true, counterObj(map[string]int64{"a": 3, "b": 2}))
		}, []string{"counter-overcount", "counter-overcount"}},
		{"an increment applied twice", func(h *historyBuilder) {
			h.incr(OK, 0, 10, "a", 3, 3)
			h.objRead(counterKey, 4000, 4010, true, counterObj(map[string]int64{"a": 6}))
		}, []string{"counter-overcount", "counter-overcount"}},
		{"a decrement", func(h *historyBuilder) {
			h.incr(OK, 0, 10, "a", 3, 3)
			h.incr(Timeout, 20, 3000, "a", -2, 2)
			h.objRead(counterKey, 4000, 4010, true, counterObj(map[string]int64{"a": 3}))
		}, nil},
		{"a QUORUM read after a QUORUM increment misses it", func(h *historyBuilder) {
			h.incr(OK, 0, 10, "a", 3, 3)
			h.objRead(counterKey, 20, 30, false, counterObj(nil))
			h.objRead(counterKey, 4000, 4010, true, counterObj(map[string]int64{"a": 3}))
		}, []string{"quorum-read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistoryBuilder(false)
			tc.build(h)
			h.checkModel(&counterModel{}, counterKey)
			expectProps(t, h, tc.want)
		})
	}
}

var setKey = object.Key{Keyspace: "sets", Key: "k3"}

// setWorld applies hand-made set updates to per-replica OR-sets, recording each as
// the driver would (noteUpdate).
type setWorld struct {
	h        *historyBuilder
	replicas map[string]*crdt.ORSet
}

func newSetWorld(h *historyBuilder) *setWorld {
	return &setWorld{h: h, replicas: map[string]*crdt.ORSet{"a": crdt.NewORSet(), "b": crdt.NewORSet(), "c": crdt.NewORSet()}}
}

func setObj(s *crdt.ORSet) object.Object {
	return object.Object{Kind: object.KindSet, Siblings: []object.Sibling{{Value: crdt.Encode(s), Dot: version.Dot{Actor: "a", Counter: 1}, Timestamp: 1}}}
}

// apply applies an add or remove of elem at replica node.
func (w *setWorld) apply(kind OpKind, out Outcome, invoke, complete int64, node, elem string) *Op {
	h := w.h
	op := &Op{Kind: kind, Key: setKey, Level: core.Quorum, Outcome: out, Elem: elem,
		Invoke: invoke * usPerMs, Complete: complete * usPerMs, Node: node, Applier: node}
	op.ID = len(h.ops)
	op.Dot = version.Dot{Actor: node, Counter: uint64(1000 + op.ID)}
	before := w.replicas[node].Clone()
	if kind == OpAdd {
		w.replicas[node].Add(node, elem)
	} else {
		w.replicas[node].Remove(elem)
	}
	h.s.noteUpdate(op, setObj(before), setObj(w.replicas[node]))
	h.ops = append(h.ops, op)
	return op
}

// sync makes replicas a and b exchange their states.
func (w *setWorld) sync(a, b string) {
	j := w.replicas[a].Join(w.replicas[b])
	w.replicas[a], w.replicas[b] = j, j.Clone()
}

// all is the merge of every replica.
func (w *setWorld) all() *crdt.ORSet {
	return w.replicas["a"].Join(w.replicas["b"]).Join(w.replicas["c"])
}

func TestSimSetChecker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(w *setWorld)
		want  []string
	}{
		{"an observed remove", func(w *setWorld) {
			w.apply(OpAdd, OK, 0, 10, "a", "x")
			w.sync("a", "b")
			w.apply(OpRemove, OK, 20, 30, "b", "x")
			w.h.objRead(setKey, 100, 110, true, setObj(w.all()))
		}, nil},
		{"an element whose removal observed it comes back", func(w *setWorld) {
			w.apply(OpAdd, OK, 0, 10, "a", "x")
			w.sync("a", "b")
			w.apply(OpRemove, OK, 20, 30, "b", "x")
			stale := crdt.NewORSet()
			stale.Add("a", "x")
			w.h.objRead(setKey, 100, 110, true, setObj(stale))
		}, []string{"P1 resurrection"}},
		{"add wins over a concurrent remove", func(w *setWorld) {
			w.apply(OpAdd, OK, 0, 10, "a", "x")
			w.sync("a", "b")
			w.apply(OpRemove, OK, 20, 30, "b", "x")
			w.apply(OpAdd, OK, 20, 30, "c", "x") // c never saw a's add
			w.h.objRead(setKey, 100, 110, true, setObj(w.all()))
		}, nil},
		{"the concurrent add is lost", func(w *setWorld) {
			w.apply(OpAdd, OK, 0, 10, "a", "x")
			w.sync("a", "b")
			w.apply(OpRemove, OK, 20, 30, "b", "x")
			w.apply(OpAdd, OK, 20, 30, "c", "x")
			w.h.objRead(setKey, 100, 110, true, setObj(w.replicas["b"]))
		}, []string{"P1 lost-write"}},
		{"an add replaced by a later add, which a remove observed", func(w *setWorld) {
			w.apply(OpAdd, OK, 0, 10, "a", "x")
			w.sync("a", "b")
			w.apply(OpAdd, OK, 20, 30, "b", "x")
			w.sync("b", "c")
			w.apply(OpRemove, OK, 40, 50, "c", "x")
			w.sync("a", "c")
			w.sync("b", "c")
			w.h.objRead(setKey, 100, 110, true, setObj(w.all()))
		}, nil},
		{"a replaced dot comes back", func(w *setWorld) {
			w.apply(OpAdd, OK, 0, 10, "a", "x")
			w.sync("a", "b")
			w.apply(OpAdd, OK, 20, 30, "b", "x")
			w.h.objRead(setKey, 100, 110, true, setObj(w.replicas["a"]))
		}, []string{"superseded-dot"}},
		{"an unknown remove may have applied", func(w *setWorld) {
			w.apply(OpAdd, OK, 0, 10, "a", "x")
			w.sync("a", "b")
			w.apply(OpRemove, Timeout, 20, 3000, "b", "x")
			w.h.objRead(setKey, 4000, 4010, true, setObj(w.all()))
		}, nil},
		{"a QUORUM read after a QUORUM add misses it", func(w *setWorld) {
			w.apply(OpAdd, OK, 0, 10, "a", "x")
			w.h.objRead(setKey, 20, 30, false, setObj(crdt.NewORSet()))
			w.h.objRead(setKey, 100, 110, true, setObj(w.all()))
		}, []string{"quorum-read"}},
		{"a QUORUM read after a QUORUM remove still has it", func(w *setWorld) {
			w.apply(OpAdd, OK, 0, 10, "a", "x")
			old := w.replicas["a"].Clone()
			w.apply(OpRemove, OK, 20, 30, "a", "x")
			w.h.objRead(setKey, 40, 50, false, setObj(old))
			w.h.objRead(setKey, 100, 110, true, setObj(w.all()))
		}, []string{"quorum-read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistoryBuilder(false)
			w := newSetWorld(h)
			tc.build(w)
			for _, v := range h.s.violations {
				t.Fatalf("while building: %s %s", v.Property, v.Detail)
			}
			h.checkModel(&setModel{}, setKey)
			expectProps(t, h, tc.want)
		})
	}
}

// TestSimModelsConfig: the model set parses, prints, and shows in the replay line
// only when it is not the default.
func TestSimModelsConfig(t *testing.T) {
	ms, err := ParseModels("siblings, set")
	if err != nil || ms.String() != "siblings,set" {
		t.Fatalf("ParseModels = %v, %v", ms, err)
	}
	if _, err := ParseModels("queue"); err == nil {
		t.Error("an unknown model parsed")
	}
	if all, _ := ParseModels("all"); all != AllModels {
		t.Errorf("all = %v", all)
	}
	cfg := DefaultConfig(7)
	if cfg.models() != AllModels || containsStr(cfg.Command(), "--models") {
		t.Errorf("default models %v, command %q", cfg.models(), cfg.Command())
	}
	cfg.Models = registersOnly
	if want := " --models register"; !containsStr(cfg.Command(), want) {
		t.Errorf("command %q lacks %q", cfg.Command(), want)
	}
	cfg = DefaultConfig(7)
	cfg.Bug = "drop-siblings"
	if cfg.models() != Models(0).With(ModelSiblings) || containsStr(cfg.Command(), "--models") {
		t.Errorf("bug models %v, command %q", cfg.models(), cfg.Command())
	}
}

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }
