package node

import (
	"hash/maphash"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/wire"
)

// Latency sampling for the staleness prediction (pbs.go).
//
// WARS needs four one-way latencies: W (write request, coordinator to replica), A (its
// acknowledgement), R (read request) and S (read response). One-way latencies need
// synchronized clocks, so the node times round trips instead: one PutReq→PutResp and
// GetReq→GetResp exchange in 16 (chosen by a hash of the request id, so an unsampled
// message costs a multiplication and no allocation), from the moment the shard hands
// the request to the transport to the moment the transport delivers the answer. Each
// one-way latency is modeled as half a round trip (W = A = write round trip / 2,
// R = S = read round trip / 2). A round trip includes the replica's own work (for a
// write, its durable commit).

const (
	// warsSampleBits: one exchange in 1<<warsSampleBits is timed.
	warsSampleBits = 4
	// warsPendingSlots bounds the timed requests awaiting their answer (a power of two);
	// a request whose answer never comes is overwritten eventually.
	warsPendingSlots = 512
	// warsProbe is how many slots a request may land in (collisions).
	warsProbe = 4
	// warsRingSize is how many recent round trips of each exchange are kept.
	warsRingSize = 2048
	// stalenessCacheFor is how long a computed prediction is served.
	stalenessCacheFor = 5 * time.Second
	// stalenessTrials is the number of simulated writes per prediction.
	stalenessTrials = 20000
)

// stalenessTMs are the t values of the prediction, in milliseconds.
var stalenessTMs = []float64{0, 1, 2, 5, 10, 20, 50, 100}

// stalenessModel describes the latencies of a prediction.
const stalenessModel = "PBS WARS Monte Carlo: each one-way latency is half a sampled round trip " +
	"(W = A = write round trip / 2, R = S = read round trip / 2), drawn per replica and trial " +
	"from this node's recent coordinator-to-replica exchanges (one in 16 is timed)"

// exchange is the kind of a timed round trip.
type exchange uint8

const (
	exchangeNone exchange = iota
	exchangeWrite
	exchangeRead
)

// warsSampled reports whether the exchange with request id is timed: ids are
// sequential, so a multiplicative hash spreads the sample evenly. Id 0 (a
// fire-and-forget read repair) is never timed.
func warsSampled(id uint64) bool {
	return id != 0 && (id*0x9E3779B97F4A7C15)>>(64-warsSampleBits) == 0
}

// pendingRTT is a timed request awaiting its answer; kind is exchangeNone when the
// slot is free.
type pendingRTT struct {
	kind   exchange
	id     uint64
	peer   string
	key    object.Key
	sentNs int64
}

// rttRing keeps the most recent round trips of one exchange, in milliseconds.
type rttRing struct {
	buf   [warsRingSize]float64
	next  int
	n     int
	total uint64
}

func (r *rttRing) add(ms float64) {
	r.buf[r.next] = ms
	r.next = (r.next + 1) % len(r.buf)
	r.n = min(r.n+1, len(r.buf))
	r.total++
}

func (r *rttRing) snapshot() []float64 { return slices.Clone(r.buf[:r.n]) }

// staleness samples replica round trips and predicts staleness from them. It is a
// Prometheus collector whose gauges are computed at scrape time. Nil is a valid,
// inert staleness.
type staleness struct {
	rf        int
	fanoutAll bool // reads ask every replica (core.FanoutAll), not only R
	seed      maphash.Seed
	base      time.Time // round trips are measured on the monotonic clock from here

	mu      sync.Mutex
	pending [warsPendingSlots]pendingRTT
	rtts    [2]rttRing // writes, reads

	cacheMu  sync.Mutex
	cached   [2]api.StalenessReport // by coordinator model: remote, replicas
	cachedAt [2]time.Time
}

func newStaleness(rf int, fanoutAll bool) *staleness {
	return &staleness{rf: rf, fanoutAll: fanoutAll, seed: maphash.MakeSeed(), base: time.Now()}
}

// requestExchange returns the exchange a request type starts.
func requestExchange(t wire.Type) exchange {
	switch t {
	case wire.PutReq:
		return exchangeWrite
	case wire.GetReq:
		return exchangeRead
	}
	return exchangeNone
}

// answerExchange returns the exchange an answer type ends.
func answerExchange(t wire.Type) exchange {
	switch t {
	case wire.PutResp:
		return exchangeWrite
	case wire.GetResp:
		return exchangeRead
	}
	return exchangeNone
}

func (st *staleness) slot(id uint64, peer string, key object.Key) int {
	h := maphash.String(st.seed, peer) ^ maphash.String(st.seed, key.Key) ^ (id * 0x9E3779B97F4A7C15)
	return int(h & (warsPendingSlots - 1))
}

