package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/cespare/xxhash/v2"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/ring"
	"github.com/chorusdb/chorus/internal/storage/memory"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// phase is where a run is.
type phase uint8

const (
	phaseFaults phase = iota // the workload runs, faults are injected
	phaseHeal                // everything healed: waiting for convergence
	phaseFinal               // the final QUORUM reads
	phaseDone
)

// Random streams, one per concern, so that (for instance) a change in how many
// messages are sent does not change the fault schedule.
const (
	streamScenario = iota + 1
	streamTie
	streamNet
	streamWork
	streamFault
	streamNode
)

func stream(seed uint64, id uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, id*0x9E3779B97F4A7C15))
}

// simulation is one run (see Run). It is not safe for concurrent use; separate
// simulations share nothing and may run in parallel.
type simulation struct {
	cfg Config
	sc  scenario
	bug bugSpec

	now   int64 // virtual µs
	queue eventQueue
	seq   uint64
	phase phase

	rTie, rNet, rWork, rFault, rNode *rand.Rand

	nodes     []*simNode
	byID      map[string]int
	ring      *ring.Ring
	net       network
	suspected map[suspicion]bool
	upMaps    map[string]map[string]bool
	quiet     bool // healing: one membership change for the whole heal

	models        []model
	modelShift    int // key i belongs to model (i + modelShift) mod len(models)
	keys          keyPicker
	touched       map[int]bool
	clients       []*client
	history       History
	issued, done  int
	finalPending  int
	finalAttempts map[object.Key]int

	healAt, convergedAt int64

	// The all-seeing oracle.
	dots        map[version.Dot]dotEntry
	values      map[string]*Op
	fwds        map[fwdKey]*Op    // forwarded writes, by (forwarder, request id)
	hints       map[hintKey]int64 // (holder, hint id) → expiry when first stored
	violations  []Violation
	clockLosses []Violation
	injected    injected
	mechanisms  core.Stats // counters of the cores that crashed (the live ones are added at the end)

	trace            xxhash.Digest
	scratch          []byte
	events, messages uint64
	bytes            uint64 // encoded size of every message sent
	// byType counts, per message type, the messages and bytes sent (experiments).
	byType map[wire.Type]*traffic
	// preload, if set, fills a node's storage before its core starts (experiments).
	preload func(*simNode)
	// configure, if set, adjusts every core's configuration (experiments).
	configure func(*core.Config)
}

// traffic counts messages of one type.
type traffic struct{ messages, bytes uint64 }

type hintKey struct {
	holder int
	id     uint64
}

// injected counts the faults a run injected.
type injected struct {
	partitions, oneWay, isolations int
	crashes, tornCrashes, pauses   int
	skews, suspicions              int
	lost, duplicated, delayed      int
	cutMessages                    int
}

var noKey object.Key

// Run simulates cfg and returns its report.
func Run(cfg Config) (*Report, error) {
	s, err := newSimulation(cfg)
	if err != nil {
		return nil, err
	}
	s.run()
	return s.report(), nil
}

func newSimulation(cfg Config) (*simulation, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b, _ := lookupBug(cfg.Bug)
	s := &simulation{
		cfg: cfg, bug: b,
		rTie: stream(cfg.Seed, streamTie), rNet: stream(cfg.Seed, streamNet), rWork: stream(cfg.Seed, streamWork),
		rFault: stream(cfg.Seed, streamFault), rNode: stream(cfg.Seed, streamNode),
		byID: map[string]int{}, suspected: map[suspicion]bool{}, upMaps: map[string]map[string]bool{},
		touched: map[int]bool{}, finalAttempts: map[object.Key]int{},
		dots: map[version.Dot]dotEntry{}, values: map[string]*Op{}, fwds: map[fwdKey]*Op{}, hints: map[hintKey]int64{},
		convergedAt: -1,
	}
	s.sc = newScenario(cfg, stream(cfg.Seed, streamScenario))
	if b.scenario != nil {
		b.scenario(&s.sc)
	}
	s.models = s.sc.buildModels(cfg.models())
	s.modelShift = int(cfg.Seed % uint64(len(s.models)))
	s.keys = keyPicker{n: cfg.Keys, r: s.rWork}
	if s.sc.zipf && cfg.Keys > 1 {
		s.keys.zipf = rand.NewZipf(s.rWork, 1.1, 1, uint64(cfg.Keys-1))
	}
	s.trace.Reset()
	return s, nil
}

// start builds the cluster and starts the workload and the faults.
func (s *simulation) start() {
	s.startCluster()
	s.startClients()
	s.startFaults()
	if s.cfg.Ops == 0 {
		s.after(0, "heal", s.heal)
	}
}

