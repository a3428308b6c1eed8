package sim

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The scale tables of BENCHMARKS.md ("Simulator scale results"). They are
// measurements, not checks, and take minutes: each runs only when CHORUS_SIM_SCALE
// names it (or is "all"):
//
//	CHORUS_SIM_SCALE=convergence  go test -run TestScale -v -timeout 2h ./internal/sim
//	CHORUS_SIM_SCALE=antientropy  (CHORUS_SIM_AE_KEYS=1000000 by default)
//	CHORUS_SIM_SCALE=pbs          (CHORUS_SIM_PBS_TRIALS=2000 by default)
//	CHORUS_SIM_SCALE=availability (CHORUS_SIM_AVAIL_SECONDS=600 by default)
//
// CHORUS_SIM_SCALE_NODES overrides the cluster sizes of the convergence table
// (comma-separated; default 8,16,32,64,128,256,512,1024). Every table is a
// function of the seed (CHORUS_SIM_SCALE_SEED, default 1): the same command prints
// the same numbers; only the wall-clock column varies.

func scaleWanted(t *testing.T, name string) {
	t.Helper()
	v := os.Getenv("CHORUS_SIM_SCALE")
	if v != "all" && !strings.Contains(","+v+",", ","+name+",") {
		t.Skipf("measurement; set CHORUS_SIM_SCALE=%s (or all) to run it", name)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func scaleSeed() uint64 { return uint64(envInt("CHORUS_SIM_SCALE_SEED", 1)) }

// peakMB is the Go heap's high-water mark so far, roughly.
func heapMB() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse >> 20
}

func TestScaleConvergence(t *testing.T) {
	scaleWanted(t, "convergence")
	sizes := []int{8, 16, 32, 64, 128, 256, 512, 1024}
	if v := os.Getenv("CHORUS_SIM_SCALE_NODES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	keys := envInt("CHORUS_SIM_CONV_KEYS", 4096)
	fmt.Printf("\nConvergence after a partition heals (seed %d, %d keys, rf=3, a third of the nodes cut off while every key is written once at ONE through the rest; %s; anti-entropy every 2 s). Hinted handoff and anti-entropy, then anti-entropy alone (hints refused)\n\n",
		scaleSeed(), keys, LatencyModel)
	fmt.Println("| nodes | log2 N | cut off | hints stored | heal → converged (virtual ms) | messages after heal | per key | of which hints | of which anti-entropy | bytes per key | anti-entropy only: heal → converged (ms) | messages per key | bytes per key | wall (both) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range sizes {
		start := time.Now()
		r := MeasureConvergence(scaleSeed(), n, keys, true)
		ae := MeasureConvergence(scaleSeed(), n, keys, false)
		fmt.Printf("| %d | %d | %d | %d | %.0f | %d | %.2f | %d | %d | %.0f | %.0f | %.2f | %.0f | %v |\n",
			r.Nodes, log2(n), r.Isolated, r.HintsStored, r.ConvergedMs, r.Messages, r.MessagesPerKey(),
			r.HintMessages, r.AEMessages, float64(r.Bytes)/float64(r.Keys),
			ae.ConvergedMs, ae.MessagesPerKey(), float64(ae.Bytes)/float64(ae.Keys), time.Since(start).Round(100*time.Millisecond))
		if r.ConvergedMs < 0 || ae.ConvergedMs < 0 {
			t.Errorf("%d nodes never converged", n)
		}
	}
}

func log2(n int) int {
	l := 0
	for 1<<(l+1) <= n {
		l++
	}
	return l
}

func TestScaleAntiEntropy(t *testing.T) {
	scaleWanted(t, "antientropy")
	keys := envInt("CHORUS_SIM_AE_KEYS", 1_000_000)
	fmt.Printf("\nAnti-entropy bytes vs divergence (seed %d, 3 nodes, rf=3, %d keys of %d-byte values, one replica holding a newer version of the diverged keys; anti-entropy every 1 s, nothing else running)\n\n",
		scaleSeed(), keys, aeValueBytes)
	fmt.Println("| divergence | keys differing | anti-entropy bytes until agreement | messages | keys repaired | bytes per differing key | ÷ a full copy of one replica | converged (virtual s) | a round once agreed (bytes) | wall | heap MB |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for i, f := range []float64{0.0001, 0.001, 0.01, 0.1} {
		start := time.Now()
		r := MeasureAntiEntropy(scaleSeed(), keys, f, i == 0)
		idle := "″"
		if i == 0 {
			idle = fmt.Sprint(r.IdleBytesPerRound)
		}
		fmt.Printf("| %g%% | %d | %d | %d | %d | %.0f | %.4f%% | %.1f | %s | %v | %d |\n",
			100*f, r.Diverged, r.Bytes, r.Messages, r.KeysRepaired, float64(r.Bytes)/float64(max(r.Diverged, 1)),
			100*float64(r.Bytes)/float64(r.FullBytes), r.ConvergedMs/1000, idle, time.Since(start).Round(100*time.Millisecond), heapMB())
		if r.ConvergedMs < 0 {
			t.Errorf("divergence %g never converged", f)
		}
		runtime.GC()
	}
}

func TestScaleStaleness(t *testing.T) {
	scaleWanted(t, "pbs")
	trials := envInt("CHORUS_SIM_PBS_TRIALS", 2000)
	fmt.Printf("\nPBS: probability that a read at R returns a write t ms after it was acknowledged at W (seed %d, N=3 nodes, rf=3, %d writes per row, read repair and anti-entropy off; %s)\n\n",
		scaleSeed(), trials, LatencyModel)
	head := "| R | W | R+W>N |"
	sep := "|---|---|---|"
	for _, t := range StalenessTimes {
		head += fmt.Sprintf(" t=%d ms |", t)
		sep += "---|"
	}
	fmt.Println(head)
	fmt.Println(sep)
	for r := 1; r <= 3; r++ {
		for w := 1; w <= 3; w++ {
			res := MeasureStaleness(scaleSeed(), r, w, trials)
			line := fmt.Sprintf("| %d | %d | %v |", r, w, r+w > 3)
			for _, f := range res.Fresh {
				line += fmt.Sprintf(" %.4f |", f)
			}
			fmt.Println(line)
			if r+w > 3 {
				for i, f := range res.Fresh {
					if f != 1 {
						t.Errorf("R=%d W=%d t=%d ms: %.4f fresh, want 1 (strict quorum)", r, w, StalenessTimes[i], f)
					}
				}
			}
		}
	}
}

func TestScaleAvailability(t *testing.T) {
	scaleWanted(t, "availability")
	seconds := envInt("CHORUS_SIM_AVAIL_SECONDS", 600)
	nodes := envInt("CHORUS_SIM_AVAIL_NODES", 5)
	fmt.Printf("\nAvailability vs per-node failure rate (seed %d, %d nodes, rf=3, %d s of virtual time per row: every 10 ms a read and a write at each level through a random node that is up; each node down an exponential time of mean 2 s, a fraction p of the time; %s)\n\n",
		scaleSeed(), nodes, seconds, LatencyModel)
	fmt.Println("| p (down share) | measured down share | ONE | QUORUM | ALL | model: ONE | QUORUM | ALL |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, p := range []float64{0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5} {
		r := MeasureAvailability(scaleSeed(), nodes, p, seconds)
		fmt.Printf("| %g | %.3f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f |\n", p, r.DownShare,
			r.Successful[0], r.Successful[1], r.Successful[2], r.Model[0], r.Model[1], r.Model[2])
	}
}
