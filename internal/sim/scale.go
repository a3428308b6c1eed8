package sim

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// Experiments: measurements of the cluster at scale, on the simulator, for
// BENCHMARKS.md ("Simulator scale results"; scale_test.go prints the tables). Each
// builds a cluster from a seed with fixed settings (LatencyModel, registers only, no
// random faults and no random clients), drives it step by step, and measures in
// virtual time; the same arguments give the same numbers.

// LatencyModel is the network and disk model of the experiments, as the scenarios
// draw it (scenario.go): a message takes a uniform 0.2–2 ms, 1% of them up to 5 ms
// more; a commit takes a uniform 0.05–2 ms, during which its node steps nothing.
const LatencyModel = "message latency uniform 0.2–2.0 ms, 1% of messages up to 5 ms more; commit (fsync) uniform 0.05–2.0 ms; failure detection 200–1000 ms; core tick 20 ms"

// newExperiment builds a simulation for an experiment: registers only, no faults, no
// clients; the scenario gets the LatencyModel, then tune's changes.
func newExperiment(seed uint64, nodes, keys int, tune func(*scenario)) *simulation {
	cfg := Config{Seed: seed, Nodes: nodes, Keys: max(keys, 1), Models: registersOnly}
	s, err := newSimulation(cfg)
	if err != nil {
		panic(err)
	}
	sc := &s.sc
	sc.latMinUs, sc.latMaxUs = 200, 2000
	sc.tailProb, sc.tailMaxUs = 0.01, 5*usPerMs
	sc.diskMinUs, sc.diskMaxUs = 50, 2000
	sc.detectMinUs, sc.detectMaxUs = 200*usPerMs, 1000*usPerMs
	sc.tickUs = 20 * usPerMs
	sc.requestTimeoutMs = 1000
	sc.hintTTLMs, sc.graceMs = 3600_000, 4*3600_000
	sc.aeIntervalMs = 2000
	sc.readRepair = core.ReadRepairAsync
	if tune != nil {
		tune(sc)
	}
	s.byType = map[wire.Type]*traffic{}
	return s
}

// runUntil processes events until cond holds (checked after each event) or the
// virtual time passes limitUs from now; it reports whether cond held.
func (s *simulation) runUntil(limitUs int64, cond func() bool) bool {
	if cond() {
		return true
	}
	end := s.now + limitUs
	done := false
	s.loop(func() bool {
		done = cond()
		return done || s.now >= end
	})
	return done
}

// runFor processes events for d µs of virtual time.
func (s *simulation) runFor(d int64) {
	end := s.now + d
	fired := false
	s.after(d, "experiment mark", func() { fired = true })
	s.loop(func() bool { return fired || s.now >= end })
}

// experimentOp issues op kind on key i at level through node, calling done when it
// completes.
func (s *simulation) experimentOp(kind OpKind, i int, level core.Level, node int, done func(*Op)) *Op {
	op := &Op{Client: -1, Kind: kind, Key: object.Key{Keyspace: "default", Key: keyName(i)}, Level: level, Invoke: s.now, done: done}
	s.history.add(op)
	if kind == OpPut {
		op.Value = fmt.Appendf(nil, "v%d.", op.ID)
		s.values[string(op.Value)] = op
	}
	s.touched[i] = true
	op.Node = s.nodes[node].id
	s.issue(op)
	return op
}

// pollConverged checks every everyUs whether the replicas of the touched keys agree,
// and sets *at to the virtual time they first do.
func (s *simulation) pollConverged(everyUs int64, at *int64) {
	var poll func()
	poll = func() {
		if *at >= 0 {
			return
		}
		if _, n := s.divergedKeys(0); n == 0 {
			*at = s.now
			return
		}
		s.after(everyUs, "experiment poll", poll)
	}
	poll()
}

// sumStats adds the counters of every live core.
func (s *simulation) sumStats() core.Stats {
	st := s.mechanisms
	for _, n := range s.nodes {
		if n.alive {
			addStats(&st, n.core.Stats())
		}
	}
	return st
}

// trafficSince returns the messages and bytes sent per type since base was taken.
func (s *simulation) trafficSince(base map[wire.Type]traffic) map[wire.Type]traffic {
	out := map[wire.Type]traffic{}
	for t, c := range s.byType {
		b := base[t]
		if d := (traffic{c.messages - b.messages, c.bytes - b.bytes}); d.messages > 0 {
			out[t] = d
		}
	}
	return out
}

func (s *simulation) trafficNow() map[wire.Type]traffic {
	out := map[wire.Type]traffic{}
	for t, c := range s.byType {
		out[t] = *c
	}
	return out
}

