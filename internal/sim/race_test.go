//go:build race

package sim

// raceEnabled: the race detector slows a run about sevenfold, and a run is one
// goroutine; TestSimSeeds runs fewer seeds by default under it.
const raceEnabled = true
