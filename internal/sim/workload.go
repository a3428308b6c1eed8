package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// The workload: closed-loop clients, each issuing one operation at a time to a node
// chosen at random (the coordinator), waiting for its reply or giving up after a
// client timeout, then thinking for a while. A client shares its coordinator's
// machine: a request reaches the core when the client issues it (or when the node
// next steps, if it is busy or paused), and a node that is down refuses it.

// client is one closed-loop client. Beside its id it keeps, per key, what it learnt
// from the replies it got, as a real client would: the causal context to send with
// its next write to a siblings key, the elements it last saw in a set.
type client struct {
	id   int
	ctx  map[object.Key]version.Vector
	seen map[object.Key][]string
}

// keyPicker draws keys: uniform, or Zipf-skewed toward a few hot keys.
type keyPicker struct {
	n    int
	zipf *rand.Zipf
	r    *rand.Rand
}

func (k *keyPicker) next() int {
	if k.zipf != nil {
		return int(k.zipf.Uint64())
	}
	return k.r.IntN(k.n)
}

// keyName is the name of key i.
func keyName(i int) string { return fmt.Sprintf("k%d", i) }

// modelIndex returns the index of the model owning key i: keys are dealt to the
// models in turn, starting from model seed mod M, so that runs with fewer keys than
// models still cover every model over consecutive seeds.
func (s *simulation) modelIndex(i int) int { return (i + s.modelShift) % len(s.models) }

// modelOf returns the model owning key i.
func (s *simulation) modelOf(i int) model { return s.models[s.modelIndex(i)] }

func (s *simulation) startClients() {
	for i := range s.sc.clients {
		c := &client{id: i, ctx: map[object.Key]version.Vector{}, seen: map[object.Key][]string{}}
		s.clients = append(s.clients, c)
		s.schedule(s.now+s.thinkTime(), &event{kind: evInvoke, node: i})
	}
}

func (s *simulation) thinkTime() int64 {
	return 1 + int64(s.rWork.ExpFloat64()*float64(s.sc.thinkMeanUs))
}

// invoke issues client c's next operation, if the workload has any left.
func (s *simulation) invoke(c *client) {
	if s.phase != phaseFaults || s.issued >= s.cfg.Ops {
		return
	}
	s.issued++
	i := s.keys.next()
	s.touched[i] = true
	m := s.modelOf(i)
	op := &Op{Client: c.id, Key: object.Key{Keyspace: m.keyspace(), Key: keyName(i)}, Invoke: s.now, model: s.modelIndex(i)}
	s.history.add(op)
	m.nextOp(s.rWork, c, op)
	if op.Value != nil {
		s.values[string(op.Value)] = op
	}
	op.Node = s.nodes[s.rWork.IntN(len(s.nodes))].id
	s.issue(op)
}

// issue hands op to its coordinator, or fails it at once if the node is down.
func (s *simulation) issue(op *Op) {
	n := s.nodes[s.byID[op.Node]]
	s.traceOp(op)
	if !n.alive {
		s.complete(op, Fail, "refused: node down")
		return
	}
	s.schedule(s.now+s.clientTimeoutUs(), &event{kind: evClientTimeout, op: op})
	s.offer(n, input{kind: inSubmit, op: op})
}

// clientTimeoutUs is how long a client waits: the request timeout plus a margin, in
// virtual time (the core's own deadline runs on its node's clock).
func (s *simulation) clientTimeoutUs() int64 { return (s.sc.requestTimeoutMs + 1000) * usPerMs }

// submit steps a client request on its coordinator's core. For a write it then finds
// the sibling the coordinator stamped, in what the Submit added to the Ready, and
// checks it against the dot registry and the HLC bound; a write the coordinator
// forwarded to a replica (siblings keyspaces, CRDT updates) is followed there.
func (s *simulation) submit(n *simNode, op *Op, nowMs int64) {
	n.nextReq++
	id := n.nextReq
	n.reqs[id] = op
	req := s.models[op.model].request(op)
	req.ID = id
	if s.bug.dropContext {
		req.Context = nil
	}
	if !op.Kind.IsWrite() {
		n.core.Submit(nowMs, req)
		return
	}
	s.applyOn(n, op, id, func() { n.core.Submit(nowMs, req) })
}

// fwdKey names a forwarded request: the forwarding node and its request id.
type fwdKey struct {
	from string
	id   uint64
}

// applyOn runs step (a Submit of op, or the Receive of its forwarded request) on n
// and records what n stamped for op, if anything: its dot, and for a CRDT update the
// replica's state before and after. A FwdReq the step sent is remembered, so that
// the replica that receives it is watched in turn.
func (s *simulation) applyOn(n *simNode, op *Op, reqID uint64, step func()) {
	rd := n.core.Ready()
	mark := readyMark{messages: len(rd.Messages), hints: len(rd.Batch.Hints), replies: len(rd.Replies)}
	low := n.hlcLow
	var before object.Object
	if op.Kind.IsUpdate() {
		before = s.localCopy(n, op.Key)
	}
	step()
	rd = n.core.Ready()
	for _, m := range rd.Messages[mark.messages:] {
		if m.Type == wire.FwdReq {
			s.fwds[fwdKey{n.id, m.ID}] = op
		}
	}
	obj, sib, ok := stampedSibling(rd, mark, n.id, reqID)
	if !ok {
		return
	}
	if !op.Dot.IsZero() {
		// Applied a second time: a duplicated or replayed request taken for a new one.
		if op.Dot != sib.Dot {
			s.violate("double-apply", op.Key, []int{op.ID}, "%s was applied twice: by %s as %s:%d, then by %s as %s:%d",
				op, op.Applier, op.Dot.Actor, op.Dot.Counter, n.id, sib.Dot.Actor, sib.Dot.Counter)
		}
		return
	}
	op.Dot, op.TS, op.Applier = sib.Dot, sib.Timestamp, n.id
	n.hlcLow = max(n.hlcLow, sib.Timestamp)
	s.registerDot(sib, op)
	if sib.Timestamp <= low {
		s.violate("hlc-causality", op.Key, []int{op.ID},
			"node %s stamped %s at %s, not above %s, a clock it had already observed or issued", n.id, op, sib.Timestamp, low)
	}
	if op.Kind.IsUpdate() {
		s.noteUpdate(op, before, obj)
	}
}

