package core

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// Writes that need a replica's local state.
//
// A last-write-wins put needs no read: its new sibling beats or loses to whatever is
// stored, by timestamp alone. Two kinds of write are different, and are coordinated by
// a replica of the key from its local copy (a read-modify-write, as Riak's vnodes do):
//
//   - a put or delete in a siblings or merge keyspace. Its dot's counter is an HLC
//     timestamp, and contexts are version vectors, so "the context covers dot (A, n)"
//     must imply "the writer saw every earlier dot of A for this key". That holds when A
//     issues its dots from its own local copy, which holds all of A's earlier dots, and
//     sends the whole resulting object: any copy holding (A, n) then holds, or has seen
//     superseded, everything A had before n.
//   - a CRDT update. A counter keeps one running total per actor, and an OR-set issues
//     dots from its own causal context; both must continue the actor's own history,
//     which only its local copy has.
//
// A node that is not a replica of the key forwards such a request to the first up
// replica (FwdReq) and relays its answer (FwdResp). A forwarded request is never
// forwarded again, and a duplicated FwdReq is recognised by (sender, id) and ignored,
// so that a duplicated message cannot apply an increment twice.

// fwdOp is a request this node forwarded and awaits the answer of.
type fwdOp struct {
	req Request
	id  uint64
	to  string
}

// proxyOp is a forwarded request this node coordinates for another node.
type proxyOp struct {
	from string
	id   uint64
	key  object.Key
}

type fwdKey struct {
	from string
	id   uint64
}

// proxyIDBit marks the request ids of proxied requests, which the core assigns itself
// (drivers assign ids below it).
const proxyIDBit = 1 << 63

// fwdDeleteSeen marks Request.DeleteSeen in a forwarded op.
const fwdDeleteSeen = 0x80

// needsReplica reports whether the request must be coordinated by a replica of its key.
func (c *Core) needsReplica(req Request) bool {
	return req.Op == OpUpdate || c.keyspace(req.Key.Keyspace).Resolution != ResolutionLWW
}

func (c *Core) isReplica(replicas []string) bool { return indexOf(replicas, c.cfg.NodeID) >= 0 }

// forward sends req to the first up replica of its key.
func (c *Core) forward(nowMs int64, req Request, replicas []string) {
	to := ""
	for _, r := range replicas {
		if c.view.Up[r] {
			to = r
			break
		}
	}
	if to == "" {
		c.reply(Reply{ID: req.ID, Err: fmt.Errorf("%w no replica of the key is alive to coordinate the %s", ErrUnavailable, req.Op)})
		return
	}
	f := &fwdOp{req: req, id: c.newID(), to: to}
	if c.fwds == nil {
		c.fwds = make(map[uint64]*fwdOp)
	}
	c.fwds[f.id] = f
	c.addDeadline(nowMs, f.id)
	c.stats.Forwarded++
	op := uint8(req.Op)
	if req.DeleteSeen {
		op |= fwdDeleteSeen
	}
	fw := &wire.Fwd{Op: op, Level: uint8(req.Level), TTLMs: req.TTLMs, Value: req.Value, Context: req.Context}
	if req.Op == OpUpdate {
		fw.CRDT = crdt.AppendOp(nil, req.CRDT)
	}
	c.send(wire.Message{Type: wire.FwdReq, To: to, ID: f.id, Key: req.Key, Fwd: fw})
}

// replicaForward coordinates a request another node forwarded.
func (c *Core) replicaForward(nowMs int64, m wire.Message) {
	fk := fwdKey{m.From, m.ID}
	if _, dup := c.fwdSeen[fk]; dup {
		return // a duplicate: the first copy's answer is on its way
	}
	if c.fwdSeen == nil {
		c.fwdSeen = make(map[fwdKey]int64)
		c.proxied = make(map[uint64]proxyOp)
	}
	c.fwdSeen[fk] = nowMs + 2*c.cfg.RequestTimeoutMs
	f := m.Fwd
	if f == nil {
		f = &wire.Fwd{}
	}
	req := Request{
		ID: proxyIDBit | c.newID(), Op: Op(f.Op &^ fwdDeleteSeen), DeleteSeen: f.Op&fwdDeleteSeen != 0, Key: m.Key, Value: f.Value, TTLMs: f.TTLMs,
		Level: Level(f.Level), Context: f.Context,
	}
	c.proxied[req.ID] = proxyOp{from: m.From, id: m.ID, key: m.Key}
	if req.Op == OpUpdate {
		op, err := crdt.DecodeOp(f.CRDT)
		if err != nil {
			c.reply(Reply{ID: req.ID, Err: fmt.Errorf("%w forwarded CRDT operation: %v", ErrBadRequest, err)})
			return
		}
		req.CRDT = op
	}
	if err := c.validate(nowMs, req); err != nil {
		c.reply(Reply{ID: req.ID, Err: err})
		return
	}
	if req.Op != OpPut && req.Op != OpDelete && req.Op != OpUpdate {
		c.reply(Reply{ID: req.ID, Err: fmt.Errorf("%w %s cannot be forwarded", ErrBadRequest, req.Op)})
		return
	}
	c.startWrite(nowMs, req, true)
}