// ConvergenceResult is one row of the convergence-after-heal table.
type ConvergenceResult struct {
	Nodes, Keys int
	Isolated    int     // nodes cut from the rest during the writes
	Written     int     // keys whose write was acknowledged at ONE
	HintsStored uint64  // during the partition
	ConvergedMs float64 // virtual ms from heal until every replica of every key agrees; -1 never
	// Messages and Bytes were sent from heal to convergence: hint deliveries (and
	// their acknowledgements), anti-entropy steps, and the rest.
	Messages, Bytes          uint64
	HintMessages, AEMessages uint64
	Events                   uint64
}

// MessagesPerKey is the messages sent from heal to convergence per key.
func (r ConvergenceResult) MessagesPerKey() float64 { return float64(r.Messages) / float64(r.Keys) }

// MeasureConvergence: a cluster of nodes (replication factor 3) has a third of its
// nodes (at least one) cut off both ways; once every failure detector noticed, every
// key is written once at ONE through a random node of the majority (replicas on the
// minority side get hints); then the partition heals, and the replicas of every key
// must agree. It measures the virtual time from heal to agreement and the messages
// sent meanwhile. Anti-entropy runs every 2 s throughout. Without hints, every hint
// is refused (a cap of one byte), so that anti-entropy alone repairs.
func MeasureConvergence(seed uint64, nodes, keys int, hints bool) ConvergenceResult {
	s := newExperiment(seed, nodes, keys, nil)
	if !hints {
		s.configure = func(c *core.Config) { c.HintCapBytes = 1 }
	}
	s.startCluster()
	s.runFor(usPerSec)
	res := ConvergenceResult{Nodes: nodes, Keys: keys, ConvergedMs: -1}

	cutOff := make([]bool, nodes)
	rest := make([]bool, nodes)
	res.Isolated = max(1, nodes/3)
	var majority []int
	for i, j := range s.rFault.Perm(nodes) {
		cutOff[j] = i < res.Isolated
		rest[j] = !cutOff[j]
		if rest[j] {
			majority = append(majority, j)
		}
	}
	s.net.addCut(cutOff, rest)
	s.net.addCut(rest, cutOff)
	s.membershipChanged()
	s.runFor(s.sc.detectMaxUs + 100*usPerMs)

	// One write per key, paced 0.25 ms apart, through the majority.
	pending := keys
	for i := range keys {
		s.after(int64(i)*250, "experiment write", func() {
			s.experimentOp(OpPut, i, core.One, majority[s.rWork.IntN(len(majority))], func(op *Op) {
				pending--
				if op.Outcome == OK {
					res.Written++
				}
			})
		})
	}
	s.runUntil(3600*usPerSec, func() bool { return pending == 0 })
	res.HintsStored = s.sumStats().HintsStored

	// Heal: every failure detector notices after its own delay.
	s.net.cuts = nil
	s.phase, s.healAt = phaseHeal, s.now
	base, msgs, bytes := s.trafficNow(), s.messages, s.bytes
	s.membershipChanged()
	at := int64(-1)
	s.pollConverged(10*usPerMs, &at)
	s.runUntil(600*usPerSec, func() bool { return at >= 0 })
	if at >= 0 {
		res.ConvergedMs = float64(at-s.healAt) / usPerMs
	}
	res.Messages, res.Bytes, res.Events = s.messages-msgs, s.bytes-bytes, s.events
	for t, c := range s.trafficSince(base) {
		switch t {
		case wire.HintReq, wire.HintResp:
			res.HintMessages += c.messages
		case wire.SyncReq, wire.SyncResp:
			res.AEMessages += c.messages
		}
	}
	return res
}

// AntiEntropyResult is one row of the anti-entropy table.
type AntiEntropyResult struct {
	Keys, Diverged int
	Fraction       float64
	// FullBytes is what sending every object of one replica would take (encoded keys
	// and objects).
	FullBytes uint64
	// Bytes and Messages are the anti-entropy traffic (every message sent: nothing
	// else runs) from start until the replicas agree.
	Bytes, Messages uint64
	KeysRepaired    uint64
	ConvergedMs     float64 // virtual ms from start; the first round starts after 1 s
	// IdleBytesPerRound is what a round costs once the replicas agree (roots and
	// inner hashes compared, nothing sent), averaged over 5 rounds.
	IdleBytesPerRound uint64
}

// aeValueBytes is the size of the experiment's values.
const aeValueBytes = 100

