package core

import (
	"fmt"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// writeOp is a write this node coordinates.
type writeOp struct {
	req      Request
	id       uint64
	need     int
	replicas []string
	acked    []bool // by index in replicas
	hinted   []bool // by index: a hint was stored for this replica
	hints    int
	acks     int
	answered int // replicas that answered, ack or failure
	sent     int // replicas the write was sent to (or applied locally)
	found    bool
	obj      object.Object
	replied  bool
	lastErr  string
}

// startWrite stamps the write and fans it out to every up primary replica at once.
func (c *Core) startWrite(nowMs int64, req Request) {
	w := &writeOp{req: req, id: c.newID()}
	var up int
	w.replicas, up = c.replicas(req.Key, make([]string, 0, c.cfg.ReplicationFactor))
	w.need = req.Level.Required(c.cfg.ReplicationFactor)
	if req.Level != Any {
		if err := c.checkAvailable(req.Level, w.need, up); err != nil {
			c.reply(Reply{ID: req.ID, Err: err})
			return
		}
	}
	w.acked, w.hinted = make([]bool, len(w.replicas)), make([]bool, len(w.replicas))
	w.obj = c.newObject(nowMs, req)
	c.writes[w.id] = w
	c.addDeadline(nowMs, w.id)
	for i, r := range w.replicas {
		if !c.view.Up[r] {
			c.hintFor(nowMs, w, i)
			continue
		}
		w.sent++
		if r == c.cfg.NodeID {
			c.localWrite(nowMs, w, i)
			continue
		}
		c.send(wire.Message{Type: wire.PutReq, To: r, ID: w.id, Key: req.Key, Object: w.obj})
	}
	c.maybeFinishWrite(w)
}

// newObject builds the object a put or delete writes: one sibling stamped with a fresh
// HLC timestamp whose dot is (this node, that timestamp) — unique because the HLC never
// repeats, even across restarts.
func (c *Core) newObject(nowMs int64, req Request) object.Object {
	ts := c.now(nowMs)
	s := object.Sibling{
		Dot:       version.Dot{Actor: c.cfg.NodeID, Counter: uint64(ts)},
		Timestamp: ts,
	}
	switch req.Op {
	case OpDelete:
		s.Tombstone = true
	default:
		s.Value = req.Value
		if req.TTLMs > 0 {
			s.ExpiresAt = ts.Physical() + req.TTLMs
		}
	}
	return object.Object{Siblings: []object.Sibling{s}, Context: version.Vector{s.Dot}}
}

func (c *Core) localWrite(nowMs int64, w *writeOp, i int) {
	before, err := c.apply(w.req.Key, w.obj)
	w.answered++
	if err != nil {
		w.lastErr = err.Error()
		return
	}
	if c.rangeFilling(w.req.Key) {
		w.lastErr = errFilling(c.cfg.NodeID)
		return // stored, but does not count
	}
	w.acked[i] = true
	w.acks++
	if ws, ok := before.Winner(); ok && ws.Live(nowMs) {
		w.found = true
	}
}

// replicaPut merges a coordinator's write into the local copy and acknowledges it;
// the acknowledgement leaves only after the batch is durable (see Ready).
func (c *Core) replicaPut(nowMs int64, m wire.Message) {
	resp := wire.Message{Type: wire.PutResp, To: m.From, ID: m.ID, Key: m.Key, Filling: c.rangeFilling(m.Key)}
	before, err := c.apply(m.Key, m.Object)
	if err != nil {
		resp.Err = err.Error()
	} else if ws, ok := before.Winner(); ok && ws.Live(nowMs) {
		resp.Found = true
	}
	if m.ID != 0 {
		c.send(resp)
	}
}

// writeAnswered counts a replica's answer to a write.
func (c *Core) writeAnswered(nowMs int64, m wire.Message) {
	w, ok := c.writes[m.ID]
	if !ok {
		if r, ok := c.reads[m.ID]; ok {
			c.repairAnswered(nowMs, r, m) // blocking read repair
		}
		return // late answer to a finished write, or from a previous run
	}
	i := indexOf(w.replicas, m.From)
	if i < 0 || w.acked[i] {
		return // not a replica of this key, or a duplicate
	}
	w.answered++
	switch {
	case m.Err != "":
		w.lastErr = m.Err
		c.hintFor(nowMs, w, i)
	case m.Filling:
		w.lastErr = errFilling(m.From) // stored there, but does not count
	default:
		w.acked[i] = true
		w.acks++
		w.found = w.found || m.Found
	}
	c.maybeFinishWrite(w)
}

// maybeFinishWrite answers the client once enough replicas acknowledged (or once it is
// certain they cannot), and forgets the write once every replica sent to has answered.
func (c *Core) maybeFinishWrite(w *writeOp) {
	if !w.replied {
		switch {
		case w.acks >= w.need || (w.req.Level == Any && w.acks+w.hints >= 1):
			w.replied = true
			c.reply(Reply{ID: w.req.ID, Found: w.found, Acks: w.acks, Obj: w.obj})
		case w.req.Level == Any && w.sent == w.answered:
			w.replied = true
			c.reply(Reply{ID: w.req.ID, Err: fmt.Errorf(
				"%w no replica took the write and no hint could be stored for ANY", ErrUnavailable)})
		case w.req.Level != Any && w.sent-w.answered+w.acks < w.need:
			// Replicas failed the write: the level cannot be reached any more.
			w.replied = true
			c.reply(Reply{ID: w.req.ID, Acks: w.acks, Err: fmt.Errorf(
				"%w %d of %d required replicas acknowledged; a replica failed: %s", ErrTimeout, w.acks, w.need, w.lastErr)})
		}
	}
	if w.answered >= w.sent {
		delete(c.writes, w.id)
	}
}

func (c *Core) writeTimedOut(nowMs int64, w *writeOp) {
	for i := range w.replicas {
		if !w.acked[i] {
			c.hintFor(nowMs, w, i) // did not answer in time
		}
	}
	if !w.replied && w.req.Level == Any && w.hints > 0 {
		w.replied = true
		c.reply(Reply{ID: w.req.ID, Found: w.found, Obj: w.obj})
	}
	if !w.replied {
		w.replied = true
		c.reply(Reply{ID: w.req.ID, Acks: w.acks, Err: fmt.Errorf(
			"%w %d of %d required replicas acknowledged within %dms", ErrTimeout, w.acks, w.need, c.cfg.RequestTimeoutMs)})
	}
	delete(c.writes, w.id)
}

// hintFor stores a hint for replica i of a write, once.
func (c *Core) hintFor(nowMs int64, w *writeOp, i int) {
	if w.hinted[i] || w.acked[i] || w.replicas[i] == c.cfg.NodeID {
		return
	}
	if c.storeHint(nowMs, w.replicas[i], w.req.Key, w.obj) {
		w.hinted[i] = true
		w.hints++
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
