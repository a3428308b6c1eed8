package core

import (
	"strconv"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

// Filling after an empty-disk start. A node that starts with an empty data directory
// (a replaced disk, or a new node) holds nothing for the ranges it replicates; if it
// answered reads it would report keys as absent that other replicas hold. While
// filling, its answers for a range carry Filling and do not count toward R or W (its
// copy is still merged, and writes are still stored), until an anti-entropy exchange
// with a peer of that range has completed once. The core runs those exchanges itself,
// every second, until every range it replicates is filled; then it records that in its
// metadata so a restart does not fill again. Ranges with no other replica are filled
// at once. With anti-entropy off the driver does not start cores filling.

// FillMetaPrefix prefixes the per-shard metadata that records filling: "pending" while
// a shard fills, "done" after.
const FillMetaPrefix = "fill/"

// fillRetryMs is how often a filling core starts exchanges for its unfilled ranges;
// a range whose exchange started less than fillBusyMs ago is left to it (a lost
// message must not stall the fill for a whole exchange timeout, nor may a slow but
// healthy exchange be duplicated every second).
const (
	fillRetryMs = 1000
	fillBusyMs  = 5000
)

func (c *Core) fillMetaName() string { return FillMetaPrefix + strconv.Itoa(c.cfg.Shard) }

// rangeFilling reports whether answers about key must not count yet.
func (c *Core) rangeFilling(key object.Key) bool {
	if !c.filling || c.view.Ring == nil {
		return false
	}
	return !c.filled[c.view.Ring.RangeOf(keyHash(key))]
}

// Filling reports whether the core is still filling after an empty-disk start.
func (c *Core) Filling() bool { return c.filling }

// fillTick starts exchanges for unfilled ranges and finishes filling when none is left.
func (c *Core) fillTick(nowMs int64) {
	if !c.filling || c.view.Ring == nil || c.view.Ring.Len() == 0 || nowMs < c.nextFillAt {
		return
	}
	c.nextFillAt = nowMs + fillRetryMs
	busy := map[int]bool{} // ranges a recent exchange is still filling
	for _, sess := range c.sessions {
		if nowMs-sess.started < fillBusyMs {
			for _, r := range sess.ranges {
				busy[r] = true
			}
		}
	}
	byPeer := map[string][]int{}
	left := 0
	for _, r := range c.replicatedRanges() {
		if c.filled[r] {
			continue
		}
		if busy[r] {
			left++
			continue
		}
		peers := c.peersOf(r)
		if len(peers) == 0 {
			c.filled[r] = true // no other replica: nothing to fill from
			continue
		}
		left++
		for j := range peers {
			if p := peers[(j+r)%len(peers)]; c.view.Up[p] {
				byPeer[p] = append(byPeer[p], r)
				break
			}
		}
	}
	c.stats.FillingRanges = int64(left)
	if left == 0 {
		c.filling = false
		c.rd.Batch.Meta = append(c.rd.Batch.Meta, record.MetaWrite{Name: c.fillMetaName(), Value: []byte("done")})
		return
	}
	c.startSessions(nowMs, byPeer, "")
}

// rangesSynced marks ranges filled once an exchange with a peer completed for them.
func (c *Core) rangesSynced(ranges []int) {
	if !c.filling {
		return
	}
	for _, r := range ranges {
		c.filled[r] = true
	}
}

// resetFill starts filling over when the ring changed mid-fill (range indices moved).
func (c *Core) resetFill() {
	if c.filling {
		c.filled = map[int]bool{}
		c.nextFillAt = 0
	}
}

func errFilling(node string) string {
	return "replica " + node + " is filling after an empty-disk start and does not count yet"
}
