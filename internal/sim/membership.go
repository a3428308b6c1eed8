package sim

import (
	"encoding/binary"

	"github.com/chorusdb/chorus/internal/core"
)

// Membership. Each node has its own view of which members are up, as its failure
// detector would have it: a member is up for observer o when it is alive, not paused,
// reachable both ways from o, and not falsely suspected by o. Views are late: after
// any change, each observer refreshes its view after its own detection delay. All
// views share the one ring (members never join or leave here), and views with the
// same members down share one Up map.

// suspicion is observer o wrongly seeing target t as down.
type suspicion struct{ o, t int }

// reachable reports whether observer o's failure detector sees t as up now.
func (s *simulation) reachable(o, t int) bool {
	if o == t {
		return true
	}
	n := s.nodes[t]
	return n.alive && !n.paused && !s.net.blocked(o, t) && !s.net.blocked(t, o) && !s.suspected[suspicion{o, t}]
}

// viewOf computes observer o's view now, and its signature (which members are down).
func (s *simulation) viewOf(o int) (core.View, string) {
	var sig []byte
	for t := range s.nodes {
		if !s.reachable(o, t) {
			sig = binary.AppendUvarint(sig, uint64(t))
		}
	}
	key := string(sig)
	up, ok := s.upMaps[key]
	if !ok {
		down := map[int]bool{}
		for t := range s.nodes {
			if !s.reachable(o, t) {
				down[t] = true
			}
		}
		up = make(map[string]bool, len(s.nodes))
		for t, n := range s.nodes {
			if !down[t] {
				up[n.id] = true
			}
		}
		s.upMaps[key] = up
	}
	return core.View{Ring: s.ring, Up: up}, key
}

// refreshView gives n's core its view now, if it changed.
func (s *simulation) refreshView(n *simNode) {
	if !n.alive {
		return
	}
	v, sig := s.viewOf(n.idx)
	if n.hasView && sig == n.viewSig {
		return
	}
	n.viewSig, n.hasView = sig, true
	s.offer(n, input{kind: inView, view: v})
}

// membershipChanged schedules every live node's failure detector to notice the
// current state of the cluster, each after its own detection delay.
func (s *simulation) membershipChanged() {
	if s.quiet {
		return
	}
	for _, n := range s.nodes {
		if n.alive {
			s.schedule(s.now+s.between(s.rNode, s.sc.detectMinUs, s.sc.detectMaxUs), &event{kind: evView, node: n.idx, gen: n.gen})
		}
	}
}
