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
	asked    []bool          // by index: sent a request (or read locally)
	sent     int             // replicas asked
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

// startRead asks the replicas of the key: every up one at once (FanoutAll), or only
// as many as the level needs, this node first when it is one of them (FanoutLevel;
// the others are asked by askMore when those fall short, and by readSlow when they
// are slow).
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
	flags := make([]bool, 4*n) // one allocation for the four per-replica flags
	r.got, r.okAt, r.fixed, r.asked = flags[:n:n], flags[n:2*n:2*n], flags[2*n:3*n:3*n], flags[3*n:]
	r.copies = make([]object.Object, n)
	c.reads[r.id] = r
	c.addDeadline(nowMs, r.id)
	first := up
	if c.cfg.ReadFanout == FanoutLevel && r.need < up {
		first = r.need
		c.speculative = append(c.speculative, deadline{at: nowMs + c.cfg.SpeculativeReadMs, id: r.id})
	}
	c.askMore(r, first)
	c.maybeFinishRead(nowMs, r)
}

// askMore asks up to k up replicas not asked yet, this node first, the others in
// preference order, and returns how many it asked. This node's answer is taken at
// once (without finishing the read: the caller does).
func (c *Core) askMore(r *readOp, k int) int {
	asked := 0
	for pass := 0; pass < 2 && asked < k; pass++ {
		for i, rep := range r.replicas {
			if asked == k {
				break
			}
			local := rep == c.cfg.NodeID
			if r.asked[i] || !c.view.Up[rep] || local != (pass == 0) {
				continue
			}
			r.asked[i] = true
			r.sent++
			asked++
			if local {
				obj, err := c.load(r.req.Key)
				c.readAnswer(r, i, obj, err, c.rangeFilling(r.req.Key))
				continue
			}
			c.send(wire.Message{Type: wire.GetReq, To: rep, ID: r.id, Key: r.req.Key})
		}
	}
	return asked
}

// readSlow asks the replicas a read has not asked yet, once the ones it asked have
// been slow to answer (speculative retry).
func (c *Core) readSlow(r *readOp) {
	if r.replied || r.ok >= r.need {
		return
	}
	if n := c.askMore(r, len(r.replicas)); n > 0 {
		c.stats.SpeculativeReads++
	}
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
// failed replicas make R unreachable. Replicas that failed or answered while filling are
// made up for by asking others not asked yet. Once every replica asked has answered,
// stale copies are repaired (async mode) and the read is forgotten.
func (c *Core) maybeFinishRead(nowMs int64, r *readOp) {
	if !r.replied {
		if short := r.need - r.ok - (r.sent - r.answers); short > 0 && !r.blocking {
			c.askMore(r, short)
		}
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
