package node

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/wire"
)

// TestPredictWARSStepWithConstantLatencies: with fixed latencies the curve is a step
// at the t the arithmetic gives. Replica 0 acknowledges first (W=1, A=1), so a ONE
// write commits at 2 ms; replica 2 answers reads first (R=S=0.5) but receives writes
// late (W=10), so a ONE read sees the write once 10 <= 2 + t + 0.5, from t = 7.5 ms.
// Reading two replicas includes replica 0, which has it; a TWO write commits at 11 ms,
// after replica 2 received it.
func TestPredictWARSStepWithConstantLatencies(t *testing.T) {
	lat := [][4]float64{ // W, A, R, S per replica
		{1, 1, 5, 5},
		{10, 1, 5, 5},
		{10, 1, 0.5, 0.5},
	}
	draw := func(_ *rand.Rand, i int) (w, a, r, s float64) {
		return lat[i][0], lat[i][1], lat[i][2], lat[i][3]
	}
	ts := []float64{0, 5, 7.4, 7.5, 8, 100}
	p := predictWARS(3, draw, ts, 50, rand.New(rand.NewPCG(1, 2)), readPlan{all: true})
	want := map[[2]int][]float64{
		{1, 1}: {0, 0, 0, 1, 1, 1},
		{2, 1}: {1, 1, 1, 1, 1, 1},
		{1, 2}: {1, 1, 1, 1, 1, 1},
		{3, 3}: {1, 1, 1, 1, 1, 1},
	}
	for rw, curve := range want {
		got := p[rw[0]-1][rw[1]-1]
		for i := range curve {
			if got[i] != curve[i] {
				t.Errorf("R=%d W=%d: P = %v at t = %v, want %v", rw[0], rw[1], got, ts, curve)
				break
			}
		}
	}
}

// TestPredictWARSReadPlans: with the latencies of the test above, a read that asks
// R replicas (read fan-out level) is consistent exactly when one of those it asks has
// the write: its own copy first when the coordinator is a replica, otherwise R of the
// three in an order unrelated to latency.
func TestPredictWARSReadPlans(t *testing.T) {
	lat := [][4]float64{{1, 1, 5, 5}, {10, 1, 5, 5}, {10, 1, 0.5, 0.5}}
	draw := func(_ *rand.Rand, i int) (w, a, r, s float64) {
		return lat[i][0], lat[i][1], lat[i][2], lat[i][3]
	}
	ts := []float64{0, 7.5}
	const trials = 30000
	near := func(got, want float64) bool { return math.Abs(got-want) < 0.02 }
	for _, tc := range []struct {
		plan         readPlan
		one, oneLate float64 // R=1 W=1 at t = 0 and 7.5
		two          float64 // R=2 W=1 at t = 0
	}{
		{readPlan{first: -1}, 1.0 / 3, 1, 2.0 / 3}, // by 7.5 every replica has it when asked
		{readPlan{first: 0}, 1, 1, 1},
		{readPlan{first: 2}, 0, 1, 0.5},
		{readPlan{all: true}, 0, 1, 1},
	} {
		p := predictWARS(3, draw, ts, trials, rand.New(rand.NewPCG(5, 6)), tc.plan)
		if got := p[0][0]; !near(got[0], tc.one) || !near(got[1], tc.oneLate) {
			t.Errorf("%+v: R=1 W=1 = %v at t = %v, want %.3f, %.3f", tc.plan, got, ts, tc.one, tc.oneLate)
		}
		if got := p[1][0][0]; !near(got, tc.two) {
			t.Errorf("%+v: R=2 W=1 at t=0 = %.3f, want %.3f", tc.plan, got, tc.two)
		}
	}
}