// MeasureAntiEntropy: three nodes, replication factor 3, start with the same keys
// (100-byte values), except that a fraction of them (exactly round(fraction×keys),
// chosen at random) has a newer version on one replica only. Nothing but
// anti-entropy (every second) runs; it measures the bytes sent until the replicas
// agree, and with idle what a round costs afterwards.
func MeasureAntiEntropy(seed uint64, keys int, fraction float64, idle bool) AntiEntropyResult {
	res := AntiEntropyResult{Keys: keys, Fraction: fraction, ConvergedMs: -1}
	res.Diverged = int(math.Round(fraction * float64(keys)))
	s := newExperiment(seed, 3, keys, func(sc *scenario) { sc.aeIntervalMs = 1000 })
	// Which keys diverge, and on which replica: a partial shuffle of the key indexes.
	r := rand.New(rand.NewPCG(seed, 0xae))
	diverged := map[int]int{} // key → the replica holding the newer version
	perm := make([]int32, keys)
	for i := range perm {
		perm[i] = int32(i)
	}
	for i := range res.Diverged {
		j := i + r.IntN(keys-i)
		perm[i], perm[j] = perm[j], perm[i]
		diverged[int(perm[i])] = r.IntN(3)
		s.touched[int(perm[i])] = true
	}
	perm = nil
	oldTS := version.MakeTimestamp(epochMs-3_600_000, 0)
	newTS := version.MakeTimestamp(epochMs-1_800_000, 0)
	value := func(i int, gen byte) []byte {
		v := make([]byte, aeValueBytes)
		copy(v, fmt.Sprintf("v%d.%c.", i, gen))
		for j := len(fmt.Sprintf("v%d.%c.", i, gen)); j < aeValueBytes; j++ {
			v[j] = 'a' + byte((i+j)%26)
		}
		return v
	}
	obj := func(i int, actor string, ts version.Timestamp, gen byte) object.Object {
		sib := object.Sibling{Value: value(i, gen), Dot: version.Dot{Actor: actor, Counter: uint64(ts) + uint64(i)}, Timestamp: ts + version.Timestamp(i)}
		return object.Object{Siblings: []object.Sibling{sib}, Context: version.Vector{sib.Dot}}
	}
	s.preload = func(n *simNode) {
		const chunk = 50_000
		for from := 0; from < keys; from += chunk {
			var b record.Batch
			for i := from; i < min(keys, from+chunk); i++ {
				key := object.Key{Keyspace: "default", Key: keyName(i)}
				o := obj(i, "n0", oldTS, 'o')
				if at, ok := diverged[i]; ok && at == n.idx {
					o = obj(i, n.id, newTS, 'n')
				}
				if n.idx == 0 {
					res.FullBytes += uint64(len(key.Key) + len(object.Encode(o)))
				}
				b.Objects = append(b.Objects, record.ObjectWrite{Key: key, Object: o})
			}
			if err := n.store.Commit(&b); err != nil {
				panic(err)
			}
		}
	}
	s.startCluster()
	at := int64(-1)
	s.pollConverged(100*usPerMs, &at)
	s.runUntil(3600*usPerSec, func() bool { return at >= 0 })
	res.ConvergedMs = float64(at) / usPerMs
	res.Bytes, res.Messages = s.bytes, s.messages
	res.KeysRepaired = s.sumStats().AEKeysRepaired
	if idle {
		s.runFor(2 * usPerSec) // the last exchanges finish
		b := s.bytes
		s.runFor(5 * usPerSec)
		res.IdleBytesPerRound = (s.bytes - b) / 5
	}
	return res
}

// StalenessTimes are the delays after an acknowledged write at which
// MeasureStaleness reads, in ms.
var StalenessTimes = []int64{0, 1, 2, 5, 10, 20, 50, 100}

// StalenessResult is one row of the PBS table: for reads at R after writes at W.
type StalenessResult struct {
	R, W   int
	Trials int
	// Fresh[i] is the fraction of reads begun StalenessTimes[i] ms after the write
	// was acknowledged that returned it.
	Fresh []float64
}

// MeasureStaleness (probabilistically bounded staleness): three nodes, replication
// factor 3, read repair and anti-entropy off. Each trial writes a fresh key at W
// through a random node; when the write is acknowledged, reads at R begin through
// random nodes after each of StalenessTimes; a read is fresh if it returns the write.
// Trials are 300 ms apart, so that they do not queue behind each other.
func MeasureStaleness(seed uint64, r, w, trials int) StalenessResult {
	s := newExperiment(seed, 3, trials, func(sc *scenario) {
		sc.readRepair = core.ReadRepairOff
		sc.aeIntervalMs = 0
	})
	s.startCluster()
	s.runFor(usPerSec)
	levels := map[int]core.Level{1: core.One, 2: core.Two, 3: core.Three}
	res := StalenessResult{R: r, W: w, Trials: trials}
	fresh := make([]int, len(StalenessTimes))
	pending := trials * (1 + len(StalenessTimes))
	for i := range trials {
		s.after(int64(i)*300*usPerMs, "experiment trial", func() {
			s.experimentOp(OpPut, i, levels[w], s.rWork.IntN(3), func(wr *Op) {
				pending--
				if wr.Outcome != OK {
					pending -= len(StalenessTimes) // does not happen without faults
					return
				}
				for j, t := range StalenessTimes {
					s.after(t*usPerMs, "experiment read", func() {
						s.experimentOp(OpGet, i, levels[r], s.rWork.IntN(3), func(rd *Op) {
							pending--
							if rd.Outcome == OK {
								if sib, ok := rd.Obj.Winner(); ok && sib.Dot == wr.Dot {
									fresh[j]++
								}
							}
						})
					})
				}
			})
		})
	}
	s.runUntil(3600*usPerSec+int64(trials)*300*usPerMs, func() bool { return pending <= 0 })
	for _, f := range fresh {
		res.Fresh = append(res.Fresh, float64(f)/float64(trials))
	}
	return res
}

