package core

import (
	"sort"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/wire"
)

// Hinted handoff: when a primary replica is down, or does not acknowledge a write in
// time, the coordinator keeps the write as a hint for it (durably, in the same Ready as
// everything else). Hints never count toward ONE…ALL, only toward ANY. Each Tick sends
// due hints to targets that are up, oldest first, a bounded number per tick and in
// flight; an acknowledged hint is deleted; a hint past its TTL is deleted undelivered,
// counted, and its key's range is queued for a targeted anti-entropy exchange.

// hintQueue holds the hints for one target, in id (creation) order.
type hintQueue struct {
	hints    []record.Hint
	bytes    int64
	inflight map[uint64]int64 // hint id → when sent
	nextTry  int64            // no sends before this time (backoff)
	backoff  int64
}

// Hint delivery tuning.
const (
	hintsPerTick     = 64  // hints sent per target per tick
	hintsInFlight    = 256 // unacknowledged hints per target
	hintMinBackoffMs = 100
	hintMaxBackoffMs = 10_000
)

func hintSize(h record.Hint) int64 {
	n := int64(len(h.Key.Keyspace) + len(h.Key.Key) + 64)
	for _, s := range h.Object.Siblings {
		n += int64(len(s.Value))
	}
	return n
}

// LoadHints gives the core the hints this shard holds from a previous run. The driver
// calls it once, before the first event.
func (c *Core) LoadHints(hs []record.Hint) {
	sort.Slice(hs, func(i, j int) bool { return hs[i].ID < hs[j].ID })
	for _, h := range hs {
		c.queueHint(h)
	}
}

func (c *Core) queue(target string) *hintQueue {
	q, ok := c.hints[target]
	if !ok {
		q = &hintQueue{inflight: map[uint64]int64{}}
		c.hints[target] = q
		c.hintTargets = append(c.hintTargets, target)
		sort.Strings(c.hintTargets)
	}
	return q
}

func (c *Core) queueHint(h record.Hint) {
	q := c.queue(h.Target)
	q.hints = append(q.hints, h)
	size := hintSize(h)
	q.bytes += size
	c.stats.HintsPending++
	c.stats.HintBytesPending += size
}

// storeHint keeps obj for target. It returns false, storing nothing, when the target's
// hints already fill its cap.
func (c *Core) storeHint(nowMs int64, target string, key object.Key, obj object.Object) bool {
	h := record.Hint{
		ID: c.hintID(nowMs), Target: target, Key: key, Object: obj,
		CreatedAt: nowMs, ExpiresAt: nowMs + c.cfg.HintTTLMs,
	}
	if q, ok := c.hints[target]; ok && q.bytes+hintSize(h) > c.cfg.HintCapBytes {
		c.stats.HintsDropped++
		c.hintCapHit = append(c.hintCapHit, target)
		return false
	}
	c.queueHint(h)
	c.stats.HintsStored++
	c.rd.Batch.Hints = append(c.rd.Batch.Hints, h)
	return true
}

// hintEpochMs (2024-01-01) is subtracted from hint ids' time so that 41 bits of
// milliseconds last until 2093.
const hintEpochMs = 1704067200000

// hintID returns a new hint id: increasing in creation order on this shard, never
// reused across restarts (it is built from the persisted HLC), unique across shards,
// and below 2⁶³ so that every engine (PostgreSQL's bigint too) can store it:
// 41 bits of milliseconds since 2024, 16 bits of HLC logical counter, 6 bits of shard.
func (c *Core) hintID(nowMs int64) uint64 {
	ts := c.now(nowMs)
	ms := ts.Physical()
	if ms > hintEpochMs {
		ms -= hintEpochMs // (simulated clocks may start near zero)
	}
	ms &= 1<<41 - 1
	return uint64(ms)<<22 | uint64(ts.Logical())<<6 | uint64(c.cfg.Shard&63)
}

// HintCapReached returns the targets whose hint cap refused a hint since the last call
// (for a log line), and clears the list.
func (c *Core) HintCapReached() []string {
	out := c.hintCapHit
	c.hintCapHit = nil
	return out
}

