package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/chorusdb/chorus/internal/core"
)

// Virtual time is in microseconds.
const (
	usPerMs  = 1000
	usPerSec = 1000 * usPerMs
)

// scenario is what a seed expands into beyond the Config: the cluster's settings, the
// network's distributions, the workload's shape. It is printed in the report so that a
// run can be read without replaying it.
type scenario struct {
	rf, vnodes int
	tickUs     int64

	requestTimeoutMs int64
	hintTTLMs        int64
	graceMs          int64
	aeIntervalMs     int64
	readRepair       core.ReadRepairMode

	clients     int
	thinkMeanUs int64
	zipf        bool
	levels      [3]int // weights of ONE, QUORUM, ALL
	mix         [3]int // weights of get, put, delete

	latMinUs, latMaxUs int64 // every message: uniform in [min, max]
	tailProb           float64
	tailMaxUs          int64 // a tailProb fraction gets up to this much more
	diskMinUs          int64 // commit latency, uniform
	diskMaxUs          int64
	loss, dup          float64

	faultGapUs         int64 // mean time between injected faults
	partitionMaxUs     int64 // longest partition (the shortest is 1 s)
	detectMinUs        int64 // failure detection delay, uniform per observer
	detectMaxUs        int64
	maxDown            int   // most nodes crashed or paused at once
	crashMinUs         int64 // a crashed node's downtime, uniform
	crashMaxUs         int64
	skewMaxMs          int64 // bound on a clock's offset
	convergenceBoundUs int64 // P2: most virtual time from heal to convergence

	// The models beyond registers (drawn last, so that they change nothing above).
	models   Models
	blindPct int // siblings: writes sent without a context
	setElems int // sets: elements each set's adds and removes draw from
	decPct   int // counters: increments that are decrements
}

// newScenario expands a configuration with r, the seed's scenario stream.
func newScenario(cfg Config, r *rand.Rand) scenario {
	sc := scenario{rf: min(3, cfg.Nodes)}
	switch {
	case cfg.Nodes <= 20:
		sc.vnodes = 32
	case cfg.Nodes <= 100:
		sc.vnodes = 16
	default:
		sc.vnodes = 4 // anti-entropy walks every range of the ring; keep big rings small
	}
	sc.tickUs = pick(r, 10, 20, 50) * usPerMs
	if cfg.Nodes > 200 {
		sc.tickUs = 100 * usPerMs
	}
	sc.requestTimeoutMs = pick(r, 500, 1000, 2000)
	sc.hintTTLMs = 5000 + r.Int64N(25_000)
	sc.skewMaxMs = 3000
	// Tombstones outlive hints by more than two maximal clock offsets, so that no hint
	// (expired by its holder's clock) outlives a purge (timed by another's).
	sc.graceMs = sc.hintTTLMs + 2*sc.skewMaxMs + 5000 + r.Int64N(20_000)
	sc.aeIntervalMs = 1000 + r.Int64N(4000)
	sc.readRepair = core.ReadRepairAsync
	if r.IntN(3) == 0 {
		sc.readRepair = core.ReadRepairBlocking
	}

	sc.clients = min(max(2*cfg.Nodes, 2), 64)
	phaseUs := (5 + r.Int64N(25)) * usPerSec
	sc.thinkMeanUs = min(max(phaseUs*int64(sc.clients)/int64(max(cfg.Ops, 1)), 5*usPerMs), 2*usPerSec)
	sc.zipf = r.IntN(2) == 0
	sc.levels = [3]int{1 + r.IntN(3), 2 + r.IntN(4), 1 + r.IntN(3)}
	sc.mix = [3]int{40 + r.IntN(20), 30 + r.IntN(20), 5 + r.IntN(10)}

	sc.latMinUs = 100 + r.Int64N(400)
	sc.latMaxUs = sc.latMinUs + 500 + r.Int64N(3000)
	sc.tailProb, sc.tailMaxUs = 0.01, 5*usPerMs
	if cfg.Faults.Has(FaultReorder) {
		sc.tailProb = 0.05 + 0.15*r.Float64()
		sc.tailMaxUs = (20 + r.Int64N(300)) * usPerMs
	}
	sc.diskMinUs = 50
	sc.diskMaxUs = 100 + r.Int64N(3000)
	if cfg.Faults.Has(FaultLoss) {
		sc.loss = 0.005 + 0.08*r.Float64()
	}
	if cfg.Faults.Has(FaultDup) {
		sc.dup = 0.005 + 0.05*r.Float64()
	}

	sc.faultGapUs = phaseUs / (2 + r.Int64N(8))
	if r.IntN(3) == 0 { // a storm: many faults, overlapping
		sc.faultGapUs = phaseUs / (10 + r.Int64N(30))
	}
	sc.partitionMaxUs = 10 * usPerSec
	if r.IntN(4) == 0 { // long enough for hints to expire
		sc.partitionMaxUs = 40 * usPerSec
	}
	sc.detectMinUs = 200 * usPerMs
	sc.detectMaxUs = (500 + r.Int64N(3000)) * usPerMs
	sc.maxDown = max(1, (cfg.Nodes-1)/2)
	sc.crashMinUs, sc.crashMaxUs = 500*usPerMs, 8*usPerSec
	sc.convergenceBoundUs = (30_000 + 20*sc.aeIntervalMs) * usPerMs

	sc.models = cfg.models()
	sc.blindPct = 5 + r.IntN(30)
	sc.setElems = 2 + r.IntN(7)
	sc.decPct = r.IntN(40)
	return sc
}