// localCopy is n's core's own copy of key now: what its pending batch last wrote for
// the key, else what its storage holds.
func (s *simulation) localCopy(n *simNode, key object.Key) object.Object {
	objs := n.core.Ready().Batch.Objects
	for i := len(objs) - 1; i >= 0; i-- {
		if objs[i].Key == key {
			if objs[i].Purge {
				return object.Object{}
			}
			return objs[i].Object
		}
	}
	o, _, err := n.store.Get(key)
	if err != nil {
		s.violate("storage", key, nil, "node %s: get: %v", n.id, err)
	}
	return o
}

// readyMark records how long a Ready's lists were before a step.
type readyMark struct{ messages, hints, replies int }

// stampedSibling finds, among what was added to rd after mark, the new sibling of the
// write that node coordinated (request id reqID; 0 for a forwarded request, answered
// by a FwdResp): in its reply (if it was answered at once), or in the PutReqs or
// hints it produced, which carry the written object. It returns the object too.
func stampedSibling(rd *core.Ready, mark readyMark, node string, reqID uint64) (object.Object, object.Sibling, bool) {
	var obj object.Object
	best, found := object.Sibling{}, false
	consider := func(o object.Object) {
		for _, sib := range o.Siblings {
			if sib.Dot.Actor == node && (!found || sib.Dot.Counter > best.Dot.Counter) {
				best, found, obj = sib, true, o
			}
		}
	}
	for _, r := range rd.Replies[mark.replies:] {
		if reqID != 0 && r.ID == reqID && r.Err == nil {
			consider(r.Obj)
		}
	}
	for _, m := range rd.Messages[mark.messages:] {
		if m.Type == wire.PutReq || (reqID == 0 && m.Type == wire.FwdResp && m.Err == "") {
			consider(m.Object)
		}
	}
	for _, h := range rd.Batch.Hints[mark.hints:] {
		consider(h.Object)
	}
	return obj, best, found
}

// replied records a core's reply to op.
func (s *simulation) replied(op *Op, r core.Reply) {
	if op.Outcome != Pending {
		return // the client gave up already
	}
	switch {
	case r.Err == nil:
		op.Found, op.Obj = r.Found, r.Obj
		if op.crdt != nil && !object.Equal(op.crdt.before, r.Before) {
			s.violate("oracle", op.Key, []int{op.ID}, "%s: the replica's state before it, as the reply gives it, is not what the simulator saw", op)
		}
		s.complete(op, OK, "")
	case errors.Is(r.Err, core.ErrTimeout):
		s.complete(op, Timeout, r.Err.Error())
	default:
		if op.TS != 0 && errors.Is(r.Err, core.ErrUnavailable) {
			s.violate("P3 unavailable-sent", op.Key, []int{op.ID}, "%s failed UNAVAILABLE after stamping %s:%d", op, op.Dot.Actor, op.Dot.Counter)
		}
		s.complete(op, Fail, r.Err.Error())
	}
}

// clientTimeout: the client gives up on op; its outcome is unknown.
func (s *simulation) clientTimeout(op *Op) {
	if op.Outcome == Pending {
		s.complete(op, Timeout, "client gave up")
	}
}

// complete ends op and lets its client go on.
func (s *simulation) complete(op *Op, out Outcome, err string) {
	op.Outcome, op.Complete, op.Err = out, s.now, err
	s.traceOpDone(op)
	if op.Final {
		s.finalDone(op)
		return
	}
	if op.done != nil {
		op.done(op)
		return
	}
	s.done++
	c := s.clients[op.Client]
	s.models[op.model].completed(c, op)
	if s.issued < s.cfg.Ops {
		s.schedule(s.now+s.thinkTime(), &event{kind: evInvoke, node: c.id})
	} else if s.done == s.cfg.Ops {
		s.after(0, "heal", s.heal)
	}
}

// registerDot records which op a dot names, and reports a dot named twice with
// different contents.
func (s *simulation) registerDot(sib object.Sibling, op *Op) {
	d := siblingDigest(sib)
	if prev, ok := s.dots[sib.Dot]; ok {
		if prev.digest != d {
			s.violate("dot-reuse", op.Key, []int{prev.op.ID, op.ID}, "dot %s:%d names two different writes", sib.Dot.Actor, sib.Dot.Counter)
		}
		return
	}
	s.dots[sib.Dot] = dotEntry{op: op, digest: d}
}

type dotEntry struct {
	op     *Op
	digest uint64
}

// siblingDigest identifies a sibling's content.
func siblingDigest(sib object.Sibling) uint64 {
	return object.Digest(object.Object{Siblings: []object.Sibling{sib}})
}

// ownerOf returns the op that wrote sib: by its dot, or by its (unique) value.
func (s *simulation) ownerOf(sib object.Sibling) *Op {
	if e, ok := s.dots[sib.Dot]; ok {
		return e.op
	}
	if len(sib.Value) > 0 {
		return s.values[string(sib.Value)]
	}
	return nil
}