// TestPredictWARSStrictQuorums: with random, skewed latencies R+W>N is consistent at
// every t (t = 0 included), while R=W=1 is not at t = 0 and converges as t grows;
// every curve is monotone in t.
func TestPredictWARSStrictQuorums(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5} {
		draw := func(rng *rand.Rand, i int) (w, a, r, s float64) {
			scale := float64(i + 1) // replicas differ
			return rng.ExpFloat64() * scale * 4, rng.ExpFloat64(), rng.ExpFloat64() * scale, rng.ExpFloat64()
		}
		ts := []float64{0, 1, 2, 5, 10, 20, 50, 100}
		p := predictWARS(n, draw, ts, 20000, rand.New(rand.NewPCG(3, uint64(n))), readPlan{all: true})
		for r := 1; r <= n; r++ {
			for w := 1; w <= n; w++ {
				curve := p[r-1][w-1]
				for i := range curve {
					if curve[i] < 0 || curve[i] > 1 || (i > 0 && curve[i] < curve[i-1]) {
						t.Errorf("N=%d R=%d W=%d: curve %v is not a monotone probability", n, r, w, curve)
						break
					}
				}
				if r+w > n && slicesMin(curve) != 1 {
					t.Errorf("N=%d R=%d W=%d (R+W>N): curve %v, want 1 everywhere", n, r, w, curve)
				}
			}
		}
		if n > 1 {
			if one := p[0][0]; !(one[0] < 0.99 && one[len(one)-1] > 0.999) {
				t.Errorf("N=%d R=W=1: curve %v, want inconsistency at t=0 that vanishes by 100 ms", n, one)
			}
		}
	}
}

func slicesMin(s []float64) float64 {
	m := math.Inf(1)
	for _, v := range s {
		m = math.Min(m, v)
	}
	return m
}

// TestComputeStaleness: without samples only the strict quorums, with a note; with
// identical round trips every replica has a write by the time it commits; the quantiles
// are half the round trips.
func TestComputeStaleness(t *testing.T) {
	rep := computeStaleness(3, nil, []float64{1}, stalenessTMs, 1000, false, true)
	if rep.Note == "" || rep.Trials != 0 || len(rep.Curves) != 6 || rep.Samples.Reads != 1 {
		t.Fatalf("without write samples: %+v", rep)
	}
	for _, c := range rep.Curves {
		if c.R+c.W <= 3 || len(c.Probability) != len(stalenessTMs) || slicesMin(c.Probability) != 1 {
			t.Errorf("without samples: curve %+v", c)
		}
	}

	rep = computeStaleness(3, []float64{2, 2, 2}, []float64{4, 4}, stalenessTMs, 1000, false, true)
	if rep.Note != "" || rep.Trials != 1000 || len(rep.Curves) != 9 || rep.N != 3 {
		t.Fatalf("with samples: %+v", rep)
	}
	for i, c := range rep.Curves {
		if c.R != i/3+1 || c.W != i%3+1 || slicesMin(c.Probability) != 1 {
			t.Errorf("identical round trips: curve %d = %+v, want R-major and 1 everywhere", i, c)
		}
	}
	if q := rep.Latency["w"]; q.P50 != 1 || q.Max != 1 || rep.Latency["s"].P99 != 2 {
		t.Errorf("latency quantiles %+v", rep.Latency)
	}

	// Skewed write round trips (a slow replica now and then) make R=W=1 stale at t=0.
	writes := make([]float64, 1000)
	for i := range writes {
		writes[i] = 1
		if i%4 == 0 {
			writes[i] = 30
		}
	}
	rep = computeStaleness(3, writes, []float64{1}, stalenessTMs, 5000, false, true)
	one := rep.Curves[0].Probability
	if !(rep.Curves[0].R == 1 && rep.Curves[0].W == 1 && one[0] < 1 && one[len(one)-1] == 1) {
		t.Errorf("R=W=1 with skewed writes: %v", one)
	}
}

