package membership

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate receives memberlist's callbacks for a Gossip. memberlist calls the
// event methods with its node lock held, so nothing here may call back into the
// Memberlist; they only take Gossip.mu (lock order: memberlist's lock, then
// Gossip.mu) and never block.
type delegate struct {
	g *Gossip
}

var (
	_ memberlist.Delegate         = (*delegate)(nil)
	_ memberlist.EventDelegate    = (*delegate)(nil)
	_ memberlist.PingDelegate     = (*delegate)(nil)
	_ memberlist.MergeDelegate    = (*delegate)(nil)
	_ memberlist.ConflictDelegate = (*delegate)(nil)
)

// NodeMeta returns the local metadata (zone, addresses, leaving flag).
func (d *delegate) NodeMeta(limit int) []byte {
	d.g.mu.Lock()
	defer d.g.mu.Unlock()
	if len(d.g.meta) > limit { // checked at start; cannot happen
		return nil
	}
	return append([]byte(nil), d.g.meta...)
}

// NotifyMsg receives a broadcast state update and hands it to the State delegate.
func (d *delegate) NotifyMsg(b []byte) {
	if st := d.g.cfg.State; st != nil && len(b) > 0 {
		st.MergeRemoteState(append([]byte(nil), b...))
	}
}

// GetBroadcasts returns queued state updates (Gossip.Broadcast).
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.g.broadcasts.GetBroadcasts(overhead, limit)
}

// LocalState returns the State delegate's whole state for push/pull.
func (d *delegate) LocalState(join bool) []byte {
	if st := d.g.cfg.State; st != nil {
		return st.LocalState()
	}
	return nil
}

// MergeRemoteState joins a peer's whole state from push/pull.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	if st := d.g.cfg.State; st != nil && len(buf) > 0 {
		st.MergeRemoteState(buf)
	}
}

// NotifyJoin records a member that memberlist now considers alive (new, or back
// from dead or left).
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	d.g.observe(n, func(ms *memberState) {
		if ms.ID == d.g.cfg.NodeID && ms.Status == Left {
			return
		}
		ms.Status = Alive
	})
}

// NotifyLeave records a member that memberlist declared dead, or that left: the
// leaving flag in its metadata (or Node.State, should memberlist fill it in)
// tells which.
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	meta, _ := decodeMeta(n.Meta)
	d.g.observe(n, func(ms *memberState) {
		if meta.Leaving || n.State == memberlist.StateLeft || ms.ID == d.g.cfg.NodeID {
			ms.Status = Left
		} else {
			ms.Status = Dead
		}
	})
}

// NotifyUpdate records a member's new metadata; its status is unchanged.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	d.g.observe(n, func(*memberState) {})
}

// AckPayload sends nothing with acks.
func (d *delegate) AckPayload() []byte { return nil }

// NotifyPingComplete clears this node's suspicion of a member that answered one of
// memberlist's probes.
func (d *delegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	d.g.clearSuspect(other.Name)
}

// NotifyMerge learns, when joining, about members the others saw die or leave
// before this node knew them: memberlist itself ignores dead members it never saw
// alive, but the ring must keep them. It also upgrades a dead member to left when
// the others know it left. It never refuses the merge.
func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	for _, n := range peers {
		if n.Name == d.g.cfg.NodeID || (n.State != memberlist.StateDead && n.State != memberlist.StateLeft) {
			continue
		}
		status := Dead
		if n.State == memberlist.StateLeft {
			status = Left
		}
		meta, err := decodeMeta(n.Meta)
		if err != nil {
			d.g.log.Warn("ignoring metadata of a member", "member", n.Name, "err", err)
		}
		d.g.update(n.Name, func(ms *memberState, isNew bool) bool {
			switch {
			case isNew:
				ms.Status = status
				ms.applyMeta(meta, err == nil, n.Address())
			case ms.Status == Dead && status == Left:
				ms.Status = Left
			}
			return true
		})
	}
	return nil
}

// NotifyConflict warns that two nodes claim the same id from different addresses:
// the second is refused until the first has been dead for DeadNodeReclaimTime.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.g.log.Warn("two nodes claim the same id; ignoring the newcomer", "member", existing.Name,
		"known_addr", existing.Address(), "other_addr", other.Address())
}

// observe records what memberlist says about node n (its metadata and address)
// and applies setStatus.
func (g *Gossip) observe(n *memberlist.Node, setStatus func(ms *memberState)) {
	meta, err := decodeMeta(n.Meta)
	if err != nil {
		g.log.Warn("ignoring metadata of a member", "member", n.Name, "err", err)
	}
	addr := n.Address()
	g.update(n.Name, func(ms *memberState, _ bool) bool {
		ms.applyMeta(meta, err == nil, addr)
		ms.mlAddr = addr
		setStatus(ms)
		return true
	})
}

// applyMeta takes zone and addresses from meta if it decoded (ok); a missing
// gossip address is the one memberlist reached the member at.
func (ms *memberState) applyMeta(meta nodeMeta, ok bool, addr string) {
	if ok {
		ms.Zone, ms.Addrs = meta.Zone, meta.Addrs
	}
	if ms.Addrs.Gossip == "" {
		ms.Addrs.Gossip = addr
	}
}
