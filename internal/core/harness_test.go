package core_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/ring"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// mapStore is the simplest core.Store: a map written by the harness after each Ready.
type mapStore map[object.Key]object.Object

func (m mapStore) Get(k object.Key) (object.Object, bool, error) {
	o, ok := m[k]
	return o, ok, nil
}

func (m mapStore) Keyspaces() ([]string, error) {
	set := map[string]bool{}
	for k := range m {
		set[k.Keyspace] = true
	}
	var out []string
	for ks := range set {
		out = append(out, ks)
	}
	sort.Strings(out)
	return out, nil
}

func (m mapStore) ScanObjects(ks, start string, fn func(object.Key, object.Object) bool) error {
	var keys []string
	for k := range m {
		if k.Keyspace == ks && k.Key >= start {
			keys = append(keys, k.Key)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := object.Key{Keyspace: ks, Key: k}
		if !fn(key, m[key]) {
			break
		}
	}
	return nil
}

// harness runs a few cores in one goroutine with a hand-driven network: the test
// script decides which messages are delivered, dropped or held, and when time passes.
type harness struct {
	t       *testing.T
	now     int64
	ids     []string
	cores   map[string]*core.Core
	stores  map[string]mapStore
	meta    map[string]map[string]string
	inbox   []wire.Message // in flight, in send order
	up      map[string]bool
	ring    *ring.Ring
	nextReq uint64
	out     strings.Builder
	lastCtx version.Vector   // context of the last read reply, for ctx=last
	offset  map[string]int64 // per-node clock offsets (ms)
}

// nowOf is the time on a node's clock.
func (h *harness) nowOf(id string) int64 { return h.now + h.offset[id] }

func newHarness(t *testing.T, ids []string, rf int, filling ...string) *harness {
	return newHarnessCfg(t, ids, rf, nil, filling...)
}

// newHarnessCfg is newHarness with a hook that adjusts every core's configuration.
func newHarnessCfg(t *testing.T, ids []string, rf int, hook func(*core.Config), filling ...string) *harness {
	h := &harness{t: t, now: 1_000_000, ids: ids, cores: map[string]*core.Core{}, stores: map[string]mapStore{},
		meta: map[string]map[string]string{}, up: map[string]bool{}, offset: map[string]int64{}}
	var members []ring.Member
	for _, id := range ids {
		members = append(members, ring.Member{ID: id})
		h.up[id] = true
	}
	h.ring = ring.New(members, ring.DefaultVnodes)
	for _, id := range ids {
		cfg := core.DefaultConfig(id)
		cfg.ReplicationFactor = rf
		for _, f := range filling {
			cfg.Filling = cfg.Filling || f == id
		}
		if hook != nil {
			hook(&cfg)
		}
		h.stores[id] = mapStore{}
		h.meta[id] = map[string]string{}
		c, err := core.New(cfg, h.stores[id], 0)
		if err != nil {
			t.Fatal(err)
		}
		h.cores[id] = c
	}
	h.setView()
	return h
}

func (h *harness) setView() {
	up := map[string]bool{}
	for k, v := range h.up {
		up[k] = v
	}
	for _, id := range h.ids {
		h.cores[id].SetView(core.View{Ring: h.ring, Up: up})
	}
}

// flush carries out a core's Ready as the driver would: persist, then send and reply.
func (h *harness) flush(id string) {
	c := h.cores[id]
	rd := c.Ready()
	for _, w := range rd.Batch.Objects {
		if w.Purge {
			delete(h.stores[id], w.Key)
			fmt.Fprintf(&h.out, "purge %s: %s\n", id, w.Key.Key)
			continue
		}
		h.stores[id][w.Key] = w.Object
	}
	for _, hint := range rd.Batch.Hints {
		fmt.Fprintf(&h.out, "hint %s: %s for %s\n", id, hint.Key.Key, hint.Target)
	}
	for range rd.Batch.HintDeletes {
		fmt.Fprintf(&h.out, "hint-delete %s\n", id)
	}
	for _, m := range rd.Batch.Meta {
		h.meta[id][m.Name] = string(m.Value)
	}
	for _, r := range rd.Batch.Repairs {
		fmt.Fprintf(&h.out, "repair-log %s: %s stale on %s\n", id, r.Key.Key, r.StaleNode)
	}
	for _, m := range rd.Messages {
		h.inbox = append(h.inbox, m)
	}
	for _, r := range rd.Replies {
		fmt.Fprintf(&h.out, "reply %s#%d: %s\n", id, r.ID, fmtReply(r))
		if r.Err == nil && !r.Obj.IsZero() {
			h.lastCtx = r.Obj.FullContext()
		}
	}
	c.Advance()
}

func fmtReply(r core.Reply) string {
	if r.Err != nil {
		return "error " + r.Err.Error()
	}
	s := fmt.Sprintf("ok acks=%d found=%v", r.Acks, r.Found)
	if r.Value != nil {
		s += fmt.Sprintf(" value=%q", r.Value)
	}
	switch {
	case r.Obj.Kind == object.KindSiblings:
		s += " siblings=" + fmtSiblings(r.Obj)
	case !r.Obj.Kind.IsRegister():
		s += " " + fmtCRDT(r.Obj)
	}
	for _, cp := range r.Copies {
		view := fmtSiblings(cp.Obj)
		if !cp.Obj.Kind.IsRegister() {
			view = fmtCRDT(cp.Obj)
		}
		s += fmt.Sprintf("\n  %s up=%v err=%q %s", cp.Node, cp.Up, cp.Err, view)
	}
	return s
}

// fmtSiblings shows a register's siblings by value (⊥ for a tombstone).
func fmtSiblings(o object.Object) string {
	var vs []string
	for _, s := range o.Siblings {
		if s.Tombstone {
			vs = append(vs, "⊥")
		} else {
			vs = append(vs, string(s.Value))
		}
	}
	return "[" + strings.Join(vs, " ") + "]"
}

func fmtCRDT(o object.Object) string {
	v, err := o.CRDT()
	if err != nil || v == nil {
		return fmt.Sprintf("crdt-error=%v", err)
	}
	j, _ := v.MarshalJSON()
	return o.Kind.String() + "=" + string(j)
}

func fmtMsg(m wire.Message) string {
	s := fmt.Sprintf("%s→%s %s %s", m.From, m.To, m.Type, m.Key.Key)
	if m.Sync != nil {
		y := m.Sync
		s = fmt.Sprintf("%s→%s %s step=%d ranges=%d nodes=%d equal=%d hashes=%d keys=%d objects=%d pull=%d",
			m.From, m.To, m.Type, y.Step, len(y.Ranges), len(y.Nodes), len(y.Equal), len(y.Hashes), len(y.Keys), len(y.Objects), len(y.Pull))
	}
	if m.Err != "" {
		s += " err=" + m.Err
	}
	if m.Found {
		s += " found"
	}
	if m.Filling {
		s += " filling"
	}
	return s
}

func (h *harness) run(d *datadriven.TestData) string {
	h.out.Reset()
	switch d.Cmd {
	case "put", "get", "del", "incr", "sadd", "srem", "inspect", "cart":
		h.submit(d)
	case "keyspace":
		var ks core.KeyspaceSettings
		if d.HasArg("resolution") {
			var r string
			d.ScanArgs(h.t, "resolution", &r)
			res, merge, err := core.ParseResolution(r)
			if err != nil {
				d.Fatalf(h.t, "%v", err)
			}
			ks.Resolution, ks.Merge = res, merge
		}
		if d.HasArg("cap") {
			d.ScanArgs(h.t, "cap", &ks.SiblingCap)
		}
		for _, c := range h.cores {
			c.SetKeyspaces(map[string]core.KeyspaceSettings{"default": ks})
		}
	case "clock":
		var node string
		var off int
		d.ScanArgs(h.t, "node", &node)
		d.ScanArgs(h.t, "offset", &off)
		h.offset[node] = int64(off)
	case "deliver":
		h.deliver(d)
	case "drop":
		h.drop(d)
	case "dup":
		for _, m := range h.inbox {
			if matches(d, m) {
				fmt.Fprintln(&h.out, "dup "+fmtMsg(m))
				h.inbox = append(h.inbox, m)
			}
		}
	case "down", "up":
		for _, a := range d.CmdArgs {
			h.up[a.Key] = d.Cmd == "up"
		}
		h.setView()
	case "tick":
		var ms int
		d.ScanArgs(h.t, "ms", &ms)
		h.now += int64(ms)
		for _, id := range h.ids {
			h.cores[id].Tick(h.nowOf(id))
			h.flush(id)
		}
	case "stored":
		var key string
		d.ScanArgs(h.t, "key", &key)
		for _, id := range h.ids {
			o := h.stores[id][object.Key{Keyspace: "default", Key: key}]
			w, ok := o.Winner()
			switch {
			case o.Kind == object.KindSiblings:
				fmt.Fprintf(&h.out, "%s: %s\n", id, fmtSiblings(o))
			case ok && !o.Kind.IsRegister():
				fmt.Fprintf(&h.out, "%s: %s\n", id, fmtCRDT(o))
			case !ok:
				fmt.Fprintf(&h.out, "%s: absent\n", id)
			case w.Tombstone:
				fmt.Fprintf(&h.out, "%s: tombstone\n", id)
			default:
				fmt.Fprintf(&h.out, "%s: %q\n", id, w.Value)
			}
		}
	case "repair":
		var node string
		d.ScanArgs(h.t, "node", &node)
		n := h.cores[node].StartRepair(h.now, "")
		fmt.Fprintf(&h.out, "%d exchanges started\n", n)
		h.flush(node)
		for _, m := range h.inbox {
			fmt.Fprintln(&h.out, "sent "+fmtMsg(m))
		}
	case "stats":
		var node string
		d.ScanArgs(h.t, "node", &node)
		st := h.cores[node].Stats()
		if h.cores[node].Filling() {
			fmt.Fprintf(&h.out, "filling: %d ranges left\n", st.FillingRanges)
		}
		fmt.Fprintf(&h.out, "hints: stored=%d delivered=%d expired=%d dropped=%d pending=%d\n",
			st.HintsStored, st.HintsDelivered, st.HintsExpired, st.HintsDropped, st.HintsPending)
		fmt.Fprintf(&h.out, "read repairs: %d\n", st.ReadRepairs)
		if st.SpeculativeReads > 0 {
			fmt.Fprintf(&h.out, "speculative reads: %d\n", st.SpeculativeReads)
		}
		if st.SkewedMessages > 0 {
			offs := h.cores[node].ClockOffsets()
			var peers []string
			for p := range offs {
				peers = append(peers, p)
			}
			sort.Strings(peers)
			fmt.Fprintf(&h.out, "skewed messages: %d;", st.SkewedMessages)
			for _, p := range peers {
				fmt.Fprintf(&h.out, " %s%+dms", p, offs[p])
			}
			fmt.Fprintln(&h.out)
		}
		fmt.Fprintf(&h.out, "anti-entropy: compared=%d differing=%d keys=%d sessions=%d purged=%d\n",
			st.AERangesCompared, st.AERangesDiffering, st.AEKeysRepaired, st.AESessionsFinished, st.TombstonesPurged)
	case "inflight":
		for _, m := range h.inbox {
			fmt.Fprintln(&h.out, fmtMsg(m))
		}
	case "replicas":
		var key string
		d.ScanArgs(h.t, "key", &key)
		fmt.Fprintln(&h.out, strings.Join(h.ring.PreferenceList(ring.KeyHash("default", key), 3), " "))
	default:
		d.Fatalf(h.t, "unknown command %s", d.Cmd)
	}
	if h.out.Len() == 0 {
		return "(nothing)\n"
	}
	return h.out.String()
}

func (h *harness) submit(d *datadriven.TestData) {
	var node, key string
	d.ScanArgs(h.t, "node", &node)
	d.ScanArgs(h.t, "key", &key)
	req := core.Request{Key: object.Key{Keyspace: "default", Key: key}}
	switch d.Cmd {
	case "get":
		req.Op = core.OpGet
	case "inspect":
		req.Op = core.OpInspect
	case "del":
		req.Op = core.OpDelete
		req.DeleteSeen = d.HasArg("seen")
	case "incr":
		var by int
		d.ScanArgs(h.t, "by", &by)
		req.Op, req.CRDT = core.OpUpdate, crdt.Op{Type: crdt.TypePNCounter, Action: crdt.ActIncrement, Delta: int64(by)}
	case "sadd", "srem":
		var elems string
		d.ScanArgs(h.t, "elems", &elems)
		act := crdt.ActAdd
		if d.Cmd == "srem" {
			act = crdt.ActRemove
		}
		req.Op, req.CRDT = core.OpUpdate, crdt.Op{Type: crdt.TypeORSet, Action: act, Elems: strings.Split(elems, ",")}
	case "cart":
		var item string
		var by int
		d.ScanArgs(h.t, "item", &item)
		d.ScanArgs(h.t, "by", &by)
		req.Op, req.CRDT = core.OpUpdate, crdt.Op{Type: crdt.TypeMap, Action: crdt.ActIncrement, Field: item, FieldType: crdt.TypePNCounter, Delta: int64(by)}
	default:
		req.Op = core.OpPut
		var v string
		d.ScanArgs(h.t, "value", &v)
		req.Value = []byte(v)
	}
	if d.HasArg("level") {
		var l string
		d.ScanArgs(h.t, "level", &l)
		lv, err := core.ParseLevel(l)
		if err != nil {
			d.Fatalf(h.t, "%v", err)
		}
		req.Level = lv
	}
	if d.HasArg("repair") {
		var mode string
		d.ScanArgs(h.t, "repair", &mode)
		m, err := core.ParseReadRepairMode(mode)
		if err != nil {
			d.Fatalf(h.t, "%v", err)
		}
		for _, c := range h.cores {
			c.SetKeyspaces(map[string]core.KeyspaceSettings{"default": {ReadRepair: m}})
		}
	}
	if d.HasArg("ttl") {
		var ttl int
		d.ScanArgs(h.t, "ttl", &ttl)
		req.TTLMs = int64(ttl)
	}
	if d.HasArg("ctx") {
		req.Context = h.lastCtx
	}
	h.nextReq++
	req.ID = h.nextReq
	h.cores[node].Submit(h.nowOf(node), req)
	h.flush(node)
	for _, m := range h.inbox {
		fmt.Fprintln(&h.out, "sent "+fmtMsg(m))
	}
}

// matches reports whether a message fits the from=/to=/type= filters of a command.
func matches(d *datadriven.TestData, m wire.Message) bool {
	for _, a := range d.CmdArgs {
		v := a.Vals
		switch a.Key {
		case "from":
			if !contains(v, m.From) {
				return false
			}
		case "to":
			if !contains(v, m.To) {
				return false
			}
		case "type":
			if !contains(v, m.Type.String()) {
				return false
			}
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// deliver delivers matching in-flight messages (and what they cause, transitively,
// if all=true) in send order, printing each.
func (h *harness) deliver(d *datadriven.TestData) {
	for rounds := 0; rounds < 100; rounds++ {
		var keep, now []wire.Message
		for _, m := range h.inbox {
			if matches(d, m) && h.up[m.To] {
				now = append(now, m)
			} else {
				keep = append(keep, m)
			}
		}
		h.inbox = keep
		if len(now) == 0 {
			return
		}
		for _, m := range now {
			fmt.Fprintln(&h.out, "deliver "+fmtMsg(m))
			h.cores[m.To].Receive(h.nowOf(m.To), m)
			h.flush(m.To)
		}
	}
}

func (h *harness) drop(d *datadriven.TestData) {
	var keep []wire.Message
	for _, m := range h.inbox {
		if matches(d, m) {
			fmt.Fprintln(&h.out, "drop "+fmtMsg(m))
		} else {
			keep = append(keep, m)
		}
	}
	h.inbox = keep
}

func TestCoreScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var h *harness
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "cluster" {
				var nodes string
				rf := 3
				d.ScanArgs(t, "nodes", &nodes)
				if d.HasArg("rf") {
					d.ScanArgs(t, "rf", &rf)
				}
				var filling []string
				if d.HasArg("filling") {
					var f string
					d.ScanArgs(t, "filling", &f)
					filling = strings.Split(f, ",")
				}
				naive := d.HasArg("naive")
				fanout := core.FanoutLevel
				if d.HasArg("fanout") {
					var f string
					d.ScanArgs(t, "fanout", &f)
					var err error
					if fanout, err = core.ParseReadFanout(f); err != nil {
						t.Fatal(err)
					}
				}
				hook := func(c *core.Config) {
					c.NaiveWallClock = naive
					c.ReadFanout = fanout
				}
				h = newHarnessCfg(t, strings.Split(nodes, ","), rf, hook, filling...)
				return "ok\n"
			}
			return h.run(d)
		})
	})
}