// buildModels makes the models of the set, in their fixed order.
func (sc *scenario) buildModels(ms Models) []model {
	var out []model
	if ms.Has(ModelRegister) {
		out = append(out, &registerModel{levels: sc.levels, mix: sc.mix})
	}
	if ms.Has(ModelSiblings) {
		out = append(out, &siblingsModel{levels: sc.levels, mix: sc.mix, blindPct: sc.blindPct, readRepair: sc.readRepair})
	}
	if ms.Has(ModelCounter) {
		out = append(out, &counterModel{levels: sc.levels, getPct: sc.mix[0], decPct: sc.decPct})
	}
	if ms.Has(ModelSet) {
		out = append(out, &setModel{levels: sc.levels, mix: [3]int{sc.mix[0], sc.mix[1], sc.mix[1]/2 + sc.mix[2]}, elems: sc.setElems})
	}
	return out
}

func pick(r *rand.Rand, choices ...int64) int64 { return choices[r.IntN(len(choices))] }

// String renders the scenario on one line for the report.
func (sc scenario) String() string {
	return fmt.Sprintf("rf=%d vnodes=%d clients=%d think=%dms keys=%s levels(one:quorum:all)=%d:%d:%d mix(get:put:del)=%d:%d:%d "+
		"latency=%s-%sms tail=%.1f%%/%dms loss=%.1f%% dup=%.1f%% disk<=%sms "+
		"request-timeout=%dms hint-ttl=%dms tombstone-grace=%dms anti-entropy=%dms read-repair=%s tick=%dms "+
		"detect=%d-%dms fault-gap=%dms partitions<=%ds",
		sc.rf, sc.vnodes, sc.clients, sc.thinkMeanUs/usPerMs, map[bool]string{true: "zipf", false: "uniform"}[sc.zipf],
		sc.levels[0], sc.levels[1], sc.levels[2], sc.mix[0], sc.mix[1], sc.mix[2],
		msString(sc.latMinUs), msString(sc.latMaxUs), 100*sc.tailProb, sc.tailMaxUs/usPerMs,
		100*sc.loss, 100*sc.dup, msString(sc.diskMaxUs),
		sc.requestTimeoutMs, sc.hintTTLMs, sc.graceMs, sc.aeIntervalMs, sc.readRepair, sc.tickUs/usPerMs,
		sc.detectMinUs/usPerMs, sc.detectMaxUs/usPerMs, sc.faultGapUs/usPerMs, sc.partitionMaxUs/usPerSec) + sc.modelString()
}

// modelString renders the settings of the models beyond registers that the run uses.
func (sc scenario) modelString() string {
	var s string
	if sc.models.Has(ModelSiblings) {
		s += fmt.Sprintf(" siblings-blind=%d%%", sc.blindPct)
	}
	if sc.models.Has(ModelCounter) {
		s += fmt.Sprintf(" counter-decrements=%d%%", sc.decPct)
	}
	if sc.models.Has(ModelSet) {
		s += fmt.Sprintf(" set-elements=%d", sc.setElems)
	}
	return s
}

// msString renders microseconds as milliseconds with one decimal.
func msString(us int64) string { return fmt.Sprintf("%d.%d", us/usPerMs, us%usPerMs/100) }
