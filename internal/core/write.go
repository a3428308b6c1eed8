package core

import (
	"fmt"
	"strings"

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
	rmw      bool          // built from the local copy (rmw.go)
	before   object.Object // rmw: the local copy before
	replied  bool
	lastErr  string
	// forwarded: another node forwarded the request here (see rmw.go)
	forwarded bool
}

// startWrite stamps the write and fans it out to every up primary replica at once.
// A write that needs a replica's local state (see rmw.go) is built from the local copy
// here, or forwarded to a replica unless it was itself forwarded.
func (c *Core) startWrite(nowMs int64, req Request, forwarded bool) {
	w := c.newWriteOp(req)
	w.forwarded = forwarded
	var up int
	w.replicas, up = c.replicas(req.Key, w.replicas)
	rmw := c.needsReplica(req)
	if rmw && !c.isReplica(w.replicas) {
		if forwarded {
			c.reply(Reply{ID: req.ID, Err: fmt.Errorf("%w node %s is not a replica of the key in its view of the ring", ErrUnavailable, c.cfg.NodeID)})
			return
		}
		c.forward(nowMs, req, w.replicas)
		return
	}
	w.need = req.Level.Required(c.cfg.ReplicationFactor)
	if req.Level != Any && !c.bug(BugSloppyQuorum) {
		if err := c.checkAvailable(req.Level, w.need, up); err != nil {
			c.reply(Reply{ID: req.ID, Err: err})
			return
		}
	}
	if rmw {
		obj, before, err := c.localObject(nowMs, req)
		if err != nil {
			c.clearOrFail(nowMs, req, forwarded, err)
			return
		}
		w.obj, w.before, w.rmw = obj, before, true
	} else {
		w.obj = c.newObject(nowMs, req)
	}
	w.id = c.newID()
	w.acked, w.hinted = falses(w.acked, len(w.replicas)), falses(w.hinted, len(w.replicas))
	c.writes[w.id] = w
	c.addDeadline(nowMs, w.id)
	// The local replica first: a write it refuses as the wrong type goes nowhere.
	if i := indexOf(w.replicas, c.cfg.NodeID); i >= 0 && c.view.Up[c.cfg.NodeID] {
		w.sent++
		c.localWrite(nowMs, w, i)
		if strings.HasPrefix(w.lastErr, ErrWrongType.Error()) {
			err := errorFromWire(w.lastErr)
			c.forgetWrite(w)
			c.clearOrFail(nowMs, req, forwarded, err)
			return
		}
	}
	for i, r := range w.replicas {
		if r == c.cfg.NodeID {
			continue
		}
		if !c.view.Up[r] {
			c.hintFor(nowMs, w, i)
			continue
		}
		w.sent++
		c.send(wire.Message{Type: wire.PutReq, To: r, ID: w.id, Key: req.Key, Object: w.obj})
	}
	c.maybeFinishWrite(nowMs, w)
}

// clearOrFail answers a write that this node's copy refused with err, unless it is
// a delete of a CRDT key: that one starts again as the CRDT's clear (deleteAsClear),
// coordinated from this copy.
func (c *Core) clearOrFail(nowMs int64, req Request, forwarded bool, err error) {
	clear, ok, cerr := c.deleteAsClear(req)
	switch {
	case ok:
		c.startWrite(nowMs, clear, forwarded)
		return
	case cerr != nil:
		err = cerr
	}
	c.reply(Reply{ID: req.ID, Err: err})
}

// newSibling stamps a put or delete with a fresh HLC timestamp whose dot is (this
// node, that timestamp), unique because the HLC never repeats, even across restarts.
func (c *Core) newSibling(nowMs int64, req Request) object.Sibling {
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
	return s
}

// newObject builds the object a last-write-wins put or delete writes: one sibling.
func (c *Core) newObject(nowMs int64, req Request) object.Object {
	s := c.newSibling(nowMs, req)
	return object.Object{Siblings: []object.Sibling{s}, Context: version.Vector{s.Dot}}
}

func (c *Core) localWrite(nowMs int64, w *writeOp, i int) {
	before, err := w.before, error(nil)
	if w.rmw {
		err = c.applyTo(w.req.Key, before, w.obj) // built from this very copy: no second read
	} else {
		before, err = c.applyWrite(w.req.Key, w.obj)
	}
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
	before, err := c.applyWrite(m.Key, m.Object)
	if err != nil {
		resp.Err = err.Error()
	} else if ws, ok := before.Winner(); ok && ws.Live(nowMs) {
		resp.Found = true
	}
	if m.ID != 0 {
		c.send(resp)
	}
}

