package sim

import (
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/wire"
)

// The durability oracle: a replica's acknowledgement (a PutResp or HintResp without
// error) promises that the write is on its disk. The oracle remembers what each
// replica was asked to store, notes each acknowledgement as it leaves, and when a
// crash strikes checks that every acknowledged write is in what survives: the
// storage's durable contents. Acknowledgements are forgotten at the next commit, by
// which time they must be durable anyway.

// ackKey names a request a replica answers: its coordinator (or hint holder), its id
// and its type.
type ackKey struct {
	to  string
	id  uint64
	typ wire.Type
}

// ackedWrite is a write a replica was asked to store, or acknowledged.
type ackedWrite struct {
	key object.Key
	sib object.Sibling // the winner of the object sent
	to  string
}

// noteRequest remembers what a write request asks n to store.
func (s *simulation) noteRequest(n *simNode, m wire.Message) {
	var resp wire.Type
	switch m.Type {
	case wire.PutReq:
		resp = wire.PutResp
	case wire.HintReq:
		resp = wire.HintResp
	default:
		return
	}
	w, ok := m.Object.Winner()
	if m.ID == 0 || !ok {
		return
	}
	if n.asked == nil {
		n.asked = map[ackKey]ackedWrite{}
	}
	n.asked[ackKey{m.From, m.ID, resp}] = ackedWrite{key: m.Key, sib: w, to: m.From}
}

// noteAck records an acknowledgement leaving n.
func (s *simulation) noteAck(n *simNode, m wire.Message) {
	if m.Type != wire.PutResp && m.Type != wire.HintResp {
		return
	}
	k := ackKey{m.To, m.ID, m.Type}
	w, ok := n.asked[k]
	if !ok {
		return
	}
	delete(n.asked, k)
	if m.Err == "" && !m.Filling {
		n.acked = append(n.acked, w)
	}
}

// checkDurable runs when n crashes: every write n acknowledged since its last commit
// must be in its storage (or be superseded there).
func (s *simulation) checkDurable(n *simNode) {
	for _, w := range n.acked {
		o, _, _ := n.store.Get(w.key)
		have := observe(o)
		if have.ts() >= w.sib.Timestamp || (w.sib.Tombstone && !have.ok) {
			continue
		}
		var ops []int
		if owner := s.ownerOf(w.sib); owner != nil {
			ops = []int{owner.ID}
		}
		s.violate("durability", w.key, ops, "node %s acknowledged %s (ts %s) to %s, then lost it in a crash: its storage holds %s",
			n.id, w.key.Key, w.sib.Timestamp, w.to, describe(have))
	}
	n.acked = n.acked[:0]
	clear(n.asked)
}
