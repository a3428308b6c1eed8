package core

import (
	"fmt"
	"strings"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

// ReadRepairMode says what a read does with replicas whose copy is older than the
// merged result.
type ReadRepairMode uint8

// The read-repair modes.
const (
	// ReadRepairAsync (default): answer after R replicas; once the rest answered (or the
	// request deadline passed), send the merged object to every stale replica.
	ReadRepairAsync ReadRepairMode = iota
	// ReadRepairBlocking: repair the stale replicas among the first R before answering,
	// so that once a QUORUM read returns a value every later QUORUM read returns it or
	// newer (monotonic quorum reads). Costs a round trip when replicas disagree.
	ReadRepairBlocking
	// ReadRepairOff: never repair on read; anti-entropy and hints still converge.
	ReadRepairOff
)

var readRepairNames = [...]string{ReadRepairAsync: "async", ReadRepairBlocking: "blocking", ReadRepairOff: "off"}

// String names the mode as settings spell it.
func (m ReadRepairMode) String() string {
	if int(m) < len(readRepairNames) {
		return readRepairNames[m]
	}
	return "unknown"
}

// ParseReadRepairMode parses async, blocking or off.
func ParseReadRepairMode(s string) (ReadRepairMode, error) {
	for i, n := range readRepairNames {
		if s == n {
			return ReadRepairMode(i), nil
		}
	}
	return 0, fmt.Errorf("%w read_repair must be async, blocking or off, not %q", ErrBadRequest, s)
}

// Resolution is how a keyspace resolves concurrent writes to a key.
type Resolution uint8

// The resolutions.
const (
	// ResolutionLWW (default): last write wins, by HLC timestamp then node id. Writes
	// need no read; concurrent writes lose all but one.
	ResolutionLWW Resolution = iota
	// ResolutionSiblings keeps every concurrent write as a sibling (dotted version
	// vectors); a read returns them all with one context, and a write carrying the
	// context replaces what it saw.
	ResolutionSiblings
	// ResolutionMerge keeps siblings like ResolutionSiblings, but the replica
	// coordinating a write merges the live siblings into one value with the keyspace's
	// merge function, and a read merges what concurrent writes left.
	ResolutionMerge
)

// ParseResolution parses "lww", "siblings" or "merge:NAME" and returns the merge
// function's name for the last.
func ParseResolution(s string) (Resolution, string, error) {
	switch {
	case s == "lww" || s == "":
		return ResolutionLWW, "", nil
	case s == "siblings":
		return ResolutionSiblings, "", nil
	case strings.HasPrefix(s, "merge:") && len(s) > len("merge:"):
		return ResolutionMerge, s[len("merge:"):], nil
	}
	return 0, "", fmt.Errorf("%w resolution must be lww, siblings or merge:NAME, not %q", ErrBadRequest, s)
}

// DefaultSiblingCap is the sibling cap of a siblings keyspace that sets none.
const DefaultSiblingCap = 64

// MergeFunc merges the values of a key's concurrent siblings into one (a shopping
// cart's union). It must be deterministic, and commutative and associative over its
// inputs, since replicas merge in any order; it gets at least two values, sorted by
// the siblings' dots. An error fails the write that needed it.
type MergeFunc func(values [][]byte) ([]byte, error)

// KeyspaceSettings are the per-keyspace settings the core applies.
type KeyspaceSettings struct {
	ReadRepair ReadRepairMode
	Resolution Resolution
	// Merge names the merge function of ResolutionMerge (a key of Config.Mergers).
	Merge string
	// SiblingCap bounds the siblings a write may leave on a key of a siblings keyspace;
	// past it the write fails with ErrSiblingCap. 0 means DefaultSiblingCap.
	SiblingCap int
}

// ResolutionString renders the resolution as settings spell it.
func (s KeyspaceSettings) ResolutionString() string {
	switch s.Resolution {
	case ResolutionSiblings:
		return "siblings"
	case ResolutionMerge:
		return "merge:" + s.Merge
	}
	return "lww"
}

func (s KeyspaceSettings) siblingCap() int {
	if s.SiblingCap > 0 {
		return s.SiblingCap
	}
	return DefaultSiblingCap
}

// SetKeyspaces installs per-keyspace settings; keyspaces not listed use the defaults.
func (c *Core) SetKeyspaces(ks map[string]KeyspaceSettings) { c.keyspaces = ks }

func (c *Core) keyspace(name string) KeyspaceSettings {
	s, ok := c.keyspaces[name]
	if !ok {
		s = KeyspaceSettings{ReadRepair: c.cfg.ReadRepair}
	}
	if c.bug(BugNoReadRepair) {
		s.ReadRepair = ReadRepairOff
	}
	return s
}

func repairEntry(key object.Key, stale string, nowMs int64) record.Repair {
	return record.Repair{Key: key, StaleNode: stale, RepairedAt: nowMs}
}
