package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/wire"
)

// The workload: closed-loop clients, each issuing one operation at a time to a node
// chosen at random (the coordinator), waiting for its reply or giving up after a
// client timeout, then thinking for a while. A client shares its coordinator's
// machine: a request reaches the core when the client issues it (or when the node
// next steps, if it is busy or paused), and a node that is down refuses it.

// client is one closed-loop client.
type client struct {
	id int
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

// modelOf returns the model owning key i: keys are dealt to models in turn.
func (s *simulation) modelOf(i int) model { return s.models[i%len(s.models)] }

func (s *simulation) startClients() {
	for i := range s.sc.clients {
		c := &client{id: i}
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
	op := &Op{Client: c.id, Key: object.Key{Keyspace: m.keyspace(), Key: keyName(i)}, Invoke: s.now, model: i % len(s.models)}
	s.history.add(op)
	m.nextOp(s.rWork, op)
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
// checks it against the dot registry and the HLC bound.
func (s *simulation) submit(n *simNode, op *Op, nowMs int64) {
	rd := n.core.Ready()
	mark := readyMark{messages: len(rd.Messages), hints: len(rd.Batch.Hints), replies: len(rd.Replies)}
	n.nextReq++
	id := n.nextReq
	n.reqs[id] = op
	req := s.models[op.model].request(op)
	req.ID = id
	low := n.hlcLow
	n.core.Submit(nowMs, req)
	if !op.Kind.IsWrite() {
		return
	}
	sib, ok := stampedSibling(n.core.Ready(), mark, n.id, id)
	if !ok {
		return
	}
	op.Dot, op.TS = sib.Dot, sib.Timestamp
	n.hlcLow = max(n.hlcLow, sib.Timestamp)
	s.registerDot(sib, op)
	if sib.Timestamp <= low {
		s.violate("hlc-causality", op.Key, []int{op.ID},
			"node %s stamped %s at %s, not above %s, a clock it had already observed or issued", n.id, op, sib.Timestamp, low)
	}
}

// readyMark records how long a Ready's lists were before a step.
type readyMark struct{ messages, hints, replies int }

// stampedSibling finds, among what was added to rd after mark, the new sibling of the
// write with request id reqID that node coordinated: in its reply (if it was answered
// at once), or in the PutReqs or hints it produced, which carry the written object.
func stampedSibling(rd *core.Ready, mark readyMark, node string, reqID uint64) (object.Sibling, bool) {
	best, found := object.Sibling{}, false
	consider := func(o object.Object) {
		for _, sib := range o.Siblings {
			if sib.Dot.Actor == node && (!found || sib.Dot.Counter > best.Dot.Counter) {
				best, found = sib, true
			}
		}
	}
	for _, r := range rd.Replies[mark.replies:] {
		if r.ID == reqID && r.Err == nil {
			consider(r.Obj)
		}
	}
	for _, m := range rd.Messages[mark.messages:] {
		if m.Type == wire.PutReq {
			consider(m.Object)
		}
	}
	for _, h := range rd.Batch.Hints[mark.hints:] {
		consider(h.Object)
	}
	return best, found
}

// replied records a core's reply to op.
func (s *simulation) replied(op *Op, r core.Reply) {
	if op.Outcome != Pending {
		return // the client gave up already
	}
	switch {
	case r.Err == nil:
		if op.Kind == OpGet {
			op.Found, op.Obj = r.Found, r.Obj
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
	s.done++
	c := s.clients[op.Client]
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
