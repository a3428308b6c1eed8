package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
)

// `chorus bench --staleness`: the t-visibility curve of Probabilistically Bounded
// Staleness (Bailis et al., VLDB 2012), measured from outside. Each trial writes a
// fresh key at level W through one node, waits t ms after the acknowledgement, then
// reads the key at level R through another node; the read is consistent if it returns
// the value written. The node's own prediction (GET /v1/staleness) is shown beside.

// stalenessNode is a live member the trials write or read through.
type stalenessNode struct {
	id, resp, http string
	rdb            *redis.Client
}

// stalenessPoint is the outcome of the trials at one t.
type stalenessPoint struct {
	TMs        float64 `json:"t_ms"`
	Trials     int64   `json:"trials"`
	Consistent int64   `json:"consistent"`
	Stale      int64   `json:"stale"`
	Errors     int64   `json:"errors"`
	// Probability is Consistent / (Consistent + Stale): trials that failed do not count.
	Probability float64 `json:"p_consistent"`
	// MeanDelayMs is the mean time from the write's acknowledgement (at the client) to
	// the read's start: t plus the client's scheduling delay.
	MeanDelayMs float64 `json:"mean_delay_ms"`
	// Predicted is the node's prediction for this t (absent if it has none), with
	// every replica remote (the paper's WARS model); PredictedReplicas with the
	// coordinators modeled as replicas (GET /v1/staleness?coordinators=replicas).
	Predicted         *float64 `json:"predicted,omitempty"`
	PredictedReplicas *float64 `json:"predicted_replica_coordinators,omitempty"`

	delaySum time.Duration
}

// stalenessPrediction is what GET /v1/staleness said, for the run's R and W.
type stalenessPrediction struct {
	Node         string                          `json:"node"`
	Coordinators string                          `json:"coordinators"`
	Samples      api.StalenessSamples            `json:"samples"`
	Trials       int                             `json:"trials"`
	TMs          []float64                       `json:"t_ms"`
	Probability  []float64                       `json:"p_consistent,omitempty"`
	Latency      map[string]api.LatencyQuantiles `json:"latency_ms,omitempty"`
	Note         string                          `json:"note,omitempty"`
}

// stalenessReport is the outcome of `chorus bench --staleness`; its JSON form is the
// --json output.
type stalenessReport struct {
	Config       *benchConfig         `json:"config"`
	N            int                  `json:"n"`
	R            int                  `json:"r"`
	W            int                  `json:"w"`
	Nodes        []string             `json:"nodes"`
	Pairs        int                  `json:"pairs"`
	Elapsed      float64              `json:"elapsed_seconds"`
	Points       []*stalenessPoint    `json:"points"`
	Errors       map[string]int64     `json:"errors"`
	ErrorSamples []string             `json:"error_samples,omitempty"`
	Write        latencyReport        `json:"write_latency_ms"`
	Read         latencyReport        `json:"read_latency_ms"`
	Predicted    *stalenessPrediction `json:"predicted,omitempty"`
	// PredictedReplicas is the prediction with the coordinators modeled as replicas.
	PredictedReplicas *stalenessPrediction `json:"predicted_replica_coordinators,omitempty"`
	// PredictionError says why there is no prediction (the node has no such route).
	PredictionError string `json:"prediction_error,omitempty"`
}

// stalenessRun is the state the trial workers share.
type stalenessRun struct {
	cfg    *benchConfig
	nodes  []*stalenessNode
	pairs  [][2]int // (writer, reader) indexes into nodes
	jobs   []int    // t index of each trial, shuffled
	next   atomic.Int64
	done   atomic.Int64
	prefix string

	mu      sync.Mutex
	points  []*stalenessPoint
	errors  map[string]int64
	samples []string
	writes  *opStats
	reads   *opStats
}

