package sim

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

var (
	flagSeeds = flag.Int("sim.seeds", 200, "how many seeds TestSimSeeds runs (make sim-long: thousands)")
	flagFirst = flag.Uint64("sim.first", 1, "the first seed TestSimSeeds runs")
)

// seedConfig derives a run of mixed size and fault set from a seed: mostly small
// clusters, a few larger ones; every fault alone, random sets, all and none. Every
// model is in the workload (the default): registers, siblings, counters and sets,
// their keys dealt in turn from model seed mod 4, so that consecutive seeds with few
// keys still cover them all.
func seedConfig(seed uint64) Config {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	cfg := DefaultConfig(seed)
	sizes := []int{1, 2, 3, 3, 4, 5, 5, 5, 6, 7, 8, 9, 12, 16, 25, 40, 60, 100}
	cfg.Nodes = sizes[r.IntN(len(sizes))]
	cfg.Keys = []int{1, 2, 3, 5, 10, 10, 20, 50, 200}[r.IntN(9)]
	cfg.Ops = 50 + r.IntN(750)
	switch x := r.IntN(10); {
	case x == 0:
		cfg.Faults = 0
	case x <= 3:
		cfg.Faults = AllFaults
	case x <= 5:
		cfg.Faults = Faults(1 << r.IntN(int(faultCount)))
	default:
		cfg.Faults = Faults(r.Uint32()) & AllFaults
	}
	return cfg
}

func runText(t *testing.T, cfg Config) (string, *Report) {
	t.Helper()
	rep, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String(), rep
}

// seedsToRun is -sim.seeds, or fewer when it was not given and the run is -short
// (20) or under the race detector (40).
func seedsToRun() int {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "sim.seeds" })
	switch {
	case given:
		return *flagSeeds
	case testing.Short():
		return 20
	case raceEnabled:
		return 40
	}
	return *flagSeeds
}

// TestSimSeeds runs -sim.seeds seeds (200 by default: make sim) of mixed sizes and fault
// sets, each twice: every run must break no property, and both runs of a seed must
// give the same report byte for byte.
func TestSimSeeds(t *testing.T) {
	start := time.Now()
	seeds := seedsToRun()
	var mu sync.Mutex
	var events, virtualMs uint64
	perModel := map[string]int{}
	t.Run("seeds", func(t *testing.T) {
		for i := range seeds {
			seed := *flagFirst + uint64(i)
			cfg := seedConfig(seed)
			t.Run(cfg.Faults.String(), func(t *testing.T) {
				t.Parallel()
				first, rep := runText(t, cfg)
				if rep.Failed() {
					t.Errorf("seed %d broke %d properties:\n%s", seed, len(rep.Violations), first)
				}
				if second, _ := runText(t, cfg); second != first {
					t.Errorf("seed %d is not deterministic:\n%s\n---\n%s", seed, first, second)
				}
				mu.Lock()
				events += rep.Events
				virtualMs += uint64(rep.VirtualMs)
				for _, c := range rep.Workload {
					perModel[c.Name] += c.Count
				}
				mu.Unlock()
			})
		}
	})
	t.Logf("%d seeds from %d, each run twice: %v wall, %d events, %d s virtual; operations by model: register=%d siblings=%d counter=%d set=%d",
		seeds, *flagFirst, time.Since(start).Round(time.Millisecond), 2*events, 2*virtualMs/1000,
		perModel["register"], perModel["siblings"], perModel["counter"], perModel["set"])
	if seeds >= 8 {
		for m := Model(0); m < modelCount; m++ {
			if perModel[m.String()] == 0 {
				t.Errorf("no seed exercised the %s model", m)
			}
		}
	}
}