// sent notes the sampled requests among msgs, which a shard is handing to the
// transport.
func (st *staleness) sent(msgs []wire.Message) {
	if st == nil {
		return
	}
	locked := false
	var now int64
	for i := range msgs {
		m := &msgs[i]
		kind := requestExchange(m.Type)
		if kind == exchangeNone || !warsSampled(m.ID) {
			continue
		}
		if !locked {
			st.mu.Lock()
			locked = true
			now = int64(time.Since(st.base))
		}
		base := st.slot(m.ID, m.To, m.Key)
		use := base
		for p := range warsProbe { // a free slot, else the oldest
			i := (base + p) & (warsPendingSlots - 1)
			if st.pending[i].kind == exchangeNone {
				use = i
				break
			}
			if st.pending[i].sentNs < st.pending[use].sentNs {
				use = i
			}
		}
		st.pending[use] = pendingRTT{kind: kind, id: m.ID, peer: m.To, key: m.Key, sentNs: now}
	}
	if locked {
		st.mu.Unlock()
	}
}

// received records the round trip m ends, if its request was sampled.
func (st *staleness) received(m *wire.Message) {
	if st == nil {
		return
	}
	kind := answerExchange(m.Type)
	if kind == exchangeNone || !warsSampled(m.ID) {
		return
	}
	now := int64(time.Since(st.base))
	base := st.slot(m.ID, m.From, m.Key)
	st.mu.Lock()
	defer st.mu.Unlock()
	for p := range warsProbe {
		e := &st.pending[(base+p)&(warsPendingSlots-1)]
		if e.kind != kind || e.id != m.ID || e.peer != m.From || e.key != m.Key {
			continue
		}
		if m.Err == "" {
			st.rtts[kind-1].add(float64(now-e.sentNs) / 1e6)
		}
		*e = pendingRTT{}
		return
	}
}

// samples returns copies of the recent write and read round trips (ms) and how many
// of each were ever recorded.
func (st *staleness) samples() (writes, reads []float64, totals [2]uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.rtts[0].snapshot(), st.rtts[1].snapshot(), [2]uint64{st.rtts[0].total, st.rtts[1].total}
}

// report returns the prediction of a coordinator model, computed at most once per
// stalenessCacheFor.
func (st *staleness) report(replicaCoordinators bool) api.StalenessReport {
	if st == nil {
		return computeStaleness(1, nil, nil, stalenessTMs, stalenessTrials, replicaCoordinators, false)
	}
	m := 0
	if replicaCoordinators {
		m = 1
	}
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if !st.cachedAt[m].IsZero() && time.Since(st.cachedAt[m]) < stalenessCacheFor {
		return st.cached[m]
	}
	writes, reads, _ := st.samples()
	st.cached[m] = computeStaleness(st.rf, writes, reads, stalenessTMs, stalenessTrials, replicaCoordinators, st.fanoutAll)
	st.cachedAt[m] = time.Now()
	return st.cached[m]
}

// computeStaleness predicts the t-visibility curves of every (R, W) for n replicas
// from round trips (ms). Without samples of both exchanges it answers only the strict
// quorums (R+W>N), which are consistent whatever the latencies. With
// replicaCoordinators, replica 0 is the write's coordinator (W = A = 0) and replica 1
// the read's (R = S = 0; with n = 1 both are replica 0). With fanoutAll a read asks
// every replica and takes the first R answers; otherwise it asks R replicas (the
// read's coordinator first when it is a replica), as --read-fanout says.
func computeStaleness(n int, writes, reads, tMs []float64, trials int, replicaCoordinators, fanoutAll bool) api.StalenessReport {
	n = max(n, 1)
	rep := api.StalenessReport{
		N: n, Coordinators: api.CoordinatorsRemote, Samples: api.StalenessSamples{Writes: len(writes), Reads: len(reads)},
		TMs: tMs, Curves: []api.StalenessCurve{}, Latency: map[string]api.LatencyQuantiles{},
		Model: stalenessModel, ComputedAt: time.Now().UTC(),
	}
	if replicaCoordinators {
		rep.Coordinators = api.CoordinatorsReplicas
		rep.Model += "; the write's coordinator is replica 1 (W = A = 0) and the read's replica 2 (R = S = 0)"
	}
	if fanoutAll {
		rep.Model += "; a read asks all N replicas and returns the first R answers (read fan-out all)"
	} else {
		rep.Model += "; a read asks R replicas, its coordinator's own copy first, and waits for them (read fan-out level)"
	}
	if len(writes) > 0 {
		q := halfQuantiles(writes)
		rep.Latency["w"], rep.Latency["a"] = q, q
	}
	if len(reads) > 0 {
		q := halfQuantiles(reads)
		rep.Latency["r"], rep.Latency["s"] = q, q
	}
	if len(writes) == 0 || len(reads) == 0 {
		rep.Note = "no replica round trips sampled yet (this node has coordinated too few writes and reads to peers): only the strict quorums (R+W>N), consistent whatever the latencies, are shown"
		for r := 1; r <= n; r++ {
			for w := n + 1 - r; w <= n; w++ {
				ones := make([]float64, len(tMs))
				for i := range ones {
					ones[i] = 1
				}
				rep.Curves = append(rep.Curves, api.StalenessCurve{R: r, W: w, Probability: ones})
			}
		}
		return rep
	}
	rep.Trials = trials
	reader := min(1, n-1)
	draw := func(rng *rand.Rand, i int) (w, a, r, s float64) {
		wr := writes[rng.IntN(len(writes))] / 2
		rr := reads[rng.IntN(len(reads))] / 2
		if replicaCoordinators && i == 0 {
			wr = 0
		}
		if replicaCoordinators && i == reader {
			rr = 0
		}
		return wr, wr, rr, rr
	}
	plan := readPlan{all: fanoutAll, first: -1}
	if replicaCoordinators {
		plan.first = reader
	}
	p := predictWARS(n, draw, tMs, trials, rand.New(rand.NewPCG(uint64(len(writes)), uint64(len(reads)))), plan)
	for r := 1; r <= n; r++ {
		for w := 1; w <= n; w++ {
			probs := p[r-1][w-1]
			for i := range probs {
				probs[i] = math.Round(probs[i]*1e4) / 1e4
			}
			rep.Curves = append(rep.Curves, api.StalenessCurve{R: r, W: w, Probability: probs})
		}
	}
	return rep
}

