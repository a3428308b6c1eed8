package sim

import (
	"math/rand/v2"
	"slices"

	"github.com/chorusdb/chorus/internal/wire"
)

// cut is one direction of a partition: messages from a node in from to a node in to
// are dropped while it lasts (at send and at delivery: a message in flight when the
// cut starts is lost too).
type cut struct {
	id       int
	from, to []bool // by node index
}

// network is the links' state: the active cuts. (Loss, duplication and delay rates
// are the scenario's, applied during the fault phase.)
type network struct {
	cuts   []cut
	nextID int
}

func (nw *network) blocked(from, to int) bool {
	for _, c := range nw.cuts {
		if c.from[from] && c.to[to] {
			return true
		}
	}
	return false
}

// addCut blocks messages from `from` to `to` and returns the cut's id.
func (nw *network) addCut(from, to []bool) int {
	nw.nextID++
	nw.cuts = append(nw.cuts, cut{id: nw.nextID, from: from, to: to})
	return nw.nextID
}

func (nw *network) removeCut(id int) {
	nw.cuts = slices.DeleteFunc(nw.cuts, func(c cut) bool { return c.id == id })
}

// between returns a uniform integer in [lo, hi].
func (s *simulation) between(r *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + r.Int64N(hi-lo+1)
}

// latency draws a message's delay: uniform, plus for a fraction a long tail that makes
// messages overtake each other.
func (s *simulation) latency() int64 {
	d := s.between(s.rNet, s.sc.latMinUs, s.sc.latMaxUs)
	if s.phase == phaseFaults && s.rNet.Float64() < s.sc.tailProb {
		d += s.rNet.Int64N(s.sc.tailMaxUs)
		s.injected.delayed++
	}
	return d
}

// send puts a message on the wire: encoded as a transport would, then dropped,
// duplicated or delayed as the network is now.
func (s *simulation) send(from *simNode, m wire.Message) {
	to, ok := s.byID[m.To]
	if !ok {
		s.violate("wire", noKey, nil, "node %s sent a %s to unknown node %q", from.id, m.Type, m.To)
		return
	}
	data := wire.Append(nil, m)
	s.messages++
	s.bytes += uint64(len(data))
	if s.byType != nil {
		t := s.byType[m.Type]
		if t == nil {
			t = &traffic{}
			s.byType[m.Type] = t
		}
		t.messages++
		t.bytes += uint64(len(data))
	}
	if s.net.blocked(from.idx, to) {
		s.injected.cutMessages++
		s.logMessage("cut", m)
		return
	}
	if s.phase == phaseFaults && s.sc.loss > 0 && s.rNet.Float64() < s.sc.loss {
		s.injected.lost++
		s.logMessage("lost", m)
		return
	}
	copies := 1
	if s.phase == phaseFaults && s.sc.dup > 0 && s.rNet.Float64() < s.sc.dup {
		copies = 2
		s.injected.duplicated++
	}
	for range copies {
		s.schedule(s.now+s.latency(), &event{kind: evDeliver, node: to, from: from.idx, data: data})
	}
}

// deliver hands an arriving message to its node, unless the node is down or the link
// was cut meanwhile.
func (s *simulation) deliver(e *event) {
	n := s.nodes[e.node]
	if !n.alive {
		return
	}
	m, err := wire.Decode(e.data)
	if err != nil {
		s.violate("wire", noKey, nil, "a message from %s to %s does not decode: %v", s.nodes[e.from].id, n.id, err)
		return
	}
	if s.net.blocked(e.from, e.node) {
		s.injected.cutMessages++
		s.logMessage("cut", m)
		return
	}
	s.logMessage("deliver", m)
	s.offer(n, input{kind: inMessage, msg: m})
}