// TestHLCPersistedBeforeUse checks that a timestamp is never handed out beyond the
// persisted high-water mark, so a restarted node cannot reissue it.
func TestHLCPersistedBeforeUse(t *testing.T) {
	h := newHarness(t, []string{"a"}, 1)
	for i := 0; i < 5; i++ {
		h.now += 1500
		h.cores["a"].Submit(h.now, core.Request{ID: uint64(i + 1), Op: core.OpPut, Key: object.Key{Keyspace: "default", Key: "k"}, Value: []byte("v"), Level: core.One})
		h.flush("a")
		o := h.stores["a"][object.Key{Keyspace: "default", Key: "k"}]
		hw, err := core.ParseHLCMeta([]byte(h.meta["a"]["hlc/0"]))
		if err != nil {
			t.Fatal(err)
		}
		if o.Timestamp() >= hw {
			t.Fatalf("write stamped %v at or past the persisted mark %v", o.Timestamp(), hw)
		}
	}
	// A core restored from that mark issues only later timestamps.
	hw, _ := core.ParseHLCMeta([]byte(h.meta["a"]["hlc/0"]))
	c2, err := core.New(core.DefaultConfig("a"), h.stores["a"], hw)
	if err != nil {
		t.Fatal(err)
	}
	c2.SetView(core.View{Ring: h.ring, Up: map[string]bool{"a": true}})
	c2.Submit(h.now-10_000, core.Request{ID: 9, Op: core.OpPut, Key: object.Key{Keyspace: "default", Key: "k2"}, Value: []byte("v"), Level: core.One})
	rd := c2.Ready()
	if got := rd.Batch.Objects[0].Object.Timestamp(); got <= hw {
		t.Fatalf("restored core stamped %v, not after %v", got, hw)
	}
}
