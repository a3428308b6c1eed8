package core

import (
	"fmt"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/wire"
)

// readOp is a read this node coordinates.
type readOp struct {
	req      Request
	id       uint64
	need     int
	mode     ReadRepairMode
	replicas []string
	got      []bool          // by index in replicas: answered
	copies   []object.Object // by index: the copy a replica returned (if it answered OK)
	okAt     []bool          // by index: answered without error
	answers  int             // replicas that answered
	ok       int             // replicas that answered without error
	sent     int
	merged   object.Object
	replied  bool
	fixed    []bool        // by index: already sent the merged object
	blocking bool          // blocking read repair started
	repaired object.Object // blocking read repair: the object sent to the stale replicas
	// blocking read repair: acknowledgements still awaited before the reply
	repairWait []bool
	repairLeft int
	lastErr    string
}

// startRead asks every up primary replica at once.
func (c *Core) startRead(nowMs int64, req Request) {
	r := &readOp{req: req, id: c.newID(), mode: c.keyspace(req.Key.Keyspace).ReadRepair}
	var up int
	r.replicas, up = c.replicas(req.Key, make([]string, 0, c.cfg.ReplicationFactor))
	r.need = req.Level.Required(c.cfg.ReplicationFactor)
	if err := c.checkAvailable(req.Level, r.need, up); err != nil {
		c.reply(Reply{ID: req.ID, Err: err})
		return
	}
	n := len(r.replicas)
	r.got, r.okAt, r.fixed, r.copies = make([]bool, n), make([]bool, n), make([]bool, n), make([]object.Object, n)
	c.reads[r.id] = r
	c.addDeadline(nowMs, r.id)
	for i, rep := range r.replicas {
		if !c.view.Up[rep] {
			continue
		}
		r.sent++
		if rep == c.cfg.NodeID {
			obj, err := c.load(req.Key)
			c.readAnswer(r, i, obj, err, c.rangeFilling(req.Key))
			continue
		}
		c.send(wire.Message{Type: wire.GetReq, To: rep, ID: r.id, Key: req.Key})
	}
	c.maybeFinishRead(nowMs, r)
}

// replicaGet answers a coordinator with the local copy of a key.
func (c *Core) replicaGet(m wire.Message) {
	resp := wire.Message{Type: wire.GetResp, To: m.From, ID: m.ID, Key: m.Key, Filling: c.rangeFilling(m.Key)}
	obj, err := c.load(m.Key)
	if err != nil {
		resp.Err = err.Error()
	}
	resp.Object = obj
	c.send(resp)
}

func (c *Core) readAnswered(nowMs int64, m wire.Message) {
	r, ok := c.reads[m.ID]
	if !ok {
		c.inspectAnswered(m)
		return
	}
	i := indexOf(r.replicas, m.From)
	if i < 0 || r.got[i] {
		return
	}
	var err error
	if m.Err != "" {
		err = fmt.Errorf("replica %s: %s", m.From, m.Err)
	}
	c.readAnswer(r, i, m.Object, err, m.Filling)
	c.maybeFinishRead(nowMs, r)
}

// readAnswer records a replica's answer. A filling replica's copy is merged but does
// not count toward R.
func (c *Core) readAnswer(r *readOp, i int, obj object.Object, err error, filling bool) {
	r.got[i] = true
	r.answers++
	if err != nil {
		r.lastErr = err.Error()
		return
	}
	merged, err := object.Merge(r.merged, obj)
	if err != nil {
		r.lastErr = err.Error()
		return
	}
	if r.blocking && !object.Equal(merged, r.merged) {
		// A newer copy arrived while a blocking repair was under way: the replicas
		// repaired so far hold the older object, so the final repair must send them
		// this one too.
		clear(r.fixed)
	}
	r.merged = merged
	if filling {
		r.lastErr = errFilling(r.replicas[i])
		return
	}
	r.copies[i] = obj
	r.okAt[i] = true
	r.ok++
}

// maybeFinishRead answers the client after R good answers (in blocking read-repair mode,
// only once the stale replicas among them acknowledged the repair), or with an error once
// failed replicas make R unreachable. Once every replica answered, stale copies are
// repaired (async mode) and the read is forgotten.
func (c *Core) maybeFinishRead(nowMs int64, r *readOp) {
	if !r.replied {
		switch {
		case r.ok >= r.need && r.mode == ReadRepairBlocking && !r.blocking:
			c.repairBlocking(nowMs, r)
		case r.ok >= r.need && r.repairLeft == 0:
			r.replied = true
			c.reply(c.readReply(nowMs, r))
		case r.sent-r.answers+r.ok < r.need:
			r.replied = true
			c.reply(Reply{ID: r.req.ID, Acks: r.ok, Err: fmt.Errorf(
				"%w %d of %d required replicas answered; a replica failed: %s", ErrTimeout, r.ok, r.need, r.lastErr)})
		}
	}
	if r.answers >= r.sent && r.repairLeft == 0 {
		c.finishRead(nowMs, r)
	}
}