// startCluster builds the nodes, their cores and views, and starts their tickers.
func (s *simulation) startCluster() {
	width := len(fmt.Sprint(s.cfg.Nodes - 1))
	members := make([]ring.Member, s.cfg.Nodes)
	for i := range s.cfg.Nodes {
		n := &simNode{idx: i, id: fmt.Sprintf("n%0*d", width, i), store: memory.New(memory.Options{}), reqs: map[uint64]*Op{}}
		if s.preload != nil {
			s.preload(n)
		}
		if s.cfg.Faults.Has(FaultSkew) {
			n.clock = clock{offsetMs: s.between(s.rFault, -1000, 1000), driftPPM: s.between(s.rFault, -200, 200)}
		}
		s.nodes = append(s.nodes, n)
		s.byID[n.id] = i
		members[i] = ring.Member{ID: n.id}
	}
	s.ring = ring.New(members, s.sc.vnodes)
	for _, n := range s.nodes {
		c, err := core.New(s.coreConfig(n), n.store, 0)
		if err != nil {
			panic(fmt.Sprintf("sim: core config: %v", err))
		}
		s.installKeyspaces(c)
		n.core, n.alive = c, true
	}
	for _, n := range s.nodes {
		v, sig := s.viewOf(n.idx)
		n.viewSig, n.hasView = sig, true
		n.core.SetView(v)
		s.startTicks(n)
	}
}

func (s *simulation) run() {
	s.start()
	s.loop(func() bool {
		if s.phase >= phaseHeal && s.now-s.healAt > s.sc.convergenceBoundUs+300*usPerSec {
			s.violate("liveness", noKey, nil, "the run did not finish %s s after heal", msString((s.now-s.healAt)/usPerMs))
			return true
		}
		return false
	})
	s.checkAll()
}

// loop processes events until the run is done, the queue is empty, or stop (asked
// after each event) says so.
func (s *simulation) loop(stop func() bool) {
	for s.phase != phaseDone && len(s.queue) > 0 {
		e := s.next()
		s.now = e.at
		s.events++
		s.traceEvent(e)
		s.dispatch(e)
		if stop() {
			return
		}
	}
}

func (s *simulation) dispatch(e *event) {
	switch e.kind {
	case evDeliver:
		s.deliver(e)
	case evFlushed:
		if n := s.nodes[e.node]; n.alive && n.gen == e.gen && n.busy {
			s.flushed(n)
		}
	case evTick:
		s.tick(s.nodes[e.node], e.gen)
	case evView:
		if n := s.nodes[e.node]; n.alive && n.gen == e.gen {
			s.refreshView(n)
		}
	case evInvoke:
		s.invoke(s.clients[e.node])
	case evClientTimeout:
		s.clientTimeout(e.op)
	case evCall:
		e.fn()
	}
}

// heal ends the fault phase: every cut, suspicion and pause ends, every crashed node
// restarts, loss and duplication stop, and every failure detector catches up.
func (s *simulation) heal() {
	if s.phase != phaseFaults {
		return
	}
	s.phase, s.healAt = phaseHeal, s.now
	s.traceNote("heal", -1)
	s.net.cuts = nil
	clear(s.suspected)
	s.quiet = true
	for _, n := range s.nodes {
		n.torn = false
		switch {
		case !n.alive:
			s.restart(n)
		case n.paused:
			s.resume(n)
		}
	}
	s.quiet = false
	s.membershipChanged()
	s.after(convergenceCheckUs, "convergence check", s.checkConvergence)
}

// convergenceCheckUs is how often the liveness phase compares replicas.
const convergenceCheckUs = 250 * usPerMs

// checkConvergence (P2) requires every replica of every key to hold the same object,
// within the scenario's bound after heal.
func (s *simulation) checkConvergence() {
	keys, total := s.divergedKeys(5)
	switch {
	case total == 0:
		s.convergedAt = s.now
		s.startFinalReads()
	case s.now-s.healAt >= s.sc.convergenceBoundUs:
		s.violate("P2 convergence", noKey, nil, "%d key(s) still differ between replicas %s s after heal, e.g. %v",
			total, msString((s.now-s.healAt)/usPerMs), keys)
		s.startFinalReads()
	default:
		s.after(convergenceCheckUs, "convergence check", s.checkConvergence)
	}
}