// TestComputeStalenessReplicaCoordinators: with the coordinators as replicas a ONE
// write commits at once (the writer's own copy) and a ONE read answers from the
// reader's own copy, which has the write only once it arrived (write round trip 2 ms:
// W = 1 ms); with every replica remote the same latencies give a write that every
// replica holds by the time it commits.
func TestComputeStalenessReplicaCoordinators(t *testing.T) {
	ts := []float64{0, 0.5, 1, 2}
	local := computeStaleness(3, []float64{2}, []float64{4}, ts, 100, true, true)
	remote := computeStaleness(3, []float64{2}, []float64{4}, ts, 100, false, true)
	if local.Coordinators != "replicas" || remote.Coordinators != "remote" {
		t.Fatalf("coordinators %q and %q", local.Coordinators, remote.Coordinators)
	}
	want := map[[2]int][]float64{{1, 1}: {0, 0, 1, 1}, {2, 1}: {1, 1, 1, 1}, {1, 2}: {1, 1, 1, 1}}
	for _, c := range local.Curves {
		if w, ok := want[[2]int{c.R, c.W}]; ok && fmt.Sprint(c.Probability) != fmt.Sprint(w) {
			t.Errorf("replica coordinators, R=%d W=%d: %v, want %v", c.R, c.W, c.Probability, w)
		}
	}
	for _, c := range remote.Curves {
		if slicesMin(c.Probability) != 1 {
			t.Errorf("remote coordinators, R=%d W=%d: %v, want 1 everywhere", c.R, c.W, c.Probability)
		}
	}
	if solo := computeStaleness(1, []float64{2}, []float64{4}, ts, 10, true, true); len(solo.Curves) != 1 || slicesMin(solo.Curves[0].Probability) != 1 {
		t.Errorf("N=1: %+v", solo.Curves)
	}
}

// sampledIDs returns the first k request ids that are timed and the first k that
// are not.
func sampledIDs(k int) (in, out []uint64) {
	for id := uint64(1); len(in) < k || len(out) < k; id++ {
		if warsSampled(id) {
			if len(in) < k {
				in = append(in, id)
			}
		} else if len(out) < k {
			out = append(out, id)
		}
	}
	return in, out
}

// TestStalenessSamplerMatchesRoundTrips: a sampled request to two peers is matched with
// each peer's answer (same id and key), once; answers from another peer, for another
// key or of another type are not; unsampled exchanges are ignored.
func TestStalenessSamplerMatchesRoundTrips(t *testing.T) {
	in, out := sampledIDs(3)
	if len(in) != 3 {
		t.Fatal("no sampled ids")
	}
	st := newStaleness(3, true)
	key := object.Key{Keyspace: "default", Key: "k"}
	st.sent([]wire.Message{
		{Type: wire.PutReq, To: "b", ID: in[0], Key: key},
		{Type: wire.PutReq, To: "c", ID: in[0], Key: key},
		{Type: wire.GetReq, To: "b", ID: in[1], Key: key},
		{Type: wire.PutReq, To: "b", ID: out[0], Key: key},
		{Type: wire.HintReq, To: "b", ID: in[2], Key: key},
	})
	for _, m := range []wire.Message{
		{Type: wire.PutResp, From: "b", ID: in[0], Key: key},
		{Type: wire.PutResp, From: "b", ID: in[0], Key: key}, // a duplicate: matched already
		{Type: wire.PutResp, From: "d", ID: in[0], Key: key}, // not asked
		{Type: wire.PutResp, From: "c", ID: in[0], Key: object.Key{Keyspace: "default", Key: "other"}},
		{Type: wire.GetResp, From: "c", ID: in[0], Key: key}, // wrong type
		{Type: wire.PutResp, From: "c", ID: in[0], Key: key},
		{Type: wire.GetResp, From: "b", ID: in[1], Key: key},
		{Type: wire.PutResp, From: "b", ID: out[0], Key: key},
		{Type: wire.HintResp, From: "b", ID: in[2], Key: key},
	} {
		st.received(&m)
	}
	writes, reads, totals := st.samples()
	if len(writes) != 2 || len(reads) != 1 || totals != [2]uint64{2, 1} {
		t.Fatalf("samples: writes %v, reads %v, totals %v; want 2 and 1", writes, reads, totals)
	}
	for _, v := range append(writes, reads...) {
		if v < 0 || v > 1000 {
			t.Errorf("round trip %v ms", v)
		}
	}

	// The ring keeps the most recent round trips.
	for i := 0; i < warsRingSize+10; i++ {
		st.rtts[1].add(float64(i))
	}
	_, reads, _ = st.samples()
	if len(reads) != warsRingSize || slicesMin(reads) != 10 {
		t.Errorf("after overflow: %d reads, min %v", len(reads), slicesMin(reads))
	}

	var nilSt *staleness // inert
	nilSt.sent([]wire.Message{{Type: wire.PutReq, ID: in[0]}})
	nilSt.received(&wire.Message{Type: wire.PutResp, ID: in[0]})
}

