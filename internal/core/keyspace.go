package core

import (
	"fmt"

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

// KeyspaceSettings are the per-keyspace settings the core applies.
type KeyspaceSettings struct {
	ReadRepair ReadRepairMode
}

// SetKeyspaces installs per-keyspace settings; keyspaces not listed use the defaults.
func (c *Core) SetKeyspaces(ks map[string]KeyspaceSettings) { c.keyspaces = ks }

func (c *Core) keyspace(name string) KeyspaceSettings {
	if s, ok := c.keyspaces[name]; ok {
		return s
	}
	return KeyspaceSettings{ReadRepair: c.cfg.ReadRepair}
}

// mergeMode is how copies of a key in this keyspace are merged.
func (c *Core) mergeMode(string) object.Mode { return object.LWW }

func repairEntry(key object.Key, stale string, nowMs int64) record.Repair {
	return record.Repair{Key: key, StaleNode: stale, RepairedAt: nowMs}
}