// halfQuantiles returns the quantiles of half the round trips rtts (ms).
func halfQuantiles(rtts []float64) api.LatencyQuantiles {
	s := slices.Clone(rtts)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return round3(s[min(max(i, 0), len(s)-1)] / 2)
	}
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return api.LatencyQuantiles{
		P50: at(0.5), P90: at(0.9), P99: at(0.99), P999: at(0.999),
		Mean: round3(sum / float64(len(s)) / 2), Max: round3(s[len(s)-1] / 2),
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// The metrics of the prediction, computed at scrape time.
var (
	stalenessProbDesc = prometheus.NewDesc("chorus_staleness_consistent_probability",
		"Predicted probability (PBS WARS model, from sampled replica round trips; see GET /v1/staleness) that a read at level r started t_ms milliseconds after a write at level w was acknowledged returns that write.",
		[]string{"r", "w", "t_ms"}, nil)
	stalenessLatencyDesc = prometheus.NewDesc("chorus_staleness_latency_seconds",
		"Quantiles of the one-way latencies the staleness prediction uses: w (write request), a (write acknowledgement), r (read request), s (read response), each half a sampled round trip.",
		[]string{"component", "quantile"}, nil)
	stalenessSampledDesc = prometheus.NewDesc("chorus_staleness_round_trips_sampled_total",
		"Coordinator-to-replica round trips timed for the staleness prediction (one exchange in 16), by exchange: write (PutReq) or read (GetReq).",
		[]string{"exchange"}, nil)
)

// Describe implements prometheus.Collector.
func (st *staleness) Describe(ch chan<- *prometheus.Desc) {
	ch <- stalenessProbDesc
	ch <- stalenessLatencyDesc
	ch <- stalenessSampledDesc
}

// Collect implements prometheus.Collector: the (cached) prediction as gauges.
func (st *staleness) Collect(ch chan<- prometheus.Metric) {
	rep := st.report(false)
	for _, c := range rep.Curves {
		r, w := strconv.Itoa(c.R), strconv.Itoa(c.W)
		for i, t := range rep.TMs {
			ch <- prometheus.MustNewConstMetric(stalenessProbDesc, prometheus.GaugeValue, c.Probability[i],
				r, w, strconv.FormatFloat(t, 'g', -1, 64))
		}
	}
	for _, comp := range []string{"w", "a", "r", "s"} {
		q, ok := rep.Latency[comp]
		if !ok { // not measured yet
			nan := math.NaN()
			q = api.LatencyQuantiles{P50: nan, P90: nan, P99: nan, P999: nan}
		}
		for _, v := range []struct {
			label string
			ms    float64
		}{{"0.5", q.P50}, {"0.9", q.P90}, {"0.99", q.P99}, {"0.999", q.P999}} {
			ch <- prometheus.MustNewConstMetric(stalenessLatencyDesc, prometheus.GaugeValue, v.ms/1000, comp, v.label)
		}
	}
	_, _, totals := st.samples()
	ch <- prometheus.MustNewConstMetric(stalenessSampledDesc, prometheus.CounterValue, float64(totals[0]), "write")
	ch <- prometheus.MustNewConstMetric(stalenessSampledDesc, prometheus.CounterValue, float64(totals[1]), "read")
}

var _ api.StalenessPredictor = (*Node)(nil)

// Staleness returns the predicted t-visibility curves of every read and write level
// (GET /v1/staleness), computed from this node's sampled replica round trips at most
// once every few seconds; replicaCoordinators models the coordinators as replicas
// (api.CoordinatorsReplicas).
func (n *Node) Staleness(replicaCoordinators bool) api.StalenessReport {
	return n.metrics.staleness.report(replicaCoordinators)
}