// finishRead repairs the stale replicas that answered (unless read repair is off) and
// forgets the read.
func (c *Core) finishRead(nowMs int64, r *readOp) {
	if r.mode != ReadRepairOff {
		c.repairStale(nowMs, r, false)
	}
	delete(c.reads, r.id)
}

// repairBlocking sends the merged object to the stale replicas that answered so far and
// holds the reply until they acknowledge it, so that every later QUORUM read sees at
// least this value (monotonic quorum reads).
func (c *Core) repairBlocking(nowMs int64, r *readOp) {
	r.blocking = true
	r.repaired = r.merged
	r.repairWait = make([]bool, len(r.replicas))
	r.repairLeft = c.repairStale(nowMs, r, true)
	if r.repairLeft == 0 {
		r.replied = true
		c.reply(c.readReply(nowMs, r))
	}
}

// repairStale sends the merged object to every replica whose copy differs, logs each
// repair, and returns how many acknowledgements it will wait for (when wait is set).
func (c *Core) repairStale(nowMs int64, r *readOp, wait bool) int {
	if r.merged.IsZero() || c.purgeable(nowMs, r.merged) {
		return 0 // nothing to repair, or a deletion the replicas may drop by now
	}
	waiting := 0
	for i, rep := range r.replicas {
		if !r.okAt[i] || r.fixed[i] || object.Equal(r.copies[i], r.merged) {
			continue
		}
		r.fixed[i] = true
		c.stats.ReadRepairs++
		c.rd.Batch.Repairs = append(c.rd.Batch.Repairs, repairEntry(r.req.Key, rep, nowMs))
		if rep == c.cfg.NodeID {
			c.apply(r.req.Key, r.merged) // durable with this Ready, before any reply
			continue
		}
		id := uint64(0) // fire and forget
		if wait {
			id = r.id
			r.repairWait[i] = true
			waiting++
		}
		c.send(wire.Message{Type: wire.PutReq, To: rep, ID: id, Key: r.req.Key, Object: r.merged})
	}
	return waiting
}

// repairAnswered counts a replica's acknowledgement of a blocking read repair.
func (c *Core) repairAnswered(nowMs int64, r *readOp, m wire.Message) {
	i := indexOf(r.replicas, m.From)
	if i < 0 || r.repairWait == nil || !r.repairWait[i] {
		return
	}
	r.repairWait[i] = false
	r.repairLeft--
	if m.Err != "" {
		r.lastErr = m.Err
		r.ok-- // the replica does not hold the value the reply would promise
	}
	c.maybeFinishRead(nowMs, r)
}

// readReply answers a read. Value is the last-write-wins winner of a register, the
// merge of the live siblings in a merge keyspace, and one of the live siblings
// otherwise (the API layers show them all); Found says whether any sibling is live.
func (c *Core) readReply(nowMs int64, r *readOp) Reply {
	obj := r.merged
	if r.blocking {
		// Answer with what the repair made durable on R replicas, not with a newer copy
		// that arrived meanwhile: the next QUORUM read must see at least this answer.
		obj = r.repaired
	}
	rep := Reply{ID: r.req.ID, Acks: r.ok, Obj: obj}
	c.stats.Reads++
	switch {
	case obj.Kind == object.KindSiblings:
		live := obj.Live(nowMs)
		c.stats.SiblingsRead += uint64(len(live))
		if len(live) == 0 {
			return rep
		}
		newest := live[0]
		for _, l := range live[1:] {
			if l.Timestamp > newest.Timestamp {
				newest = l
			}
		}
		rep.Found, rep.Value = true, newest.Value
		if v, ok := c.mergedValue(c.keyspace(r.req.Key.Keyspace), live); ok {
			rep.Value, rep.Merged = v, true
		}
	case !obj.Kind.IsRegister():
		rep.Found = true // the API layers render the CRDT from Obj
	default:
		if w, ok := obj.Winner(); ok && w.Live(nowMs) {
			rep.Found = true
			rep.Value = w.Value
			c.stats.SiblingsRead++
		}
	}
	return rep
}

func (c *Core) readTimedOut(nowMs int64, r *readOp) {
	if !r.replied {
		r.replied = true
		c.reply(Reply{ID: r.req.ID, Acks: r.ok, Err: fmt.Errorf(
			"%w %d of %d required replicas answered within %dms", ErrTimeout, r.ok, r.need, c.cfg.RequestTimeoutMs)})
	}
	r.repairLeft = 0
	c.finishRead(nowMs, r)
}
