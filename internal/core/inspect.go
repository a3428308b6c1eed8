package core

import (
	"github.com/chorusdb/chorus/internal/wire"
)

// inspectOp is a key inspection: every up replica is asked for its copy, and the
// answer lists them all as they are, without merging or repairing anything.
type inspectOp struct {
	req    Request
	id     uint64
	copies []ReplicaCopy
	left   int
}

func (c *Core) startInspect(nowMs int64, req Request) {
	replicas, _ := c.replicas(req.Key, make([]string, 0, c.cfg.ReplicationFactor))
	in := &inspectOp{req: req, id: c.newID(), copies: make([]ReplicaCopy, len(replicas))}
	for i, r := range replicas {
		in.copies[i] = ReplicaCopy{Node: r, Up: c.view.Up[r]}
		switch {
		case !c.view.Up[r]:
			in.copies[i].Err = "down"
		case r == c.cfg.NodeID:
			obj, err := c.load(req.Key)
			in.copies[i].Obj, in.copies[i].Filling = obj, c.rangeFilling(req.Key)
			if err != nil {
				in.copies[i].Err = err.Error()
			}
		default:
			in.copies[i].Err = "no answer within the request timeout"
			in.left++
			c.send(wire.Message{Type: wire.GetReq, To: r, ID: in.id, Key: req.Key})
		}
	}
	if in.left == 0 {
		c.finishInspect(in)
		return
	}
	if c.inspects == nil {
		c.inspects = make(map[uint64]*inspectOp)
	}
	c.inspects[in.id] = in
	c.addDeadline(nowMs, in.id)
}

// inspectAnswered records a replica's copy; it reports false if m answers no
// inspection.
func (c *Core) inspectAnswered(m wire.Message) bool {
	in, ok := c.inspects[m.ID]
	if !ok {
		return false
	}
	for i := range in.copies {
		cp := &in.copies[i]
		if cp.Node == m.From && cp.Up && cp.Err == "no answer within the request timeout" {
			cp.Obj, cp.Filling, cp.Err = m.Object, m.Filling, m.Err
			in.left--
		}
	}
	if in.left == 0 {
		c.finishInspect(in)
	}
	return true
}

func (c *Core) finishInspect(in *inspectOp) {
	delete(c.inspects, in.id)
	c.reply(Reply{ID: in.req.ID, Copies: in.copies, Acks: len(in.copies) - in.left})
}