// forwardAnswered relays a replica's answer to a forwarded request to the client.
func (c *Core) forwardAnswered(m wire.Message) {
	f, ok := c.fwds[m.ID]
	if !ok || m.From != f.to {
		return // late (already timed out), duplicated, or not ours
	}
	delete(c.fwds, m.ID)
	r := Reply{ID: f.req.ID, Found: m.Found, Obj: m.Object}
	if m.Fwd != nil {
		r.Acks, r.Before = int(m.Fwd.Acks), m.Fwd.Before
	}
	if m.Err != "" {
		r.Err = errorFromWire(m.Err)
	}
	c.reply(r)
}

func (c *Core) forwardTimedOut(f *fwdOp) {
	delete(c.fwds, f.id)
	c.reply(Reply{ID: f.req.ID, Err: fmt.Errorf("%w replica %s did not answer the forwarded %s within %dms",
		ErrTimeout, f.to, f.req.Op, c.cfg.RequestTimeoutMs)})
}

// expireForwards forgets the forwarded ids old enough that no duplicate can still
// arrive. Map order does not matter: only expired entries are deleted.
func (c *Core) expireForwards(nowMs int64) {
	if len(c.fwdSeen) < 1024 && nowMs < c.nextFwdExpiry {
		return
	}
	c.nextFwdExpiry = nowMs + c.cfg.RequestTimeoutMs
	for k, until := range c.fwdSeen {
		if until <= nowMs {
			delete(c.fwdSeen, k)
		}
	}
}

// deleteAsClear turns a delete without a context of a key whose local copy is a CRDT
// into the CRDT's clear: a counter gets minus its value, a set loses the elements
// this copy holds (what the deleter could have observed; concurrent additions
// elsewhere survive, as they must in a CRDT). ok is false when the local copy is not a
// CRDT; err is set for a CRDT that only grows and so cannot be deleted.
func (c *Core) deleteAsClear(req Request) (clear Request, ok bool, err error) {
	if req.Op != OpDelete || len(req.Context) > 0 {
		return req, false, nil
	}
	local, lerr := c.load(req.Key)
	t, isCRDT := local.Kind.CRDT()
	if lerr != nil || !isCRDT {
		return req, false, nil
	}
	op := crdt.Op{Type: t, Action: crdt.ActClear}
	if op.Validate() != nil {
		return req, false, fmt.Errorf("%w a %s cannot be deleted (it only grows)", ErrWrongType, t)
	}
	return Request{ID: req.ID, Op: OpUpdate, Key: req.Key, Level: req.Level, CRDT: op}, true, nil
}

// localObject builds the object a replica-coordinated write sends to every replica:
// the local copy with the write applied. It returns the local copy as it was.
func (c *Core) localObject(nowMs int64, req Request) (obj, before object.Object, err error) {
	before, err = c.load(req.Key)
	if err != nil {
		return obj, before, fmt.Errorf("%w reading the local copy: %v", ErrTimeout, err)
	}
	ks := c.keyspace(req.Key.Keyspace)
	if req.Op == OpUpdate {
		obj, err = c.crdtObject(nowMs, req, before)
		return obj, before, err
	}
	if !before.Kind.IsRegister() {
		return obj, before, fmt.Errorf("%w the key holds a %s; use its commands", ErrWrongType, before.Kind)
	}
	ctx := req.Context
	if req.Op == OpDelete && ctx == nil && req.DeleteSeen {
		ctx = before.FullContext()
	}
	s := c.newSibling(nowMs, req)
	obj = object.Object{Kind: object.KindSiblings, Context: before.Context.Join(ctx).Add(s.Dot)}
	for _, b := range before.Siblings {
		// A sibling the client saw is replaced; so is one holding the very value this
		// write stores (a retry), so that retries cannot multiply siblings.
		if ctx.Contains(b.Dot) || c.bug(BugDropSiblings) || (!s.Tombstone && !b.Tombstone && b.ExpiresAt == s.ExpiresAt && bytes.Equal(b.Value, s.Value)) {
			obj.Context = obj.Context.Add(b.Dot)
			continue
		}
		obj.Siblings = append(obj.Siblings, b)
		obj.Context = obj.Context.Add(b.Dot)
	}
	obj.Siblings = append(obj.Siblings, s)
	sortByDot(obj.Siblings)
	switch ks.Resolution {
	case ResolutionMerge:
		obj, err = c.collapse(nowMs, obj, s, ks)
	default:
		if n := len(obj.Siblings); n > ks.siblingCap() {
			err = fmt.Errorf("%w the write would leave %d siblings, more than the keyspace's sibling_cap of %d: read the key and write back with its context",
				ErrSiblingCap, n, ks.siblingCap())
		}
	}
	return obj, before, err
}