// applyWrite applies a client write on a replica. Unlike a repair, it refuses to
// write a register over a CRDT: merged, the register would vanish (see object.Kind),
// so the client must hear WRONGTYPE instead of an acknowledgement.
func (c *Core) applyWrite(key object.Key, obj object.Object) (object.Object, error) {
	local, err := c.load(key)
	if err != nil {
		return local, err
	}
	if obj.Kind.IsRegister() && !local.Kind.IsRegister() {
		return local, fmt.Errorf("%w the key holds a %s; use its commands", ErrWrongType, local.Kind)
	}
	return local, c.applyTo(key, local, obj)
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
		if !strings.HasPrefix(m.Err, ErrWrongType.Error()) {
			c.hintFor(nowMs, w, i) // a refused type would be refused again
		}
	case m.Filling:
		w.lastErr = errFilling(m.From) // stored there, but does not count
	default:
		w.acked[i] = true
		w.acks++
		w.found = w.found || m.Found
	}
	c.maybeFinishWrite(nowMs, w)
}

// maybeFinishWrite answers the client once enough replicas acknowledged (or once it is
// certain they cannot), and forgets the write once every replica sent to has answered.
func (c *Core) maybeFinishWrite(nowMs int64, w *writeOp) {
	if !w.replied {
		switch {
		case w.acks >= w.need || (w.req.Level == Any && w.acks+w.hints >= 1) ||
			(c.bug(BugSloppyQuorum) && w.acks+w.hints >= w.need && w.acks >= 1):
			w.replied = true
			c.reply(Reply{ID: w.req.ID, Found: w.found, Acks: w.acks, Obj: w.obj, Before: w.before})
		case w.req.Level == Any && w.sent == w.answered:
			w.replied = true
			c.reply(Reply{ID: w.req.ID, Err: fmt.Errorf(
				"%w no replica took the write and no hint could be stored for ANY", ErrUnavailable)})
		case w.req.Level != Any && w.sent-w.answered+w.acks < w.need:
			// Replicas failed the write: the level cannot be reached any more.
			w.replied = true
			err := fmt.Errorf("%w %d of %d required replicas acknowledged; a replica failed: %s", ErrTimeout, w.acks, w.need, w.lastErr)
			if strings.HasPrefix(w.lastErr, ErrWrongType.Error()) {
				err = errorFromWire(w.lastErr)
				if w.req.Op == OpDelete && len(w.req.Context) == 0 && !w.forwarded && !c.isReplica(w.replicas) {
					// The replicas hold a CRDT: one of them turns the delete into a
					// clear of what it observed (deleteAsClear), as this node would if
					// it were a replica.
					c.forward(nowMs, w.req, w.replicas)
					break
				}
			}
			c.reply(Reply{ID: w.req.ID, Acks: w.acks, Err: err})
		}
	}
	if w.answered >= w.sent {
		c.forgetWrite(w)
	}
}

// maxFreeWrites bounds the finished writeOps a core keeps for reuse.
const maxFreeWrites = 1024

// newWriteOp returns a writeOp for req, reusing a finished one (and its slices) when
// there is one: a write costs no allocation for its bookkeeping.
func (c *Core) newWriteOp(req Request) *writeOp {
	var w *writeOp
	if n := len(c.freeWrites); n > 0 {
		w, c.freeWrites = c.freeWrites[n-1], c.freeWrites[:n-1]
	} else {
		w = &writeOp{}
	}
	*w = writeOp{req: req, replicas: w.replicas[:0], acked: w.acked[:0], hinted: w.hinted[:0]}
	return w
}

// forgetWrite drops a finished write and keeps its writeOp for reuse; the caller must
// not touch w afterwards.
func (c *Core) forgetWrite(w *writeOp) {
	delete(c.writes, w.id)
	if len(c.freeWrites) < maxFreeWrites {
		// Drop what the write referenced, so that a kept writeOp holds no value alive.
		clear(w.replicas)
		*w = writeOp{replicas: w.replicas[:0], acked: w.acked[:0], hinted: w.hinted[:0]}
		c.freeWrites = append(c.freeWrites, w)
	}
}

// falses returns b resized to n, every element false.
func falses(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	b = b[:n]
	clear(b)
	return b
}

func (c *Core) writeTimedOut(nowMs int64, w *writeOp) {
	for i := range w.replicas {
		if !w.acked[i] {
			c.hintFor(nowMs, w, i) // did not answer in time
		}
	}
	if !w.replied && w.req.Level == Any && w.hints > 0 {
		w.replied = true
		c.reply(Reply{ID: w.req.ID, Found: w.found, Obj: w.obj, Before: w.before})
	}
	if !w.replied {
		w.replied = true
		c.reply(Reply{ID: w.req.ID, Acks: w.acks, Err: fmt.Errorf(
			"%w %d of %d required replicas acknowledged within %dms", ErrTimeout, w.acks, w.need, c.cfg.RequestTimeoutMs)})
	}
	c.forgetWrite(w)
}

// hintFor stores a hint for replica i of a write, once.
func (c *Core) hintFor(nowMs int64, w *writeOp, i int) {
	if w.hinted[i] || w.acked[i] || w.replicas[i] == c.cfg.NodeID || c.bug(BugNoHints) {
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