// touchedKeys returns the indexes of the keys the workload used, sorted.
func (s *simulation) touchedKeys() []int {
	out := make([]int, 0, len(s.touched))
	for i := range s.touched {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}

// objectKey is key i's full name.
func (s *simulation) objectKey(i int) object.Key {
	return object.Key{Keyspace: s.modelOf(i).keyspace(), Key: keyName(i)}
}

// divergedKeys returns up to limit keys whose replicas differ, and how many differ.
func (s *simulation) divergedKeys(limit int) ([]string, int) {
	var out []string
	total := 0
	for _, i := range s.touchedKeys() {
		key := s.objectKey(i)
		var first object.Object
		for j, id := range s.ring.PreferenceList(ring.KeyHash(key.Keyspace, key.Key), s.sc.rf) {
			o, _, err := s.nodes[s.byID[id]].store.Get(key)
			if err != nil {
				s.violate("storage", key, nil, "node %s: get: %v", id, err)
			}
			if j == 0 {
				first = o
				continue
			}
			if !object.Equal(first, o) {
				total++
				if len(out) < limit {
					out = append(out, key.Key)
				}
				break
			}
		}
	}
	return out, total
}

// startFinalReads reads every key the workload used once at QUORUM, through a random
// node: the final state P1 is checked against. The reads wait until every failure
// detector has caught up with the heal.
func (s *simulation) startFinalReads() {
	s.phase = phaseFinal
	if settled := s.healAt + s.sc.detectMaxUs + usPerMs; s.now < settled {
		s.after(settled-s.now, "final reads", s.finalReads)
		return
	}
	s.finalReads()
}

func (s *simulation) finalReads() {
	for _, i := range s.touchedKeys() {
		s.finalRead(i)
	}
	if s.finalPending == 0 {
		s.phase = phaseDone
	}
}

func (s *simulation) finalRead(i int) {
	key := s.objectKey(i)
	s.finalAttempts[key]++
	op := &Op{Client: -1, Final: true, Kind: OpGet, Key: key, Level: core.Quorum, Invoke: s.now, model: s.modelIndex(i)}
	op.Node = s.nodes[s.rWork.IntN(len(s.nodes))].id
	s.history.add(op)
	s.finalPending++
	s.issue(op)
}

// finalAttemptsMax is how often a final read is tried before the key is reported.
const finalAttemptsMax = 5

func (s *simulation) finalDone(op *Op) {
	s.finalPending--
	if op.Outcome != OK && s.finalAttempts[op.Key] < finalAttemptsMax {
		i := keyIndex(op.Key.Key)
		s.finalPending++ // the retry is still to come
		s.after(500*usPerMs, "final read retry", func() {
			s.finalPending--
			s.finalRead(i)
		})
		return
	}
	if s.finalPending == 0 {
		s.phase = phaseDone
	}
}

// keyIndex parses a key name made by keyName.
func keyIndex(name string) int {
	var i int
	fmt.Sscanf(name, "k%d", &i)
	return i
}

// violate records a violation found while the run goes on or at its end.
func (s *simulation) violate(prop string, key object.Key, ops []int, format string, args ...any) {
	s.violations = append(s.violations, Violation{Property: prop, Key: key.Key, Ops: ops, Detail: fmt.Sprintf(format, args...)})
}

// traceEvent adds an event to the trace hash.
func (s *simulation) traceEvent(e *event) {
	b := s.scratch[:0]
	b = binary.AppendVarint(b, e.at)
	b = append(b, byte(e.kind))
	b = binary.AppendUvarint(b, uint64(e.node))
	b = binary.AppendUvarint(b, uint64(e.from))
	b = binary.AppendUvarint(b, e.gen)
	if e.op != nil {
		b = binary.AppendUvarint(b, uint64(e.op.ID))
	}
	b = append(b, e.name...)
	b = append(b, e.data...)
	s.scratch = b
	s.trace.Write(b)
}

// traceNote adds a happening to the trace hash: what, and the node it concerns (-1
// for none).
func (s *simulation) traceNote(what string, node int) {
	s.traceValue(what, node)
	if node >= 0 {
		s.logf("%s %s", what, s.nodes[node].id)
	} else {
		s.logf("%s", what)
	}
}

func (s *simulation) traceValue(what string, v int) {
	s.trace.WriteString(what)
	s.trace.Write(binary.AppendVarint(s.scratch[:0], int64(v)))
}

func (s *simulation) traceOp(op *Op) {
	s.trace.WriteString(fmt.Sprintf("op %d %s %s %s %s %x\n", op.ID, op.Kind, op.Key, op.Level, op.Node, op.Value))
	s.logf("invoke %s", op)
}

func (s *simulation) traceOpDone(op *Op) {
	s.trace.WriteString(fmt.Sprintf("done %d %s %s:%d\n", op.ID, op.Outcome, op.Dot.Actor, op.Dot.Counter))
	s.logf("complete %s %s", op, op.Err)
}

// logf writes a line to Config.Log, stamped with the virtual time.
func (s *simulation) logf(format string, args ...any) {
	if s.cfg.Log != nil {
		fmt.Fprintf(s.cfg.Log, "%12s "+format+"\n", append([]any{msString(s.now)}, args...)...)
	}
}

// logMessage logs a message event (delivered, lost, cut…).
func (s *simulation) logMessage(what string, m wire.Message) {
	if s.cfg.Log == nil {
		return
	}
	line := fmt.Sprintf("%s %s %s→%s id=%d %s", what, m.Type, m.From, m.To, m.ID, m.Key.Key)
	if w, ok := m.Object.Winner(); ok {
		line += " " + describe(observation{ok: true, sib: w})
	}
	if m.Sync != nil {
		line += fmt.Sprintf(" sync step=%d keys=%d objects=%d", m.Sync.Step, len(m.Sync.Keys), len(m.Sync.Objects))
	}
	if m.Err != "" {
		line += " err=" + m.Err
	}
	if m.Found {
		line += " found"
	}
	s.logf("%s", line)
}
