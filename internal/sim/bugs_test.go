package sim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// bugSeeds is how many seeds each deliberately broken variant gets to be caught in.
const bugSeeds = 12

// bugConfig is the run a variant is tried on: a small cluster, few hot keys, many
// operations, under the faults the variant shows with.
func bugConfig(b BugInfo, seed uint64) Config {
	cfg := DefaultConfig(seed)
	cfg.Nodes, cfg.Keys, cfg.Ops = 5, 3, 600
	cfg.Faults, cfg.Bug = b.Faults, b.Name
	return cfg
}

// TestSimBugsCaught runs each deliberately broken variant on seeds 1…bugSeeds: the
// checkers must catch it on at least one. The same runs without the bug (the
// control) must break nothing, so that it is the variant they catch.
func TestSimBugsCaught(t *testing.T) {
	for _, b := range Bugs() {
		if b.Hook != "" {
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			var caught []string
			for seed := uint64(1); seed <= bugSeeds; seed++ {
				cfg := bugConfig(b, seed)
				rep, err := Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Failed() {
					props := map[string]bool{}
					for _, v := range rep.Violations {
						props[v.Property] = true
					}
					names := slices.Sorted(maps.Keys(props))
					caught = append(caught, fmt.Sprintf("seed %d (%s)", seed, strings.Join(names, ", ")))
				}
				cfg.Bug = ""
				if ctl, _ := Run(cfg); ctl.Failed() {
					t.Errorf("control run without the bug failed: %s: %s", ctl.Replay, ctl.Violations[0].Detail)
				}
			}
			t.Logf("%s caught on %d of %d seeds: %s", b.Name, len(caught), bugSeeds, strings.Join(caught, "; "))
			if len(caught) == 0 {
				t.Errorf("%s was caught on none of seeds 1 to %d", b.Name, bugSeeds)
			}
		})
	}
}

// TestSimHookBugsAreRefused: variants that need a core hook not yet there say which.
func TestSimHookBugsAreRefused(t *testing.T) {
	for _, b := range Bugs() {
		if b.Hook == "" {
			continue
		}
		cfg := DefaultConfig(1)
		cfg.Bug = b.Name
		if _, err := Run(cfg); err == nil || !strings.Contains(err.Error(), "hook") {
			t.Errorf("%s: Run = %v, want an error naming the hook it needs", b.Name, err)
		}
	}
}
