package sim

import (
	"fmt"
	"sort"
	"strings"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

// bugSpec is a deliberately broken variant of the system that the checkers must
// catch. Some are built from outside the core: a setting, or a fault in the
// simulator's own plumbing (the driver's part). Others need a hook in the core; until
// it exists they are listed with the hook they need, and refused.
type bugSpec struct {
	name string
	doc  string
	// faults are the faults under which the bug shows; the tests run it with them.
	faults Faults
	// models are the models the variant is run with by default (Config.Models zero).
	models    Models
	scenario  func(*scenario)
	configure func(*core.Config)
	// Plumbing bugs, in the simulated driver.
	ackBeforeDurable bool // send acks and replies before the batch is durable
	reuseHLC         bool // restart the core with a zero HLC instead of the persisted mark
	hintTTLReset     bool // reload hints with a fresh TTL at restart
	tombstoneGC      bool // the storage purges tombstones a second after the delete
	dropContext      bool // the client library sends writes without their context
	retryForwards    bool // a forwarded request is sent again under a new request id
	// hook is the core hook a variant needs, when it cannot be built from outside.
	hook string
}

func faults(fs ...Fault) Faults {
	var out Faults
	for _, f := range fs {
		out = out.With(f)
	}
	return out
}

// registersOnly is the model set of the variants built against last-write-wins
// registers.
var registersOnly = Models(0).With(ModelRegister)

var bugTable = [...]bugSpec{
	{
		name:             "ack-before-durable",
		doc:              "the driver sends replica acknowledgements and client replies before the batch is durable, so a crash loses acknowledged writes",
		faults:           faults(FaultCrash, FaultLoss, FaultPartition),
		models:           registersOnly,
		ackBeforeDurable: true,
	},
	{
		name:   "no-read-repair",
		doc:    "keyspaces promise blocking read repair (monotonic QUORUM reads) but the cores never repair on read",
		faults: faults(FaultLoss, FaultPartition, FaultReorder),
		models: registersOnly,
		scenario: func(sc *scenario) {
			sc.readRepair = core.ReadRepairBlocking
			// Writes that reach one replica long before the others, and QUORUM reads
			// that see them there.
			sc.levels, sc.mix = [3]int{2, 6, 1}, [3]int{70, 25, 5}
			sc.tailProb, sc.tailMaxUs = 0.3, 500*usPerMs
			sc.thinkMeanUs = min(sc.thinkMeanUs, 50*usPerMs)
		},
		configure: func(c *core.Config) { c.ReadRepair = core.ReadRepairOff },
	},
	{
		name:      "no-hints",
		doc:       "hints are refused (hint cap of one byte) with anti-entropy off: replicas that missed a write are repaired only if a read touches the key",
		faults:    faults(FaultLoss, FaultPartition),
		models:    registersOnly,
		scenario:  func(sc *scenario) { sc.aeIntervalMs = 0 },
		configure: func(c *core.Config) { c.HintCapBytes = 1 },
	},
	{
		name:     "reuse-hlc",
		doc:      "a restarted node's HLC starts from zero instead of the persisted high-water mark: it stamps writes below timestamps it issued or observed before, and can reissue a dot",
		faults:   faults(FaultCrash, FaultSkew),
		models:   registersOnly,
		reuseHLC: true,
		// Short outages: the restarted node stamps below its persisted mark until its
		// clock passes it.
		scenario: func(sc *scenario) { sc.crashMinUs, sc.crashMaxUs = 100*usPerMs, 1500*usPerMs },
	},
	{
		name:         "hint-ttl-reset",
		doc:          "a restarted node reloads its hints with a fresh TTL, so it delivers hints after their TTL ran out",
		faults:       faults(FaultCrash, FaultPartition),
		models:       registersOnly,
		scenario:     func(sc *scenario) { sc.hintTTLMs = 2000 },
		hintTTLReset: true,
	},
	{
		name:      "wallclock-lww",
		doc:       "writes are stamped with the coordinator's own clock, ignoring the clocks of peers (core.Config.NaiveWallClock): causally later writes lose under skew",
		faults:    faults(FaultSkew),
		models:    registersOnly,
		configure: func(c *core.Config) { c.NaiveWallClock = true },
	},
	{
		name:        "storage-tombstone-gc",
		doc:         "the storage purges a tombstone one second after the delete, whether or not every replica holds it (a storage-side stand-in for early-tombstone-gc)",
		faults:      faults(FaultPartition, FaultLoss),
		models:      registersOnly,
		tombstoneGC: true,
	},
	{
		name:      "sloppy-quorum",
		doc:       "stored hints count toward every level, not only ANY (core.BugSloppyQuorum): a QUORUM write can be acknowledged by one replica, and a QUORUM read then misses it",
		faults:    faults(FaultPartition, FaultCrash),
		models:    registersOnly,
		configure: func(c *core.Config) { c.Bug = core.BugSloppyQuorum },
	},
	{
		name:      "drop-siblings",
		doc:       "a write to a siblings keyspace replaces every sibling its coordinator holds, seen or not (core.BugDropSiblings): concurrent writes are lost",
		faults:    faults(FaultLoss, FaultReorder),
		models:    Models(0).With(ModelSiblings),
		configure: func(c *core.Config) { c.Bug = core.BugDropSiblings },
	},
	{
		name:        "lost-context",
		doc:         "the client library drops the context of writes to a siblings keyspace (every write is blind): superseded siblings pile up, as Riak's did with clients that did not send the vector clock back",
		faults:      faults(FaultLoss),
		models:      Models(0).With(ModelSiblings),
		dropContext: true,
	},
	{
		name:          "retried-forward",
		doc:           "a node that forwards a CRDT update to a replica sends it again under a new request id (a retry without idempotency): the replica applies it twice",
		faults:        faults(FaultLoss, FaultDup),
		models:        Models(0).With(ModelCounter),
		retryForwards: true,
	},
	{
		name:      "early-tombstone-gc",
		doc:       "tombstones are purged at the next anti-entropy round, without waiting for the grace period or for every replica to have synced since the delete (core.BugEarlyTombstoneGC)",
		faults:    faults(FaultPartition, FaultLoss),
		models:    registersOnly,
		configure: func(c *core.Config) { c.Bug = core.BugEarlyTombstoneGC },
	},
}

// BugInfo describes a deliberately broken variant for `chorus sim --bug list`.
type BugInfo struct {
	Name string
	Doc  string
	// Faults are the faults under which the bug shows.
	Faults Faults
	// Models are the data types it is run with by default.
	Models Models
	// Hook, when not empty, is the core hook the variant needs; it cannot run yet.
	Hook string
}

// Bugs lists the deliberately broken variants, runnable ones first.
func Bugs() []BugInfo {
	var out []BugInfo
	for _, b := range bugTable {
		out = append(out, BugInfo{Name: b.name, Doc: b.doc, Faults: b.faults, Models: b.models, Hook: b.hook})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Hook == "" && out[j].Hook != "" })
	return out
}