// AvailabilityResult is one row of the availability table.
type AvailabilityResult struct {
	Nodes      int
	FailRate   float64 // the fraction of time each node is meant to be down
	DownShare  float64 // the fraction of node-time nodes were actually down
	Ops        int     // per level (half reads, half writes)
	Successful [3]float64
	// Model is what independent failures predict: the probability that at least
	// the level's number of the 3 replicas is up.
	Model [3]float64
}

// AvailabilityLevels are the levels of AvailabilityResult, in order.
var AvailabilityLevels = [3]core.Level{core.One, core.Quorum, core.All}

// MeasureAvailability: nodes nodes (replication factor 3) each fail independently,
// down for an exponential time of mean 2 s, up for an exponential time of mean
// 2 s × (1−p)/p, so that each is down a fraction p of the time (a crash loses
// nothing durable; the node restarts from its storage). Every 10 ms a client picks
// a random key and issues a read and a write at each of ONE, QUORUM and ALL through
// a random node that is up; an op succeeds if it is answered OK (not UNAVAILABLE,
// not TIMEOUT). Runs for duration seconds of virtual time.
func MeasureAvailability(seed uint64, nodes int, p float64, seconds int) AvailabilityResult {
	const keys = 1000
	s := newExperiment(seed, nodes, keys, nil)
	s.startCluster()
	s.runFor(usPerSec)
	res := AvailabilityResult{Nodes: nodes, FailRate: p}
	for i := range 3 {
		need := AvailabilityLevels[i].Required(3)
		for k := need; k <= 3; k++ {
			res.Model[i] += float64(binomial(3, k)) * math.Pow(1-p, float64(k)) * math.Pow(p, float64(3-k))
		}
	}
	start := s.now
	end := start + int64(seconds)*usPerSec
	var downUs int64
	downSince := make([]int64, nodes)
	isDown := make([]bool, nodes)
	const meanDownUs = 2 * usPerSec
	if p > 0 {
		meanUpUs := float64(meanDownUs) * (1 - p) / p
		for _, n := range s.nodes {
			var fail func()
			fail = func() {
				if s.now >= end {
					return
				}
				down := 1 + int64(s.rFault.ExpFloat64()*meanDownUs)
				downSince[n.idx], isDown[n.idx] = s.now, true
				s.crash(n, down)
				s.after(down, "experiment up", func() {
					downUs += min(s.now, end) - downSince[n.idx]
					isDown[n.idx] = false
					s.after(1+int64(s.rFault.ExpFloat64()*meanUpUs), "experiment fail", fail)
				})
			}
			// Start in the stationary distribution: down with probability p.
			if s.rFault.Float64() < p {
				fail()
			} else {
				s.after(1+int64(s.rFault.ExpFloat64()*meanUpUs), "experiment fail", fail)
			}
		}
	}
	var ok [3]int
	pending := 0
	var tick func()
	tick = func() {
		if s.now >= end {
			return
		}
		var up []int
		for _, n := range s.nodes {
			if n.alive {
				up = append(up, n.idx)
			}
		}
		for i, level := range AvailabilityLevels {
			for _, kind := range []OpKind{OpGet, OpPut} {
				res.Ops++
				if len(up) == 0 {
					continue // no node to reach: a failure
				}
				pending++
				s.experimentOp(kind, s.rWork.IntN(keys), level, up[s.rWork.IntN(len(up))], func(op *Op) {
					pending--
					if op.Outcome == OK {
						ok[i]++
					}
				})
			}
		}
		s.after(10*usPerMs, "experiment tick", tick)
	}
	tick()
	s.runUntil(int64(seconds+60)*usPerSec, func() bool { return s.now >= end && pending == 0 })
	for i := range s.nodes {
		if isDown[i] {
			downUs += end - downSince[i]
		}
	}
	res.Ops /= 3
	for i := range 3 {
		res.Successful[i] = float64(ok[i]) / float64(res.Ops)
	}
	res.DownShare = float64(downUs) / float64(int64(nodes)*(end-start))
	return res
}

func binomial(n, k int) int {
	r := 1
	for i := range k {
		r = r * (n - i) / (i + 1)
	}
	return r
}