func runStaleness(ctx context.Context, cfg *benchConfig, progress io.Writer) (*stalenessReport, error) {
	redis.SetLogger(quietLogger{})
	view, err := fetchCluster(cfg.Addr)
	if err != nil {
		return nil, err
	}
	if cfg.Resolution, err = keyspaceResolution(cfg.Addr, cfg.Keyspace); err != nil {
		return nil, err
	}
	readLevel, err1 := core.ParseLevel(cfg.ReadLevel)
	writeLevel, err2 := core.ParseLevel(cfg.WriteLevel)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	n := max(view.ReplicationFactor, 1)
	run := &stalenessRun{cfg: cfg, errors: map[string]int64{}, writes: newOpStats(), reads: newOpStats(),
		prefix: "staleness:" + strconv.FormatInt(cfg.Seed, 36) + ":"}
	for _, m := range view.Members {
		if m.Status != "alive" || m.Addrs.RESP == "" {
			continue
		}
		run.nodes = append(run.nodes, &stalenessNode{id: m.ID, resp: m.Addrs.RESP, http: m.Addrs.HTTP,
			rdb: benchRedis(m.Addrs.RESP, cfg)})
	}
	defer func() {
		for _, nd := range run.nodes {
			nd.rdb.Close()
		}
	}()
	if len(run.nodes) < 2 {
		return nil, fmt.Errorf("--staleness writes through one node and reads through another: %s lists %d live node(s)", cfg.Addr, len(run.nodes))
	}
	sort.Slice(run.nodes, func(i, j int) bool { return run.nodes[i].id < run.nodes[j].id })
	for w := range run.nodes {
		for r := range run.nodes {
			if w != r {
				run.pairs = append(run.pairs, [2]int{w, r})
			}
		}
	}
	for _, t := range cfg.TMs {
		run.points = append(run.points, &stalenessPoint{TMs: t})
	}
	for ti := range cfg.TMs {
		for range cfg.Trials {
			run.jobs = append(run.jobs, ti)
		}
	}
	rng := rand.New(rand.NewSource(cfg.Seed))
	rng.Shuffle(len(run.jobs), func(i, j int) { run.jobs[i], run.jobs[j] = run.jobs[j], run.jobs[i] })

	start := time.Now()
	stopProgress := run.showProgress(progress, start)
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.loop(ctx)
		}()
	}
	wg.Wait()
	stopProgress()
	elapsed := time.Since(start)

	rep := &stalenessReport{
		Config: cfg, N: n, R: readLevel.Required(n), W: writeLevel.Required(n), Pairs: len(run.pairs),
		Elapsed: elapsed.Seconds(), Points: run.points, Errors: errorKinds(run.errors), ErrorSamples: run.samples,
		Write: newLatencyReport(run.writes.latency), Read: newLatencyReport(run.reads.latency),
	}
	for _, nd := range run.nodes {
		rep.Nodes = append(rep.Nodes, nd.id)
	}
	for _, p := range run.points {
		if seen := p.Consistent + p.Stale; seen > 0 {
			p.Probability = float64(p.Consistent) / float64(seen)
			p.MeanDelayMs = float64(p.delaySum.Microseconds()) / float64(seen) / 1000
		}
	}
	rep.Predicted, err = fetchPrediction(cfg.Addr, view.Node, api.CoordinatorsRemote, rep.R, rep.W)
	if err == nil {
		rep.PredictedReplicas, err = fetchPrediction(cfg.Addr, view.Node, api.CoordinatorsReplicas, rep.R, rep.W)
	}
	if err != nil {
		rep.PredictionError = err.Error()
		rep.Predicted, rep.PredictedReplicas = nil, nil
	} else {
		for _, p := range rep.Points {
			p.Predicted = rep.Predicted.at(p.TMs)
			p.PredictedReplicas = rep.PredictedReplicas.at(p.TMs)
		}
	}
	return rep, ctx.Err()
}

// at returns the predicted probability at t, or nil.
func (p *stalenessPrediction) at(t float64) *float64 {
	for i, pt := range p.TMs {
		if pt == t && i < len(p.Probability) {
			v := p.Probability[i]
			return &v
		}
	}
	return nil
}

// loop runs trials until none is left or ctx is done.
func (r *stalenessRun) loop(ctx context.Context) {
	for ctx.Err() == nil {
		j := int(r.next.Add(1) - 1)
		if j >= len(r.jobs) {
			return
		}
		r.trial(ctx, j)
		r.done.Add(1)
	}
}

// trial j: write a fresh key through the pair's writer, wait t after the
// acknowledgement, read it through the pair's reader.
func (r *stalenessRun) trial(ctx context.Context, j int) {
	ti := r.jobs[j]
	t := time.Duration(r.cfg.TMs[ti] * float64(time.Millisecond))
	pair := r.pairs[j%len(r.pairs)]
	writer, reader := r.nodes[pair[0]], r.nodes[pair[1]]
	key := r.prefix + strconv.Itoa(j)
	value := key + "@" + writer.id

	begin := time.Now()
	err := writer.rdb.Set(ctx, key, value, 0).Err()
	acked := time.Now()
	if err != nil {
		r.record(ti, 0, false, err, true, acked.Sub(begin))
		return
	}
	r.recordLatency(r.writes, acked.Sub(begin))
	if wait := time.Until(acked.Add(t)); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
	readAt := time.Now()
	consistent, err := r.read(ctx, reader, key, value)
	r.record(ti, readAt.Sub(acked), consistent, err, false, time.Since(readAt))
}

// read reads key through nd and reports whether it returned value (in a siblings
// keyspace: among its siblings).
func (r *stalenessRun) read(ctx context.Context, nd *stalenessNode, key, value string) (bool, error) {
	if r.cfg.Resolution == "siblings" {
		vals, err := nd.rdb.Do(ctx, "GETSIBLINGS", key).StringSlice()
		if err != nil {
			return false, err
		}
		for _, v := range vals[min(1, len(vals)):] { // the context comes first
			if v == value {
				return true, nil
			}
		}
		return false, nil
	}
	v, err := nd.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil // not there yet: stale
	}
	return v == value, err
}

