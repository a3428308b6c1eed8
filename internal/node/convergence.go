package node

import (
	"context"
	"sort"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/record"
)

// onShards runs fn on every shard's goroutine, one after another, and waits.
func (n *Node) onShards(ctx context.Context, fn func(i int, c *core.Core)) error {
	for i, s := range n.shards {
		done := make(chan struct{})
		ev := event{call: func(c *core.Core) {
			fn(i, c)
			close(done)
		}}
		select {
		case s.inbox <- ev:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stopping:
			return ErrStopped
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stopping:
			return ErrStopped
		}
	}
	return nil
}

// Hints returns the hints this node holds, per target, sorted by target.
func (n *Node) Hints(ctx context.Context) ([]api.HintBacklog, error) {
	by := map[string]*api.HintBacklog{}
	err := n.onShards(ctx, func(_ int, c *core.Core) {
		for t, b := range c.HintsPending() {
			h := by[t]
			if h == nil {
				h = &api.HintBacklog{Target: t}
				by[t] = h
			}
			h.Count += b.Count
			h.Bytes += b.Bytes
			oldest := time.UnixMilli(b.OldestMs)
			if h.Oldest.IsZero() || oldest.Before(h.Oldest) {
				h.Oldest = oldest
			}
		}
	})
	out := make([]api.HintBacklog, 0, len(by))
	for _, h := range by {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out, err
}

// ReadRepairs returns the newest entries of the read-repair log.
func (n *Node) ReadRepairs(limit int) ([]record.Repair, error) {
	return n.engine.RecentRepairs(limit)
}

// Repair runs a full anti-entropy exchange of every range this node replicates now,
// with every shard, calling progress as exchanges finish, and returns the summary.
// With a keyspace, only that keyspace's keys are exchanged (trees span keyspaces, so
// ranges still compare as differing until the other keyspaces are repaired too).
func (n *Node) Repair(ctx context.Context, keyspace string, progress func(api.RepairProgress)) (api.RepairProgress, error) {
	before := n.coreStats()
	var p api.RepairProgress
	start := time.Now().UnixMilli()
	if err := n.onShards(ctx, func(_ int, c *core.Core) { p.Exchanges += c.StartRepair(start, keyspace) }); err != nil {
		return p, err
	}
	deadline := time.Now().Add(time.Minute) // beyond the exchange timeout
	for {
		inFlight := 0
		if err := n.onShards(ctx, func(_ int, c *core.Core) { inFlight += c.SyncInProgress(start) }); err != nil {
			return p, err
		}
		after := n.coreStats()
		p.Finished = p.Exchanges - min(inFlight, p.Exchanges)
		p.RangesCompared = after.AERangesCompared - before.AERangesCompared
		p.RangesDiffering = after.AERangesDiffering - before.AERangesDiffering
		p.KeysRepaired = after.AEKeysRepaired - before.AEKeysRepaired
		p.BytesSent = after.AEBytesSent - before.AEBytesSent
		if progress != nil {
			progress(p)
		}
		if inFlight == 0 || time.Now().After(deadline) {
			p.Done = true
			return p, nil
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// coreStats sums the shards' published counters that Repair and tests read.
func (n *Node) coreStats() core.Stats {
	var t core.Stats
	for _, s := range n.shards {
		st := s.snapshot()
		t.AERangesCompared += st.AERangesCompared
		t.AERangesDiffering += st.AERangesDiffering
		t.AEKeysRepaired += st.AEKeysRepaired
		t.AEBytesSent += st.AEBytesSent
		t.Forwarded += st.Forwarded
		t.SpeculativeReads += st.SpeculativeReads
	}
	return t
}
