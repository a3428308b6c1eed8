package sim

import (
	"fmt"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage/memory"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// epochMs is the wall-clock time at virtual time zero (2026-01-01 UTC): clocks read
// like real ones, so that hint ids and HLC timestamps have their production shape.
const epochMs = 1_767_225_600_000

// clock is a node's wall clock: virtual time plus an offset, running fast or slow by
// drift parts per million.
type clock struct {
	offsetMs int64
	driftPPM int64
}

// at returns the clock's reading, in unix milliseconds, at virtual time vUs.
func (c clock) at(vUs int64) int64 {
	ms := vUs / usPerMs
	return epochMs + c.offsetMs + ms + ms*c.driftPPM/1_000_000
}

// setDrift changes the drift at virtual time vUs without a jump in the reading.
func (c *clock) setDrift(vUs, ppm int64) {
	ms := vUs / usPerMs
	c.offsetMs += ms*c.driftPPM/1_000_000 - ms*ppm/1_000_000
	c.driftPPM = ppm
}

// inputKind says what an input to a node is.
type inputKind uint8

const (
	inMessage inputKind = iota
	inSubmit
	inTick
	inView
)

// input is one event for a node's core, queued while the node is busy or paused.
type input struct {
	kind inputKind
	msg  wire.Message
	op   *Op
	view core.View
}

// maxBurst bounds how many inputs a node steps before it commits, as internal/node's
// shard loop does.
const maxBurst = 512

// simNode is one simulated node: a core over a memory engine, and the driver state
// around it.
type simNode struct {
	idx   int
	id    string
	store *memory.Engine
	core  *core.Core // nil while crashed
	clock clock
	gen   uint64 // incarnation: bumped by every crash

	alive  bool
	paused bool
	busy   bool // a batch is being made durable
	// flushDue: the batch became durable while n was paused; its messages and
	// replies leave when n resumes (a stopped process sends nothing).
	flushDue bool
	inbox    []input
	ticked   bool // a tick is queued in the inbox
	// torn: crash at the next non-empty batch, between Ready and the commit; the
	// restart follows tornDowntime later.
	torn         bool
	tornDowntime int64

	reqs    map[uint64]*Op // client requests this node coordinates, by request id
	nextReq uint64
	viewSig string // which members its current view has down
	hasView bool   // the current incarnation was given a view

	// hlcLow is a lower bound of the core's HLC: every clock it was handed (messages
	// received), every clock it sent, every timestamp it stamped, since its restart
	// from the persisted high-water mark. A new write must be stamped above it.
	hlcLow version.Timestamp
	// The durability oracle (durability.go): what n was asked to store, and what it
	// acknowledged since its last commit.
	asked map[ackKey]ackedWrite
	acked []ackedWrite

	released bool  // bug ack-before-durable: the pending Ready's effects already left
	lastGC   int64 // bug storage-tombstone-gc: its last pass
}

// nowMs is n's clock reading now.
func (s *simulation) nowMs(n *simNode) int64 { return n.clock.at(s.now) }

// offer queues an input for n and steps it if n is free.
func (s *simulation) offer(n *simNode, in input) {
	if !n.alive {
		return
	}
	if in.kind == inTick {
		if n.ticked {
			return
		}
		n.ticked = true
	}
	n.inbox = append(n.inbox, in)
	s.drain(n)
}

// drain steps n's queued inputs, a burst at a time, each burst followed by acting on
// the core's Ready, until n has nothing queued, or is paused or committing.
func (s *simulation) drain(n *simNode) {
	for n.alive && !n.paused && !n.busy && len(n.inbox) > 0 {
		nowMs := s.nowMs(n)
		k := min(len(n.inbox), maxBurst)
		for _, in := range n.inbox[:k] {
			s.step(n, in, nowMs)
		}
		rest := copy(n.inbox, n.inbox[k:])
		clear(n.inbox[rest:])
		n.inbox = n.inbox[:rest]
		s.afterSteps(n, nowMs)
	}
}

func (s *simulation) step(n *simNode, in input, nowMs int64) {
	switch in.kind {
	case inMessage:
		n.hlcLow = max(n.hlcLow, in.msg.Clock)
		s.noteRequest(n, in.msg)
		if in.msg.Type == wire.FwdReq {
			if op, ok := s.fwds[fwdKey{in.msg.From, in.msg.ID}]; ok {
				s.applyOn(n, op, 0, func() { n.core.Receive(nowMs, in.msg) })
				return
			}
		}
		n.core.Receive(nowMs, in.msg)
	case inSubmit:
		s.submit(n, in.op, nowMs)
	case inTick:
		n.ticked = false
		n.core.Tick(nowMs)
	case inView:
		if s.cfg.Log != nil {
			var down []string
			for _, o := range s.nodes {
				if !in.view.Up[o.id] {
					down = append(down, o.id)
				}
			}
			s.logf("view %s: down %v", n.id, down)
		}
		n.core.SetView(in.view)
	}
}

// afterSteps acts on the core's Ready as internal/node does: commit the batch, then
// send and reply, then Advance. The commit takes a disk latency, during which n steps
// nothing; a crash then loses the batch, its messages and its replies.
func (s *simulation) afterSteps(n *simNode, nowMs int64) {
	rd := n.core.Ready()
	if rd.Empty() {
		n.core.Advance()
		return
	}
	s.observeReady(n, rd, nowMs)
	if rd.Batch.Empty() {
		s.release(n, rd)
		n.core.Advance()
		return
	}
	if s.bug.ackBeforeDurable {
		s.release(n, rd)
		n.released = true
	}
	if n.torn {
		s.crash(n, n.tornDowntime)
		return
	}
	n.busy = true
	s.schedule(s.now+s.between(s.rNode, s.sc.diskMinUs, s.sc.diskMaxUs), &event{kind: evFlushed, node: n.idx, gen: n.gen})
}

// flushed makes n's pending batch durable and lets its effects out (when n resumes,
// if it is paused).
func (s *simulation) flushed(n *simNode) {
	rd := n.core.Ready()
	if s.cfg.Log != nil {
		for _, w := range rd.Batch.Objects {
			o := w.Object
			s.logf("commit %s %s %s purge=%v", n.id, w.Key.Key, describe(observe(o)), w.Purge)
		}
	}
	if err := n.store.Commit(&rd.Batch); err != nil {
		s.violate("storage", noKey, nil, "node %s: commit failed: %v", n.id, err)
	}
	n.acked = n.acked[:0] // durable now, whatever they acknowledged
	if s.bug.tombstoneGC && s.now-n.lastGC >= 500*usPerMs {
		n.lastGC = s.now
		s.collectTombstones(n)
	}
	if n.paused {
		n.flushDue = true
		return
	}
	s.finishFlush(n)
}

// finishFlush sends and replies what n's durable batch held back, and lets n step on.
func (s *simulation) finishFlush(n *simNode) {
	rd := n.core.Ready()
	if !n.released {
		s.release(n, rd)
	}
	n.released = false
	n.core.Advance()
	n.busy = false
	s.drain(n)
}

// release sends rd's messages and gives its replies to the waiting clients.
func (s *simulation) release(n *simNode, rd *core.Ready) {
	for _, m := range rd.Messages {
		n.hlcLow = max(n.hlcLow, m.Clock)
		s.noteAck(n, m)
		s.send(n, m)
		if s.bug.retryForwards && m.Type == wire.FwdReq {
			// Bug retried-forward: the same request again, under an id the forwarder
			// never issues (ids stay below 2^62), as a retry would.
			retry := m
			retry.ID |= 1 << 62
			s.fwds[fwdKey{n.id, retry.ID}] = s.fwds[fwdKey{n.id, m.ID}]
			s.send(n, retry)
		}
	}
	for _, r := range rd.Replies {
		op, ok := n.reqs[r.ID]
		if !ok {
			continue
		}
		delete(n.reqs, r.ID)
		s.replied(op, r)
	}
}

// crash kills n now: everything not durable is lost. It restarts downtime later
// (unless the run heals first).
func (s *simulation) crash(n *simNode, downtime int64) {
	if !n.alive {
		return
	}
	s.injected.crashes++
	if n.torn {
		s.injected.tornCrashes++
	}
	s.traceNote("crash", n.idx)
	s.checkDurable(n)
	s.addStats(n.core.Stats())
	n.alive, n.paused, n.busy, n.torn, n.released, n.ticked, n.flushDue = false, false, false, false, false, false, false
	n.core = nil
	clear(n.inbox)
	n.inbox = n.inbox[:0]
	clear(n.reqs) // their clients time out: the outcome is unknown
	n.gen++
	n.viewSig, n.hasView = "", false
	gen := n.gen
	s.after(downtime, "restart", func() {
		if n.gen == gen && !n.alive {
			s.restart(n)
		}
	})
	s.membershipChanged()
}

// restart rebuilds n's core from what its storage holds durably: the HLC high-water
// mark, the hints, the objects (read through the Store).
func (s *simulation) restart(n *simNode) {
	hw := s.restoredHLC(n)
	passed := hw
	if s.bug.reuseHLC {
		passed = 0
	}
	c, err := core.New(s.coreConfig(n), n.store, passed)
	if err != nil {
		panic(fmt.Sprintf("sim: core config: %v", err)) // the scenario built it: a bug here
	}
	var hints []record.Hint
	if err := n.store.ScanHints("", func(h record.Hint) bool { hints = append(hints, h); return true }); err != nil {
		s.violate("storage", noKey, nil, "node %s: scan hints: %v", n.id, err)
	}
	if s.bug.hintTTLReset {
		for i := range hints {
			hints[i].ExpiresAt = s.nowMs(n) + s.sc.hintTTLMs
		}
	}
	c.LoadHints(hints)
	s.installKeyspaces(c)
	n.core, n.alive, n.hlcLow = c, true, hw
	s.traceNote("restart", n.idx)
	s.startTicks(n)
	s.refreshView(n)
	s.drain(n)
	s.membershipChanged()
}

// restoredHLC is the highest HLC high-water mark n persisted, as internal/node
// restores it.
func (s *simulation) restoredHLC(n *simNode) version.Timestamp {
	var hw version.Timestamp
	err := n.store.ScanMeta(core.HLCMetaPrefix, func(_ string, v []byte) bool {
		ts, err := core.ParseHLCMeta(v)
		if err != nil {
			s.violate("storage", noKey, nil, "node %s: %v", n.id, err)
			return false
		}
		hw = max(hw, ts)
		return true
	})
	if err != nil {
		s.violate("storage", noKey, nil, "node %s: scan meta: %v", n.id, err)
	}
	return hw
}

// coreConfig is the configuration of n's core: the scenario's, plus the bug's changes.
func (s *simulation) coreConfig(n *simNode) core.Config {
	cfg := core.DefaultConfig(n.id)
	cfg.ReplicationFactor = s.sc.rf
	cfg.RequestTimeoutMs = s.sc.requestTimeoutMs
	cfg.HintTTLMs = s.sc.hintTTLMs
	cfg.TombstoneGraceMs = s.sc.graceMs
	cfg.AntiEntropyIntervalMs = s.sc.aeIntervalMs
	cfg.ReadRepair = s.sc.readRepair
	cfg.IDBase = (n.gen + 1) << 40
	if s.bug.configure != nil {
		s.bug.configure(&cfg)
	}
	if s.configure != nil {
		s.configure(&cfg)
	}
	return cfg
}

func (s *simulation) installKeyspaces(c *core.Core) {
	ks := map[string]core.KeyspaceSettings{}
	for _, m := range s.models {
		if set := m.settings(); set != nil {
			ks[m.keyspace()] = *set
		}
	}
	if len(ks) > 0 {
		c.SetKeyspaces(ks)
	}
}

// startTicks starts n's ticker for its current incarnation, at a random phase.
func (s *simulation) startTicks(n *simNode) {
	s.schedule(s.now+1+s.rNode.Int64N(s.sc.tickUs), &event{kind: evTick, node: n.idx, gen: n.gen})
}

func (s *simulation) tick(n *simNode, gen uint64) {
	if n.gen != gen || !n.alive || s.phase == phaseDone {
		return // the ticker of a crashed incarnation stops
	}
	s.offer(n, input{kind: inTick})
	s.schedule(s.now+s.sc.tickUs, &event{kind: evTick, node: n.idx, gen: gen})
}

func (s *simulation) pause(n *simNode) {
	if !n.alive || n.paused {
		return
	}
	n.paused = true
	s.injected.pauses++
	s.traceNote("pause", n.idx)
	s.membershipChanged()
}

func (s *simulation) resume(n *simNode) {
	if !n.alive || !n.paused {
		return
	}
	n.paused = false
	s.traceNote("resume", n.idx)
	s.membershipChanged()
	if n.flushDue {
		n.flushDue = false
		s.finishFlush(n)
		return // finishFlush drains
	}
	s.drain(n)
}