// TestStalenessSamplerDoesNotAllocate: timing costs no allocation, sampled or not.
func TestStalenessSamplerDoesNotAllocate(t *testing.T) {
	in, out := sampledIDs(64)
	st := newStaleness(3, true)
	key := object.Key{Keyspace: "default", Key: "k"}
	msgs := make([]wire.Message, 0, 2*len(in))
	for i := range in {
		msgs = append(msgs, wire.Message{Type: wire.PutReq, To: "b", ID: out[i], Key: key},
			wire.Message{Type: wire.GetReq, To: "c", ID: in[i], Key: key})
	}
	answers := make([]wire.Message, len(msgs))
	for i, m := range msgs {
		answers[i] = wire.Message{Type: m.Type + 1, From: m.To, ID: m.ID, Key: m.Key}
	}
	allocs := testing.AllocsPerRun(100, func() {
		st.sent(msgs)
		for i := range answers {
			st.received(&answers[i])
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per round", allocs)
	}
	if _, reads, _ := st.samples(); len(reads) == 0 {
		t.Error("no read round trip recorded")
	}
}

// TestStalenessFromClusterTraffic: an in-process cluster's own traffic feeds the
// prediction; the node serves all nine curves and exports them as gauges.
func TestStalenessFromClusterTraffic(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := newMemCluster(t, []string{"a", "b", "c"}, func(cfg *Config) {
		cfg.AntiEntropyInterval = 0
		if cfg.NodeID == "a" {
			cfg.Registry = reg
		}
	})
	a := c.nodes["a"]
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("k%d", i)
		if r := c.do("a", put(k, "v", core.One)); r.Err != nil {
			t.Fatal(r.Err)
		}
		if r := c.do("a", get(k, core.All)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	// 300 writes and reads to two peers each: ~37 of each exchange are timed. Answers
	// beyond the level arrive after the reply: wait for them.
	waitUntil(t, "round trips of both kinds", func() bool {
		w, r, _ := a.metrics.staleness.samples()
		return len(w) >= 10 && len(r) >= 10
	})
	rep := a.Staleness(false)
	if rep.N != 3 || len(rep.Curves) != 9 || rep.Note != "" || rep.Trials != stalenessTrials {
		t.Fatalf("prediction: %+v", rep)
	}
	for _, c := range rep.Curves {
		if len(c.Probability) != len(stalenessTMs) || (c.R+c.W > 3 && slicesMin(c.Probability) != 1) {
			t.Errorf("curve %+v", c)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gauges := 0
	for _, mf := range mfs {
		if mf.GetName() == "chorus_staleness_consistent_probability" {
			gauges = len(mf.GetMetric())
		}
		if strings.HasPrefix(mf.GetName(), "chorus_staleness_round_trips_sampled") && mf.GetMetric()[0].GetCounter().GetValue() < 10 {
			t.Errorf("%s = %v", mf.GetName(), mf.GetMetric())
		}
	}
	if gauges != 9*len(stalenessTMs) {
		t.Errorf("%d staleness gauges, want %d", gauges, 9*len(stalenessTMs))
	}
}

// BenchmarkStalenessSampler is the hot-path cost: one op hands 16 requests to the
// transport and receives their 16 answers (one exchange in 16 is timed).
func BenchmarkStalenessSampler(b *testing.B) {
	st := newStaleness(3, true)
	key := object.Key{Keyspace: "default", Key: "key:000000001234"}
	msgs := make([]wire.Message, 16)
	answers := make([]wire.Message, 16)
	b.ReportAllocs()
	id := uint64(1000)
	for b.Loop() {
		for i := range msgs {
			id++
			msgs[i] = wire.Message{Type: wire.PutReq, To: "b", ID: id, Key: key}
			answers[i] = wire.Message{Type: wire.PutResp, From: "b", ID: id, Key: key}
		}
		st.sent(msgs)
		for i := range answers {
			st.received(&answers[i])
		}
	}
}