func (r *stalenessRun) recordLatency(s *opStats, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.latency.RecordValue(min(max(d.Microseconds(), histMinMicros), histMaxMicros))
}

// record adds a trial's outcome at t index ti; d is the failed write's or the read's
// latency.
func (r *stalenessRun) record(ti int, delay time.Duration, consistent bool, err error, writeFailed bool, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.points[ti]
	p.Trials++
	switch {
	case err != nil:
		p.Errors++
		r.errors[errKind(err)]++
		msg := err.Error()
		if writeFailed {
			msg = "write: " + msg
		} else {
			msg = "read: " + msg
		}
		if len(r.samples) < maxErrorSamples && !contains(r.samples, msg) {
			r.samples = append(r.samples, msg)
		}
		return
	case consistent:
		p.Consistent++
	default:
		p.Stale++
	}
	p.delaySum += delay
	r.reads.latency.RecordValue(min(max(d.Microseconds(), histMinMicros), histMaxMicros))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// showProgress prints the trials done every second until stop is called.
func (r *stalenessRun) showProgress(w io.Writer, start time.Time) (stop func()) {
	if r.cfg.quiet {
		return func() {}
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				fmt.Fprintf(w, "%6.1fs  %d of %d trials\n", now.Sub(start).Seconds(), r.done.Load(), len(r.jobs))
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// fetchPrediction asks the node at httpAddr (id node) for its prediction with a
// coordinator model and keeps the curve of (r, w).
func fetchPrediction(httpAddr, node, coordinators string, r, w int) (*stalenessPrediction, error) {
	status, body, err := call(http.MethodGet, "http://"+httpAddr+"/v1/staleness?coordinators="+coordinators, nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("%s has no GET /v1/staleness (HTTP %d)", httpAddr, status)
	}
	var rep api.StalenessReport
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("bad answer from %s/v1/staleness: %w", httpAddr, err)
	}
	out := &stalenessPrediction{Node: node, Coordinators: rep.Coordinators, Samples: rep.Samples, Trials: rep.Trials, TMs: rep.TMs, Latency: rep.Latency, Note: rep.Note}
	for _, c := range rep.Curves {
		if c.R == r && c.W == w {
			out.Probability = c.Probability
		}
	}
	return out, nil
}

// print writes the report as a table.
func (rep *stalenessReport) print(w io.Writer) {
	c := rep.Config
	fmt.Fprintf(w, "staleness: write at %s (W=%d) through one node, read at %s (R=%d) through another; N=%d, %d nodes (%d writer→reader pairs), keyspace %s, %d trials per t, %d at a time\n",
		c.WriteLevel, rep.W, c.ReadLevel, rep.R, rep.N, len(rep.Nodes), rep.Pairs, c.Keyspace, c.Trials, c.Clients)
	fmt.Fprintf(w, "write latency p50 %.3f ms p99 %.3f ms; read latency p50 %.3f ms p99 %.3f ms; %.1fs\n\n",
		rep.Write.P50, rep.Write.P99, rep.Read.P50, rep.Read.P99, rep.Elapsed)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "t ms\ttrials\tconsistent\tstale\terrors\tP(consistent)\tpredicted\tpredicted (replica coordinators)\tmean delay ms\t")
	for _, p := range rep.Points {
		fmt.Fprintf(tw, "%g\t%d\t%d\t%d\t%d\t%.3f\t%s\t%s\t%.3f\t\n", p.TMs, p.Trials, p.Consistent, p.Stale, p.Errors, p.Probability,
			optProb(p.Predicted), optProb(p.PredictedReplicas), p.MeanDelayMs)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nerrors: unavailable %d, timeout %d, other %d\n",
		rep.Errors[errUnavailable], rep.Errors[errTimeout], rep.Errors[errOther])
	for _, s := range rep.ErrorSamples {
		fmt.Fprintf(w, "  e.g. %s\n", s)
	}
	switch p := rep.Predicted; {
	case p == nil:
		fmt.Fprintf(w, "no prediction: %s\n", rep.PredictionError)
	case p.Probability == nil:
		fmt.Fprintf(w, "no prediction for R=%d W=%d from %s yet: %s\n", rep.R, rep.W, p.Node, p.Note)
	default:
		fmt.Fprintf(w, "predicted by %s (GET /v1/staleness, PBS WARS model, every replica remote / the coordinators replicas) from %d write and %d read round trips\n",
			p.Node, p.Samples.Writes, p.Samples.Reads)
	}
}

func optProb(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *p)
}
