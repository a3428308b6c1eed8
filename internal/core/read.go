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
	replicas []string
	got      []bool // by index in replicas
	answers  int    // replicas that answered
	ok       int    // replicas that answered without error
	sent     int
	merged   object.Object
	replied  bool
	lastErr  string
}

// startRead asks every up primary replica at once.
func (c *Core) startRead(nowMs int64, req Request) {
	r := &readOp{req: req, id: c.newID()}
	var up int
	r.replicas, up = c.replicas(req.Key, make([]string, 0, c.cfg.ReplicationFactor))
	r.need = req.Level.Required(c.cfg.ReplicationFactor)
	if err := c.checkAvailable(req.Level, r.need, up); err != nil {
		c.reply(Reply{ID: req.ID, Err: err})
		return
	}
	r.got = make([]bool, len(r.replicas))
	c.reads[r.id] = r
	c.addDeadline(nowMs, r.id)
	for i, rep := range r.replicas {
		if !c.view.Up[rep] {
			continue
		}
		r.sent++
		if rep == c.cfg.NodeID {
			obj, err := c.load(req.Key)
			c.readAnswer(r, i, obj, err)
			continue
		}
		c.send(wire.Message{Type: wire.GetReq, To: rep, ID: r.id, Key: req.Key})
	}
	c.maybeFinishRead(nowMs, r)
}

// replicaGet answers a coordinator with the local copy of a key.
func (c *Core) replicaGet(m wire.Message) {
	resp := wire.Message{Type: wire.GetResp, To: m.From, ID: m.ID, Key: m.Key}
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
	c.readAnswer(r, i, m.Object, err)
	c.maybeFinishRead(nowMs, r)
}

func (c *Core) readAnswer(r *readOp, i int, obj object.Object, err error) {
	r.got[i] = true
	r.answers++
	if err != nil {
		r.lastErr = err.Error()
		return
	}
	merged, err := object.Merge(r.merged, obj, object.LWW)
	if err != nil {
		r.lastErr = err.Error()
		return
	}
	r.merged = merged
	r.ok++
}

// maybeFinishRead answers the client after R good answers, or with an error once
// failed replicas make R unreachable; it forgets the read once all have answered.
func (c *Core) maybeFinishRead(nowMs int64, r *readOp) {
	if !r.replied {
		switch {
		case r.ok >= r.need:
			r.replied = true
			c.reply(c.readReply(nowMs, r))
		case r.sent-r.answers+r.ok < r.need:
			r.replied = true
			c.reply(Reply{ID: r.req.ID, Acks: r.ok, Err: fmt.Errorf(
				"%w %d of %d required replicas answered; a replica failed: %s", ErrTimeout, r.ok, r.need, r.lastErr)})
		}
	}
	if r.answers >= r.sent {
		delete(c.reads, r.id)
	}
}

func (c *Core) readReply(nowMs int64, r *readOp) Reply {
	rep := Reply{ID: r.req.ID, Acks: r.ok, Obj: r.merged}
	if w, ok := r.merged.Winner(); ok && w.Live(nowMs) {
		rep.Found = true
		rep.Value = w.Value
	}
	return rep
}

func (c *Core) readTimedOut(r *readOp) {
	if !r.replied {
		r.replied = true
		c.reply(Reply{ID: r.req.ID, Acks: r.answers, Err: fmt.Errorf(
			"%w %d of %d required replicas answered within %dms", ErrTimeout, r.ok, r.need, c.cfg.RequestTimeoutMs)})
	}
	delete(c.reads, r.id)
}
