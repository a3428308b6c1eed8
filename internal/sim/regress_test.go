package sim

import "testing"

// TestSimRegressions replays seeds that once found bugs in the core, now fixed.
func TestSimRegressions(t *testing.T) {
	all := "partition,crash,loss,dup,reorder,skew,pause,suspect"
	for _, tc := range []struct {
		name             string
		seed             uint64
		nodes, keys, ops int
		faults           string
	}{
		// A blocking read repair answered with a newer copy that arrived while it
		// waited, and never repaired the stale replicas with it: the next QUORUM read
		// went backwards (monotonic-read).
		{"blocking read repair answers what it repaired", 6141, 60, 5, 522, all},
		// Purged tombstones circled among the replicas by anti-entropy, each purging
		// its copy after handing it on, so the replicas never converged (P2).
		{"old tombstones are not handed to replicas that purged them", 6372, 5, 200, 585, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			faults, err := ParseFaults(tc.faults)
			if err != nil {
				t.Fatal(err)
			}
			// Registers only: the runs that found them, before the other models.
			cfg := Config{Seed: tc.seed, Nodes: tc.nodes, Keys: tc.keys, Ops: tc.ops, Faults: faults, Models: registersOnly}
			rep, err := Run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Failed() {
				t.Fatalf("%s: %s: %s", rep.Replay, rep.Violations[0].Property, rep.Violations[0].Detail)
			}
		})
	}
}