// collapse merges the live siblings of obj into one value under the new write's dot s,
// with the keyspace's merge function: the result is what a client would write had it
// read every sibling and merged them itself.
func (c *Core) collapse(nowMs int64, obj object.Object, s object.Sibling, ks KeyspaceSettings) (object.Object, error) {
	f := c.cfg.Mergers[ks.Merge]
	if f == nil {
		return obj, fmt.Errorf("%w no merge function %q is registered on node %s", ErrBadRequest, ks.Merge, c.cfg.NodeID)
	}
	live := obj.Live(nowMs)
	if len(live) == 0 {
		return obj, nil // a delete that saw everything
	}
	values := make([][]byte, len(live))
	for i, l := range live {
		values[i] = l.Value
	}
	v, err := f(values)
	if err != nil {
		return obj, fmt.Errorf("%w merge:%s: %v", ErrBadRequest, ks.Merge, err)
	}
	merged := s
	merged.Tombstone, merged.Value = false, v
	if s.Tombstone || !s.Live(nowMs) {
		merged.ExpiresAt = 0
	}
	obj.Siblings = []object.Sibling{merged}
	return obj, nil
}

// mergedValue is the value a read of a merge keyspace returns when concurrent writes
// left several live siblings.
func (c *Core) mergedValue(ks KeyspaceSettings, live []object.Sibling) ([]byte, bool) {
	f := c.cfg.Mergers[ks.Merge]
	if f == nil || len(live) < 2 {
		return nil, false
	}
	values := make([][]byte, len(live))
	for i, l := range live {
		values[i] = l.Value
	}
	v, err := f(values)
	return v, err == nil
}

// crdtObject applies a CRDT update to the local copy.
func (c *Core) crdtObject(nowMs int64, req Request, before object.Object) (object.Object, error) {
	op := req.CRDT
	var v crdt.Value
	switch t, isCRDT := before.Kind.CRDT(); {
	case isCRDT && t != op.Type:
		return object.Object{}, fmt.Errorf("%w the key holds a %s, not a %s", ErrWrongType, t, op.Type)
	case isCRDT:
		var err error
		if v, err = before.CRDT(); err != nil {
			return object.Object{}, fmt.Errorf("%w the local copy is corrupt: %v", ErrTimeout, err)
		}
	default:
		if len(before.Live(nowMs)) > 0 {
			return object.Object{}, fmt.Errorf("%w the key holds a value, not a %s", ErrWrongType, op.Type)
		}
		v, _ = crdt.New(op.Type)
	}
	ts := c.now(nowMs)
	if err := op.Apply(v, c.actor(), uint64(ts)); err != nil {
		return object.Object{}, fmt.Errorf("%w %v", ErrBadRequest, err)
	}
	enc := crdt.Encode(v)
	if len(enc) > c.cfg.MaxValueBytes {
		return object.Object{}, fmt.Errorf("%w the %s would grow to %d bytes, past the %d-byte limit", ErrTooLarge, op.Type, len(enc), c.cfg.MaxValueBytes)
	}
	s := object.Sibling{Value: enc, Dot: version.Dot{Actor: c.cfg.NodeID, Counter: uint64(ts)}, Timestamp: ts}
	return object.Object{Kind: object.KindOf(op.Type), Siblings: []object.Sibling{s}}, nil
}

func (c *Core) actor() string {
	if c.cfg.Actor != "" {
		return c.cfg.Actor
	}
	return c.cfg.NodeID
}

// sortByDot orders siblings as object.Merge leaves them.
func sortByDot(s []object.Sibling) {
	slices.SortFunc(s, func(x, y object.Sibling) int {
		if x.Dot.Actor != y.Dot.Actor {
			if x.Dot.Actor < y.Dot.Actor {
				return -1
			}
			return 1
		}
		switch {
		case x.Dot.Counter < y.Dot.Counter:
			return -1
		case x.Dot.Counter > y.Dot.Counter:
			return 1
		}
		return 0
	})
}
