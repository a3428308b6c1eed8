package sim

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Fault is a kind of fault the simulator injects during the fault phase.
type Fault uint8

// The faults.
const (
	// FaultPartition cuts links: one node isolated, a random split (symmetric), or one
	// direction only (one-way), each for a few seconds.
	FaultPartition Fault = iota
	// FaultCrash kills a node, losing what was not durable (sometimes exactly between
	// a Ready and its commit), and restarts it from its storage a few seconds later.
	FaultCrash
	// FaultLoss drops a fraction of messages.
	FaultLoss
	// FaultDup delivers a fraction of messages twice.
	FaultDup
	// FaultReorder gives a fraction of messages a long extra delay, so that they
	// overtake each other.
	FaultReorder
	// FaultSkew gives nodes clock offsets and drift, and steps clocks during the run.
	FaultSkew
	// FaultPause stops a node (SIGSTOP) past the failure detector, then resumes it.
	FaultPause
	// FaultSuspect makes one node wrongly see another as down for a while.
	FaultSuspect
	faultCount
)

var faultNames = [faultCount]string{"partition", "crash", "loss", "dup", "reorder", "skew", "pause", "suspect"}

// String names the fault as --faults spells it.
func (f Fault) String() string {
	if f < faultCount {
		return faultNames[f]
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Faults is a set of faults.
type Faults uint16

// AllFaults is every fault.
const AllFaults = Faults(1<<faultCount - 1)

// Has reports whether f is in the set.
func (fs Faults) Has(f Fault) bool { return fs&(1<<f) != 0 }

// With returns the set with f added.
func (fs Faults) With(f Fault) Faults { return fs | 1<<f }

// String lists the set in a fixed order, comma-separated; "none" for the empty set.
func (fs Faults) String() string {
	var names []string
	for f := Fault(0); f < faultCount; f++ {
		if fs.Has(f) {
			names = append(names, f.String())
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// ParseFaults parses a comma-separated list of fault names, "all" or "none".
func ParseFaults(s string) (Faults, error) {
	var fs Faults
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(strings.ToLower(name))
		switch name {
		case "", "none":
			continue
		case "all":
			fs |= AllFaults
			continue
		}
		found := false
		for f := Fault(0); f < faultCount; f++ {
			if faultNames[f] == name {
				fs, found = fs.With(f), true
			}
		}
		if !found {
			return 0, fmt.Errorf("sim: unknown fault %q (want %s, all or none)", name, strings.Join(faultNames[:], ", "))
		}
	}
	return fs, nil
}

// Config is what one simulation run is asked to do. The seed expands into everything
// else: latencies, rates, timeouts, the fault schedule, the workload.
type Config struct {
	Seed uint64
	// Nodes is the cluster size, 1 to MaxNodes. Default 5.
	Nodes int
	// Keys is how many keys the workload touches. Default 10.
	Keys int
	// Ops is how many client operations the workload issues. Default 300.
	Ops int
	// Faults are the faults injected during the fault phase. Default all.
	Faults Faults
	// Models are the data types the workload uses (ModelRegister, ModelSiblings,
	// ModelCounter, ModelSet). Zero means the default: every model, or the ones a bug
	// variant names.
	Models Models
	// Bug names a deliberately broken variant (see Bugs); "" for none.
	Bug string
	// StrictLWW makes an LWW loss explained by clocks (a final value superseded in
	// real time by an acknowledged write with a smaller timestamp) a violation instead
	// of a measurement.
	StrictLWW bool
	// Log, if not nil, receives a line per event of note (messages delivered and
	// dropped, operations, faults, views, commits), for reading a replayed run. It
	// does not change the run.
	Log io.Writer
}

// MaxNodes is the largest cluster a run simulates.
const MaxNodes = 2000

// DefaultConfig returns the defaults for a seed.
func DefaultConfig(seed uint64) Config {
	return Config{Seed: seed, Nodes: 5, Keys: 10, Ops: 300, Faults: AllFaults}
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		errs = append(errs, fmt.Errorf("sim: nodes must be 1 to %d, got %d", MaxNodes, c.Nodes))
	}
	if c.Keys < 1 || c.Keys > 10_000_000 {
		errs = append(errs, fmt.Errorf("sim: keys must be 1 to 10,000,000, got %d", c.Keys))
	}
	if c.Ops < 0 || c.Ops > 100_000_000 {
		errs = append(errs, fmt.Errorf("sim: ops must be 0 to 100,000,000, got %d", c.Ops))
	}
	if c.Faults&^AllFaults != 0 {
		errs = append(errs, errors.New("sim: unknown fault bits"))
	}
	if c.Bug != "" {
		if _, err := lookupBug(c.Bug); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Models&^AllModels != 0 {
		errs = append(errs, errors.New("sim: unknown model bits"))
	}
	return errors.Join(errs...)
}

// Command returns the command line that replays this run.
func (c Config) Command() string {
	s := fmt.Sprintf("chorus sim --seed %d --nodes %d --keys %d --ops %d --faults %s", c.Seed, c.Nodes, c.Keys, c.Ops, c.Faults)
	if m := c.models(); m != c.defaultModels() {
		s += " --models " + m.String()
	}
	if c.Bug != "" {
		s += " --bug " + c.Bug
	}
	if c.StrictLWW {
		s += " --strict-lww"
	}
	return s
}

// Model is a data type the workload exercises, with its own keyspace and checker.
type Model uint8

// The models.
const (
	// ModelRegister: last-write-wins registers (keyspace "default"): get, put, delete.
	ModelRegister Model = iota
	// ModelSiblings: a keyspace that keeps siblings ("siblings"): get, and puts and
	// deletes that carry the context the client last saw, or none.
	ModelSiblings
	// ModelCounter: PN-counters ("counters"): get, increment (and decrement).
	ModelCounter
	// ModelSet: add-wins OR-sets ("sets"): get, add, remove.
	ModelSet
	modelCount
)

var modelNames = [modelCount]string{"register", "siblings", "counter", "set"}

// String names the model as --models spells it.
func (m Model) String() string {
	if m < modelCount {
		return modelNames[m]
	}
	return "model(" + strconv.Itoa(int(m)) + ")"
}

// Models is a set of models.
type Models uint8

// AllModels is every model.
const AllModels = Models(1<<modelCount - 1)

// Has reports whether m is in the set.
func (ms Models) Has(m Model) bool { return ms&(1<<m) != 0 }

// With returns the set with m added.
func (ms Models) With(m Model) Models { return ms | 1<<m }

// String lists the set in a fixed order, comma-separated; "default" for the empty set.
func (ms Models) String() string {
	var names []string
	for m := Model(0); m < modelCount; m++ {
		if ms.Has(m) {
			names = append(names, m.String())
		}
	}
	if len(names) == 0 {
		return "default"
	}
	return strings.Join(names, ",")
}

// ParseModels parses a comma-separated list of model names, or "all"; "" and
// "default" give the zero set (the default).
func ParseModels(s string) (Models, error) {
	var ms Models
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(strings.ToLower(name))
		switch name {
		case "", "default":
			continue
		case "all":
			ms |= AllModels
			continue
		}
		found := false
		for m := Model(0); m < modelCount; m++ {
			if modelNames[m] == name {
				ms, found = ms.With(m), true
			}
		}
		if !found {
			return 0, fmt.Errorf("sim: unknown model %q (want %s or all)", name, strings.Join(modelNames[:], ", "))
		}
	}
	return ms, nil
}

// defaultModels are the models a run uses when Config.Models is zero: the bug's, or
// every model.
func (c Config) defaultModels() Models {
	if b, err := lookupBug(c.Bug); err == nil && b.models != 0 {
		return b.models
	}
	return AllModels
}

// models are the models the run uses.
func (c Config) models() Models {
	if c.Models != 0 {
		return c.Models
	}
	return c.defaultModels()
}
