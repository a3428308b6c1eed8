package sim

import (
	"bytes"
	"testing"
)

// TestSimSameSeedSameReport: a run with every fault is the same, JSON and history
// included, each time it is run; another seed is another run.
func TestSimSameSeedSameReport(t *testing.T) {
	cfg := Config{Seed: 42, Nodes: 9, Keys: 12, Ops: 700, Faults: AllFaults}
	render := func(cfg Config) (string, string) {
		rep, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var j, h bytes.Buffer
		if err := rep.WriteJSON(&j); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteHistory(&h); err != nil {
			t.Fatal(err)
		}
		return j.String(), h.String()
	}
	j1, h1 := render(cfg)
	j2, h2 := render(cfg)
	if j1 != j2 {
		t.Errorf("the JSON report differs between two runs of seed 42:\n%s\n---\n%s", j1, j2)
	}
	if h1 != h2 {
		t.Error("the history differs between two runs of seed 42")
	}
	cfg.Seed = 43
	if j3, _ := render(cfg); j3 == j1 {
		t.Error("seeds 42 and 43 gave the same report")
	}
}