func lookupBug(name string) (bugSpec, error) {
	if name == "" {
		return bugSpec{}, nil
	}
	var names []string
	for _, b := range bugTable {
		if b.name == name {
			if b.hook != "" {
				return bugSpec{}, fmt.Errorf("sim: bug %q needs a hook in internal/core that does not exist yet: %s", name, b.hook)
			}
			return b, nil
		}
		names = append(names, b.name)
	}
	return bugSpec{}, fmt.Errorf("sim: unknown bug %q (want one of %s)", name, strings.Join(names, ", "))
}

// tombstoneGCDelayMs is how soon the storage-tombstone-gc bug purges a tombstone.
const tombstoneGCDelayMs = 1000

// collectTombstones is the storage-tombstone-gc bug: n's storage drops every
// tombstone older than a second, behind the core's back.
func (s *simulation) collectTombstones(n *simNode) {
	nowMs := s.nowMs(n)
	var purge record.Batch
	kss, _ := n.store.Keyspaces()
	for _, ks := range kss {
		_ = n.store.ScanObjects(ks, "", func(key object.Key, obj object.Object) bool {
			if w, ok := obj.Winner(); ok && w.Tombstone && nowMs-w.Timestamp.Physical() >= tombstoneGCDelayMs {
				purge.Objects = append(purge.Objects, record.ObjectWrite{Key: key, Purge: true})
			}
			return true
		})
	}
	if !purge.Empty() {
		_ = n.store.Commit(&purge)
	}
}
