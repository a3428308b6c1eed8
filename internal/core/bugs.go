package core

import "fmt"

// Bug names a deliberately broken variant of the core. The simulator runs them to
// prove that its checkers can fail (`chorus sim --bug NAME`); nothing else may set one.
type Bug string

// The deliberate bugs.
const (
	// BugSloppyQuorum counts stored hints toward every level, not only ANY (and skips
	// the availability check): a QUORUM write can be acknowledged by one replica.
	BugSloppyQuorum Bug = "sloppy-quorum"
	// BugNoHints never stores a hint: a replica that missed a write waits for
	// anti-entropy.
	BugNoHints Bug = "no-hints"
	// BugWallclockLWW stamps writes with the local clock alone (NaiveWallClock).
	BugWallclockLWW Bug = "wallclock-lww"
	// BugDropSiblings makes a write in a siblings keyspace replace every sibling, seen or
	// not: concurrent writes are lost.
	BugDropSiblings Bug = "drop-siblings"
	// BugEarlyTombstoneGC purges tombstones at the next anti-entropy round, without
	// waiting for every peer to have synced and the grace period: a stale replica then
	// brings deleted values back.
	BugEarlyTombstoneGC Bug = "early-tombstone-gc"
	// BugNoReadRepair turns read repair off in every keyspace (run it with anti-entropy
	// off too, and nothing repairs a stale replica).
	BugNoReadRepair Bug = "no-read-repair"
)

// Bugs lists every deliberate bug.
var Bugs = []Bug{BugSloppyQuorum, BugNoHints, BugWallclockLWW, BugDropSiblings, BugEarlyTombstoneGC, BugNoReadRepair}

// ParseBug returns the Bug named name.
func ParseBug(name string) (Bug, error) {
	for _, b := range Bugs {
		if string(b) == name {
			return b, nil
		}
	}
	return "", fmt.Errorf("unknown bug %q (want one of %v)", name, Bugs)
}

func (c *Core) bug(b Bug) bool { return c.cfg.Bug == b }