// deliverHints sends due hints to the targets that are up and drops expired ones.
func (c *Core) deliverHints(nowMs int64) {
	for _, target := range c.hintTargets {
		q := c.hints[target]
		c.expireHints(nowMs, target, q)
		if len(q.hints) == 0 || !c.view.Up[target] {
			continue
		}
		c.retryLostHints(nowMs, q)
		if nowMs < q.nextTry {
			continue
		}
		sent := 0
		for _, h := range q.hints {
			if sent == hintsPerTick || len(q.inflight) >= hintsInFlight {
				break
			}
			if _, busy := q.inflight[h.ID]; busy {
				continue
			}
			q.inflight[h.ID] = nowMs
			c.send(wire.Message{Type: wire.HintReq, To: target, ID: h.ID, Key: h.Key, Object: h.Object})
			sent++
		}
	}
}

// expireHints deletes the hints past their TTL (never delivered) and asks anti-entropy
// to check their keys' ranges with the target.
func (c *Core) expireHints(nowMs int64, target string, q *hintQueue) {
	keep := q.hints[:0]
	for _, h := range q.hints {
		if h.ExpiresAt > nowMs {
			keep = append(keep, h)
			continue
		}
		c.dropHint(q, h)
		c.stats.HintsExpired++
		c.syncKeyRange(h.Key, target)
	}
	clear(q.hints[len(keep):])
	q.hints = keep
}

// retryLostHints forgets sends that were not acknowledged within the request timeout,
// and backs off before the next attempt.
func (c *Core) retryLostHints(nowMs int64, q *hintQueue) {
	lost := false
	for id, at := range q.inflight {
		if nowMs-at >= c.cfg.RequestTimeoutMs {
			delete(q.inflight, id)
			lost = true
		}
	}
	if lost {
		c.backOff(nowMs, q)
	}
}

func (c *Core) backOff(nowMs int64, q *hintQueue) {
	q.backoff = min(max(2*q.backoff, hintMinBackoffMs), hintMaxBackoffMs)
	q.nextTry = nowMs + q.backoff
}

func (c *Core) dropHint(q *hintQueue, h record.Hint) {
	size := hintSize(h)
	q.bytes -= size
	delete(q.inflight, h.ID)
	c.stats.HintsPending--
	c.stats.HintBytesPending -= size
	c.rd.Batch.HintDeletes = append(c.rd.Batch.HintDeletes, h.ID)
}

// hintAnswered removes an acknowledged hint, or backs off after a refusal.
func (c *Core) hintAnswered(nowMs int64, m wire.Message) {
	q, ok := c.hints[m.From]
	if !ok {
		return
	}
	if _, sent := q.inflight[m.ID]; !sent {
		return // duplicate, or already retried and forgotten
	}
	if m.Err != "" {
		delete(q.inflight, m.ID)
		c.backOff(nowMs, q)
		return
	}
	for i, h := range q.hints {
		if h.ID == m.ID {
			c.dropHint(q, h)
			q.hints = append(q.hints[:i], q.hints[i+1:]...)
			c.stats.HintsDelivered++
			q.backoff = 0
			return
		}
	}
}

// replicaHint merges a handed-off write and acknowledges it once durable.
func (c *Core) replicaHint(m wire.Message) {
	resp := wire.Message{Type: wire.HintResp, To: m.From, ID: m.ID, Key: m.Key}
	if _, err := c.apply(m.Key, m.Object); err != nil {
		resp.Err = err.Error()
	}
	c.send(resp)
}

// hintTargetsUp resets the backoff of targets that just came up, so their hints flow
// at the next tick.
func (c *Core) hintTargetsUp(prev map[string]bool) {
	for _, t := range c.hintTargets {
		if c.view.Up[t] && !prev[t] {
			c.hints[t].nextTry = 0
			c.hints[t].backoff = 0
		}
	}
}

// HintsPending returns the number of hints held per target, and the creation time of
// the oldest, for targets with at least one.
func (c *Core) HintsPending() map[string]HintBacklog {
	out := map[string]HintBacklog{}
	for _, t := range c.hintTargets {
		q := c.hints[t]
		if len(q.hints) > 0 {
			out[t] = HintBacklog{Count: len(q.hints), Bytes: q.bytes, OldestMs: q.hints[0].CreatedAt}
		}
	}
	return out
}

// HintBacklog describes the hints held for one target.
type HintBacklog struct {
	Count    int
	Bytes    int64
	OldestMs int64
}

// syncKeyRange queues a targeted anti-entropy exchange of key's range with peer.
func (c *Core) syncKeyRange(key object.Key, peer string) {
	if c.view.Ring == nil {
		return
	}
	c.syncWanted = append(c.syncWanted, syncTarget{rng: c.view.Ring.RangeOf(keyHash(key)), peer: peer})
}
