package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/spf13/cobra"

	"github.com/chorusdb/chorus/client"
	"github.com/chorusdb/chorus/internal/api"
)

// benchConfig is what `chorus bench` was asked to do; it is echoed in the JSON report.
type benchConfig struct {
	Addr       string  `json:"addr"`
	RESPAddr   string  `json:"resp_addr,omitempty"`
	TokenAware bool    `json:"token_aware"`
	Clients    int     `json:"clients"`
	Requests   int64   `json:"requests,omitempty"`
	Duration   float64 `json:"duration_seconds,omitempty"`
	Ratio      string  `json:"ratio"`
	Keys       int64   `json:"keys"`
	Dist       string  `json:"dist"`
	ZipfS      float64 `json:"zipf_s,omitempty"`
	ValueSize  int     `json:"value_size"`
	ReadLevel  string  `json:"read_level"`
	WriteLevel string  `json:"write_level"`
	Keyspace   string  `json:"keyspace"`
	Kind       string  `json:"kind"`
	// Resolution is the keyspace's, as GET /v1/keyspaces reports it ("" if unknown).
	Resolution string `json:"resolution,omitempty"`
	Pipeline   int    `json:"pipeline"`
	Seed       int64  `json:"seed"`
	// Staleness mode (--staleness): the t values and trials per t.
	Staleness bool      `json:"staleness,omitempty"`
	TMs       []float64 `json:"t_ms,omitempty"`
	Trials    int       `json:"trials_per_t,omitempty"`

	duration      time.Duration
	reads, writes int // the ratio's parts
	tList         string
	json, quiet   bool
}

// The kinds of value --kind benchmarks.
const (
	kindRegister = "register"
	kindCounter  = "counter"
	kindSet      = "set"
)

func benchCmd() *cobra.Command {
	cfg := &benchConfig{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a cluster with reads and writes and report throughput, latency percentiles and errors; or measure staleness",
		Long: `bench drives a cluster the way redis-benchmark or cassandra-stress do: --clients
concurrent clients send GETs and SETs (in the --ratio read:write) of --value-size-byte
values to --keys keys chosen --dist uniform or zipf, for --requests operations or for
--duration. By default it is token-aware (each request goes straight to a replica of
its key, via the Go client); --resp-addr sends everything to one node instead, as
redis-benchmark does, and --token-aware=false to the node at --addr.

It reports operations per second, HDR-histogram latency percentiles per operation
(p50, p90, p99, p99.9, max; with --pipeline N, the latency of each operation is that
of its batch) and errors by kind (unavailable, timeout, other). A GET of a key never
written is a miss, not an error. Progress goes to stderr; --json prints the report
as JSON for scripts.

--kind picks what the keys hold: register (GET and SET, the default), counter (INCR;
reads go over HTTP, GET /v1/crdt/KEYSPACE/KEY, as RESP has no counter read) or set
(SADD key member:N with N < 16, and SMEMBERS). In a keyspace created with
resolution siblings, register reads use GETSIBLINGS and may return several values;
the report counts the values reads returned (siblings, set members). Each client
writes its own value, so a key holds at most --clients siblings.

--staleness measures the t-visibility of Probabilistically Bounded Staleness instead:
each trial writes a fresh key at --write-level through one node, waits t ms after
the acknowledgement and reads it at --read-level through another node (both learned
from /v1/cluster; trials rotate over every ordered pair of live nodes), and the
report gives, for each t of --t-ms, the share of reads that returned the value
written, next to the node's own prediction (GET /v1/staleness) when it has one.
--trials trials run per t, --clients at a time (default 4 here).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.finish(cmd); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var rep interface{ print(io.Writer) }
			var err error
			if cfg.Staleness {
				rep, err = runStaleness(ctx, cfg, cmd.ErrOrStderr())
			} else {
				rep, err = runBench(ctx, cfg, cmd.ErrOrStderr())
			}
			if err != nil {
				return err
			}
			if cfg.json {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			rep.print(cmd.OutOrStdout())
			return nil
		},
	}
	addr := os.Getenv("CHORUS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:7380"
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", addr, "HTTP address of a node to learn the cluster from (env CHORUS_ADDR)")
	f.BoolVar(&cfg.TokenAware, "token-aware", true, "send each request to a replica of its key (false: to the node at --addr)")
	f.StringVar(&cfg.RESPAddr, "resp-addr", "", "send every request to this RESP address instead (not token-aware)")
	f.IntVar(&cfg.Clients, "clients", 50, "concurrent clients, each with one request (or pipeline) in flight")
	f.Int64Var(&cfg.Requests, "requests", 100000, "operations to send in all (ignored with --duration)")
	f.DurationVar(&cfg.duration, "duration", 0, "run for this long instead of a number of requests (e.g. 30s)")
	f.StringVar(&cfg.Ratio, "ratio", "1:1", "reads:writes, e.g. 1:1, 9:1, 0:1 (writes only)")
	f.Int64Var(&cfg.Keys, "keys", 100000, "size of the key space: keys key:000000000000 … key:<keys-1>")
	f.StringVar(&cfg.Dist, "dist", "uniform", "key distribution: uniform or zipf")
	f.Float64Var(&cfg.ZipfS, "zipf-s", 1.1, "exponent of the zipf distribution (> 1; larger is more skewed)")
	f.IntVar(&cfg.ValueSize, "value-size", 100, "bytes per written value")
	f.StringVar(&cfg.ReadLevel, "read-level", "QUORUM", "read consistency level")
	f.StringVar(&cfg.WriteLevel, "write-level", "QUORUM", "write consistency level")
	f.StringVar(&cfg.Keyspace, "keyspace", "default", "keyspace")
	f.StringVar(&cfg.Kind, "kind", kindRegister, "what keys hold: register (GET/SET), counter (INCR; reads over HTTP) or set (SADD/SMEMBERS)")
	f.BoolVar(&cfg.Staleness, "staleness", false, "measure P(a read t ms after a write's acknowledgement returns it) instead of throughput")
	f.StringVar(&cfg.tList, "t-ms", "0,1,2,5,10,20,50,100", "--staleness: the delays t between the write's acknowledgement and the read, in ms")
	f.IntVar(&cfg.Trials, "trials", 100, "--staleness: trials per t")
	f.IntVar(&cfg.Pipeline, "pipeline", 1, "operations per client per round trip")
	f.Int64Var(&cfg.Seed, "seed", 0, "seed of the key and operation choices (0: from the clock; the report shows it)")
	f.BoolVar(&cfg.json, "json", false, "print the report as JSON")
	f.BoolVar(&cfg.quiet, "quiet", false, "no progress line on stderr")
	return cmd
}

// finish checks the flags and derives the fields they imply; it reports every
// problem at once.
func (c *benchConfig) finish(cmd *cobra.Command) error {
	var errs []error
	if c.RESPAddr != "" && cmd.Flags().Changed("token-aware") && c.TokenAware {
		errs = append(errs, errors.New("--resp-addr sends to one node: it cannot be --token-aware"))
	}
	if c.RESPAddr != "" {
		c.TokenAware = false
	}
	if c.Staleness && !cmd.Flags().Changed("clients") {
		c.Clients = 4
	}
	c.Duration = c.duration.Seconds()
	if c.duration > 0 {
		c.Requests = 0
	}
	r, w, ok := parseRatio(c.Ratio)
	c.reads, c.writes = r, w
	c.ReadLevel, c.WriteLevel = strings.ToUpper(c.ReadLevel), strings.ToUpper(c.WriteLevel)
	opts := client.Options{Seeds: []string{c.Addr}, ReadLevel: c.ReadLevel, WriteLevel: c.WriteLevel}
	for _, check := range []struct {
		bad bool
		msg string
	}{
		{c.Clients < 1, "--clients must be at least 1"},
		{c.duration < 0, "--duration must not be negative"},
		{c.duration == 0 && c.Requests < 1, "--requests must be at least 1 (or give --duration)"},
		{!ok, fmt.Sprintf("--ratio %q is not reads:writes with two non-negative integers, not both 0", c.Ratio)},
		{c.Keys < 1, "--keys must be at least 1"},
		{c.Dist != "uniform" && c.Dist != "zipf", fmt.Sprintf("--dist %q is not uniform or zipf", c.Dist)},
		{c.Dist == "zipf" && !(c.ZipfS > 1), "--zipf-s must be greater than 1"},
		{c.ValueSize < 0, "--value-size must not be negative"},
		{c.Pipeline < 1, "--pipeline must be at least 1"},
		{c.Kind != kindRegister && c.Kind != kindCounter && c.Kind != kindSet, fmt.Sprintf("--kind %q is not register, counter or set", c.Kind)},
		{c.Staleness && c.Kind != kindRegister, "--staleness measures registers: it cannot take --kind " + c.Kind},
		{c.Staleness && c.Trials < 1, "--trials must be at least 1"},
	} {
		if check.bad {
			errs = append(errs, errors.New(check.msg))
		}
	}
	if err := opts.EnsureDefaults().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Staleness {
		ts, err := parseTList(c.tList)
		if err != nil {
			errs = append(errs, err)
		}
		c.TMs = ts
		c.Requests, c.Duration, c.Ratio = 0, 0, ""
	} else {
		c.Trials = 0
	}
	if c.Dist != "zipf" {
		c.ZipfS = 0
	}
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano()
	}
	return errors.Join(errs...)
}

func parseRatio(s string) (reads, writes int, ok bool) {
	a, b, found := strings.Cut(s, ":")
	r, err1 := strconv.Atoi(strings.TrimSpace(a))
	w, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !found || err1 != nil || err2 != nil || r < 0 || w < 0 || r+w == 0 {
		return 0, 0, false
	}
	return r, w, true
}

// benchOp is one operation of a batch.
type benchOp struct {
	write bool
	key   string
	value []byte
	// args is the command when the op is not a plain GET or SET (counters, sets,
	// GETSIBLINGS); viaHTTP marks a counter read, which goes over HTTP.
	args    []any
	viaHTTP bool
	hit     bool // a read found a value
	values  int  // values a read returned (siblings, set members; 1 for a plain hit)
	err     error
}

// benchTarget sends batches of operations: one request, or a pipeline of them. It is
// safe for concurrent use.
type benchTarget interface {
	// send runs ops and sets each one's hit and err.
	send(ctx context.Context, ops []benchOp)
	// describe says where the requests go.
	describe() string
	close()
}

// newTarget connects as cfg says: token-aware through the Go client, or to one node.
func newTarget(ctx context.Context, cfg *benchConfig) (benchTarget, error) {
	if cfg.TokenAware {
		c, err := client.New(ctx, client.Options{
			Seeds: []string{cfg.Addr}, Keyspace: cfg.Keyspace,
			ReadLevel: cfg.ReadLevel, WriteLevel: cfg.WriteLevel, PoolSize: cfg.Clients,
		})
		if err != nil {
			return nil, err
		}
		t := &clientTarget{c: c}
		if cfg.Kind == kindCounter {
			t.counters = newCounterReader(cfg, t.httpAddrOf)
		}
		return t, nil
	}
	addr := cfg.RESPAddr
	if addr == "" {
		a, err := respAddrOf(cfg.Addr)
		if err != nil {
			return nil, err
		}
		addr = a
	}
	t := newNodeTarget(addr, cfg)
	if cfg.Kind == kindCounter {
		httpAddr := cfg.Addr
		if cfg.RESPAddr != "" {
			var err error
			if httpAddr, err = httpAddrOf(cfg.Addr, cfg.RESPAddr); err != nil {
				t.close()
				return nil, err
			}
		}
		t.counters = newCounterReader(cfg, func(string) string { return httpAddr })
	}
	return t, nil
}

// respAddrOf returns the RESP address of the node whose HTTP address is httpAddr.
func respAddrOf(httpAddr string) (string, error) {
	_, body, err := call(http.MethodGet, "http://"+httpAddr+"/v1/cluster", nil)
	if err != nil {
		return "", err
	}
	var v api.ClusterView
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("bad answer from %s: %w", httpAddr, err)
	}
	for _, m := range v.Members {
		if m.ID == v.Node && m.Addrs.RESP != "" {
			return m.Addrs.RESP, nil
		}
	}
	return "", fmt.Errorf("%s does not list its own RESP address", httpAddr)
}

// clientTarget is token-aware: the Go client routes each key to a replica.
type clientTarget struct {
	c        *client.Client
	counters *counterReader // counter reads (--kind counter)

	addrsMu sync.Mutex
	addrs   map[string]string // member id → HTTP address
}

func (t *clientTarget) describe() string {
	return fmt.Sprintf("token-aware (%d nodes)", len(t.c.Members()))
}

func (t *clientTarget) close() { t.c.Close() }

func (t *clientTarget) send(ctx context.Context, ops []benchOp) {
	if len(ops) == 1 {
		op := &ops[0]
		switch {
		case op.viaHTTP:
			t.counters.read(ctx, op)
			return
		case op.args != nil:
			v, err := t.c.Do(ctx, op.key, op.args...)
			settleReply(op, v, err, client.ErrNotFound)
			return
		}
		if op.write {
			op.err = t.c.Set(ctx, op.key, op.value, 0)
			return
		}
		_, op.err = t.c.Get(ctx, op.key)
		op.hit, op.err = settleGet(op.err, client.ErrNotFound)
		op.values = hitValues(op.hit)
		return
	}
	p := t.c.Pipeline()
	gets := make([]*client.GetResult, len(ops))
	sets := make([]*client.SetResult, len(ops))
	dos := make([]*client.DoResult, len(ops))
	for i, op := range ops {
		switch {
		case op.viaHTTP:
			continue
		case op.args != nil:
			dos[i] = p.Do(op.key, op.args...)
			continue
		}
		if op.write {
			sets[i] = p.Set(op.key, op.value, 0)
		} else {
			gets[i] = p.Get(op.key)
		}
	}
	_ = p.Exec(ctx) // each result holds its error
	for i := range ops {
		switch {
		case ops[i].viaHTTP:
			t.counters.read(ctx, &ops[i])
		case dos[i] != nil:
			v, err := dos[i].Result()
			settleReply(&ops[i], v, err, client.ErrNotFound)
		case ops[i].write:
			ops[i].err = sets[i].Err()
		default:
			_, err := gets[i].Result()
			ops[i].hit, ops[i].err = settleGet(err, client.ErrNotFound)
			ops[i].values = hitValues(ops[i].hit)
		}
	}
}

// httpAddrOf returns the HTTP address of the node the client would send key to.
func (t *clientTarget) httpAddrOf(key string) string {
	id := t.c.Coordinator(key)
	t.addrsMu.Lock()
	defer t.addrsMu.Unlock()
	if _, ok := t.addrs[id]; !ok {
		t.addrs = map[string]string{}
		for _, m := range t.c.Members() {
			t.addrs[m.ID] = m.HTTPAddr
		}
	}
	return t.addrs[id]
}

// settleGet turns a read's error into (found, error): a miss is not an error.
func settleGet(err, notFound error) (bool, error) {
	if errors.Is(err, notFound) {
		return false, nil
	}
	return err == nil, err
}

// nodeTarget sends everything to one node's RESP address, as redis-benchmark does.
type nodeTarget struct {
	addr     string
	rdb      *redis.Client
	counters *counterReader // counter reads (--kind counter), to the node's HTTP address
}

func newNodeTarget(addr string, cfg *benchConfig) *nodeTarget {
	return &nodeTarget{addr: addr, rdb: benchRedis(addr, cfg)}
}

// benchRedis connects to one node's RESP address with the run's levels and keyspace
// set on every connection.
func benchRedis(addr string, cfg *benchConfig) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                     addr,
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		PoolSize:                 cfg.Clients,
		PipelinePoolSize:         cfg.Clients,
		MaxRetries:               -1,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			_, err := cn.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Do(ctx, "CONSISTENCY", "READ", cfg.ReadLevel)
				p.Do(ctx, "CONSISTENCY", "WRITE", cfg.WriteLevel)
				p.Do(ctx, "KEYSPACE", cfg.Keyspace)
				return nil
			})
			return err
		},
	})
}

func (t *nodeTarget) describe() string { return "one node (" + t.addr + ")" }

func (t *nodeTarget) close() { t.rdb.Close() }

func (t *nodeTarget) send(ctx context.Context, ops []benchOp) {
	if len(ops) == 1 {
		op := &ops[0]
		switch {
		case op.viaHTTP:
			t.counters.read(ctx, op)
		case op.args != nil:
			v, err := t.rdb.Do(ctx, op.args...).Result()
			settleReply(op, v, err, redis.Nil)
		case op.write:
			op.err = t.rdb.Set(ctx, op.key, op.value, 0).Err()
		default:
			op.hit, op.err = settleGet(t.rdb.Get(ctx, op.key).Err(), redis.Nil)
			op.values = hitValues(op.hit)
		}
		return
	}
	cmds := make([]redis.Cmder, len(ops))
	pipe := t.rdb.Pipeline()
	for i, op := range ops {
		switch {
		case op.viaHTTP:
			continue
		case op.args != nil:
			cmds[i] = pipe.Do(ctx, op.args...)
			continue
		}
		if op.write {
			cmds[i] = pipe.Set(ctx, op.key, op.value, 0)
		} else {
			cmds[i] = pipe.Get(ctx, op.key)
		}
	}
	_, _ = pipe.Exec(ctx) // each command holds its error
	for i := range ops {
		switch {
		case ops[i].viaHTTP:
			t.counters.read(ctx, &ops[i])
		case ops[i].args != nil:
			v, err := cmds[i].(*redis.Cmd).Result()
			settleReply(&ops[i], v, err, redis.Nil)
		case ops[i].write:
			ops[i].err = cmds[i].Err()
		default:
			ops[i].hit, ops[i].err = settleGet(cmds[i].Err(), redis.Nil)
			ops[i].values = hitValues(ops[i].hit)
		}
	}
}

// Error kinds, as reported.
const (
	errUnavailable = "unavailable"
	errTimeout     = "timeout"
	errOther       = "other"
)

// errKind sorts an error from either target into unavailable, timeout or other.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, client.ErrUnavailable), redis.HasErrorPrefix(err, "UNAVAILABLE"):
		return errUnavailable
	case errors.Is(err, client.ErrTimeout), redis.HasErrorPrefix(err, "TIMEOUT"),
		errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errTimeout
	}
	return errOther
}

// Latencies are recorded in microseconds, from 1µs to a minute, to 3 significant
// digits.
const (
	histMinMicros = 1
	histMaxMicros = 60_000_000
	histDigits    = 3
)

// opStats are one operation's counts and latencies (successful operations only).
type opStats struct {
	ops, hits         int64
	values, maxValues int64 // values reads returned, and the most one read returned
	errors            map[string]int64
	latency           *hdrhistogram.Histogram
}

func newOpStats() *opStats {
	return &opStats{errors: map[string]int64{}, latency: hdrhistogram.New(histMinMicros, histMaxMicros, histDigits)}
}

func (s *opStats) merge(o *opStats) {
	s.ops += o.ops
	s.hits += o.hits
	s.values += o.values
	s.maxValues = max(s.maxValues, o.maxValues)
	for k, v := range o.errors {
		s.errors[k] += v
	}
	s.latency.Merge(o.latency)
}

// benchRun is the state the clients share.
type benchRun struct {
	cfg       *benchConfig
	target    benchTarget
	remaining atomic.Int64 // operations not yet claimed (request-count mode)
	stop      atomic.Bool
	done      atomic.Int64 // operations finished, for the progress line
	failed    atomic.Int64 // of which errors

	samplesMu sync.Mutex
	samples   []string // the first distinct error messages
}

// maxErrorSamples is how many distinct error messages the report keeps.
const maxErrorSamples = 5

func runBench(ctx context.Context, cfg *benchConfig, progress io.Writer) (*benchReport, error) {
	// go-redis logs failed dials on its global logger; the report counts them.
	redis.SetLogger(quietLogger{})
	var err error
	if cfg.Resolution, err = keyspaceResolution(cfg.Addr, cfg.Keyspace); err != nil {
		return nil, err
	}
	target, err := newTarget(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer target.close()
	run := &benchRun{cfg: cfg, target: target}
	run.remaining.Store(cfg.Requests)
	workers := make([]*benchWorker, cfg.Clients)
	for i := range workers {
		workers[i] = newBenchWorker(cfg, i)
	}
	start := time.Now()
	stopProgress := run.showProgress(progress, start)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(run)
		}()
	}
	go func() {
		var deadline <-chan time.Time
		if cfg.duration > 0 {
			deadline = time.After(cfg.duration)
		}
		select {
		case <-ctx.Done():
		case <-deadline:
		}
		run.stop.Store(true)
	}()
	wg.Wait()
	elapsed := time.Since(start)
	run.stop.Store(true)
	stopProgress()
	return run.report(workers, elapsed), nil
}

// quietLogger drops go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// showProgress prints a progress line on w every second until the returned function
// is called; on a terminal the line is rewritten in place.
func (r *benchRun) showProgress(w io.Writer, start time.Time) (stop func()) {
	if r.cfg.quiet {
		return func() {}
	}
	eol := "\n"
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			eol = "\r"
		}
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last, lastAt := int64(0), start
		for {
			select {
			case <-quit:
				if eol == "\r" {
					fmt.Fprintln(w)
				}
				return
			case now := <-t.C:
				done := r.done.Load()
				rate := float64(done-last) / now.Sub(lastAt).Seconds()
				last, lastAt = done, now
				fmt.Fprintf(w, "%6.1fs  %10d ops  %9.0f ops/s  errors %d%s",
					now.Sub(start).Seconds(), done, rate, r.failed.Load(), eol)
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// benchWorker is one client: its own random source, value and statistics, so that
// clients share nothing on the hot path but the stop signal and two counters.
type benchWorker struct {
	cfg    *benchConfig
	rng    *rand.Rand
	zipf   *rand.Zipf
	value  []byte
	reads  *opStats
	writes *opStats
	ops    []benchOp
}

func newBenchWorker(cfg *benchConfig, i int) *benchWorker {
	w := &benchWorker{
		cfg:    cfg,
		rng:    rand.New(rand.NewSource(cfg.Seed + int64(i)*7919)),
		reads:  newOpStats(),
		writes: newOpStats(),
		ops:    make([]benchOp, cfg.Pipeline),
	}
	if cfg.Dist == "zipf" {
		w.zipf = rand.NewZipf(w.rng, cfg.ZipfS, 1, uint64(cfg.Keys-1))
	}
	w.value = make([]byte, cfg.ValueSize)
	for i := range w.value {
		w.value[i] = 'a' + byte(w.rng.Intn(26))
	}
	return w
}

// loop sends batches until the requests are used up or the run is stopped.
func (w *benchWorker) loop(r *benchRun) {
	ctx := context.Background() // requests finish even when the run is interrupted
	for {
		n := w.claim(r)
		if n == 0 {
			return
		}
		ops := w.ops[:n]
		for i := range ops {
			ops[i] = w.nextOp()
		}
		start := time.Now()
		r.target.send(ctx, ops)
		w.record(r, ops, time.Since(start))
	}
}

// claim returns how many operations the next batch may have: 0 when the run is over.
func (w *benchWorker) claim(r *benchRun) int {
	if r.stop.Load() {
		return 0
	}
	p := int64(w.cfg.Pipeline)
	if w.cfg.duration > 0 {
		return int(p)
	}
	left := r.remaining.Add(-p) + p // what was left before this claim
	if left <= 0 {
		return 0
	}
	return int(min(p, left))
}

func (w *benchWorker) nextOp() benchOp {
	var k int64
	if w.zipf != nil {
		k = int64(w.zipf.Uint64())
	} else {
		k = w.rng.Int63n(w.cfg.Keys)
	}
	write := w.rng.Intn(w.cfg.reads+w.cfg.writes) >= w.cfg.reads
	op := benchOp{write: write, key: benchKeyOf(w.cfg.keyPrefix(), k), value: w.value}
	w.cfg.shape(&op, w.rng)
	return op
}

// benchKey names key number k as redis-benchmark's -r does: key:000000001234.
func benchKey(k int64) string { return benchKeyOf("key:", k) }

// benchKeyOf names key number k with a prefix: registers are key:…, counters
// counter:… and sets set:…, so that the kinds never meet on one key.
func benchKeyOf(prefix string, k int64) string {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], k, 10)
	var b [40]byte
	out := append(b[:0], prefix...)
	for i := len(d); i < 12; i++ {
		out = append(out, '0')
	}
	return string(append(out, d...))
}

// record adds a batch's outcomes to the worker's statistics.
func (w *benchWorker) record(r *benchRun, ops []benchOp, d time.Duration) {
	micros := min(max(d.Microseconds(), histMinMicros), histMaxMicros)
	var nr, nw, failed int64
	for _, op := range ops {
		s := w.reads
		if op.write {
			s = w.writes
		}
		s.ops++
		switch {
		case op.err != nil:
			s.errors[errKind(op.err)]++
			failed++
			r.sample(op.err)
		case op.write:
			nw++
		default:
			nr++
			if op.hit {
				s.hits++
			}
			s.values += int64(op.values)
			s.maxValues = max(s.maxValues, int64(op.values))
		}
	}
	if nr > 0 {
		w.reads.latency.RecordValues(micros, nr)
	}
	if nw > 0 {
		w.writes.latency.RecordValues(micros, nw)
	}
	r.done.Add(int64(len(ops)))
	if failed > 0 {
		r.failed.Add(failed)
	}
}

// sample keeps an error's message if it is one of the first distinct ones.
func (r *benchRun) sample(err error) {
	r.samplesMu.Lock()
	defer r.samplesMu.Unlock()
	msg := err.Error()
	if len(r.samples) >= maxErrorSamples {
		return
	}
	for _, s := range r.samples {
		if s == msg {
			return
		}
	}
	r.samples = append(r.samples, msg)
}

// benchReport is the outcome of a run; its JSON form is the --json output.
type benchReport struct {
	Config       *benchConfig       `json:"config"`
	Target       string             `json:"target"`
	Elapsed      float64            `json:"elapsed_seconds"`
	Ops          int64              `json:"ops"`
	OpsPerSecond float64            `json:"ops_per_second"`
	Errors       map[string]int64   `json:"errors"`
	ErrorSamples []string           `json:"error_samples,omitempty"`
	Latency      latencyReport      `json:"latency_ms"`
	ByOp         map[string]*opLine `json:"by_op"`
}

// opLine is one operation's part of the report.
type opLine struct {
	Ops          int64   `json:"ops"`
	OpsPerSecond float64 `json:"ops_per_second"`
	Hits         *int64  `json:"hits,omitempty"`
	Misses       *int64  `json:"misses,omitempty"`
	// Values counts the values reads returned (siblings, set members; 1 per plain hit)
	// and MaxValues the most one read returned.
	Values    *int64           `json:"values,omitempty"`
	MaxValues *int64           `json:"max_values,omitempty"`
	Errors    map[string]int64 `json:"errors"`
	Latency   latencyReport    `json:"latency_ms"`
}

// latencyReport holds percentiles of successful operations' latency, in milliseconds.
type latencyReport struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func newLatencyReport(h *hdrhistogram.Histogram) latencyReport {
	ms := func(micros int64) float64 { return float64(micros) / 1000 }
	return latencyReport{
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P99: ms(h.ValueAtQuantile(99)),
		P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()), Mean: float64(int64(h.Mean())) / 1000,
	}
}

func (r *benchRun) report(workers []*benchWorker, elapsed time.Duration) *benchReport {
	reads, writes, all := newOpStats(), newOpStats(), newOpStats()
	for _, w := range workers {
		reads.merge(w.reads)
		writes.merge(w.writes)
	}
	all.merge(reads)
	all.merge(writes)
	secs := elapsed.Seconds()
	line := func(s *opStats, read bool) *opLine {
		l := &opLine{Ops: s.ops, OpsPerSecond: float64(s.ops) / secs, Errors: errorKinds(s.errors), Latency: newLatencyReport(s.latency)}
		if read {
			errs := int64(0)
			for _, n := range s.errors {
				errs += n
			}
			hits, misses := s.hits, s.ops-s.hits-errs
			values, most := s.values, s.maxValues
			l.Hits, l.Misses, l.Values, l.MaxValues = &hits, &misses, &values, &most
		}
		return l
	}
	return &benchReport{
		Config:       r.cfg,
		Target:       r.target.describe(),
		Elapsed:      secs,
		Ops:          all.ops,
		OpsPerSecond: float64(all.ops) / secs,
		Errors:       errorKinds(all.errors),
		ErrorSamples: r.samples,
		Latency:      newLatencyReport(all.latency),
		ByOp:         map[string]*opLine{r.cfg.readOp(): line(reads, true), r.cfg.writeOp(): line(writes, false)},
	}
}

// errorKinds returns counts with every kind present, zero or not.
func errorKinds(m map[string]int64) map[string]int64 {
	return map[string]int64{errUnavailable: m[errUnavailable], errTimeout: m[errTimeout], errOther: m[errOther]}
}

// print writes the report as a table.
func (rep *benchReport) print(w io.Writer) {
	c := rep.Config
	keys := fmt.Sprintf("%d keys (%s)", c.Keys, c.Dist)
	if c.Dist == "zipf" {
		keys = fmt.Sprintf("%d keys (zipf s=%g)", c.Keys, c.ZipfS)
	}
	ks := c.Keyspace
	if c.Resolution != "" {
		ks += " (" + c.Resolution + ")"
	}
	fmt.Fprintf(w, "%d clients, pipeline %d, %s %s:%s %s, %s, %d-byte values, read %s / write %s, keyspace %s, %s via %s\n",
		c.Clients, c.Pipeline, c.Kind, c.readOp(), c.writeOp(), c.Ratio, keys, c.ValueSize, c.ReadLevel, c.WriteLevel, ks, rep.Target, c.Addr)
	fmt.Fprintf(w, "%d ops in %.2fs: %.0f ops/s\n\n", rep.Ops, rep.Elapsed, rep.OpsPerSecond)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tops\tops/s\thit%\tvalues/hit\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\terrors\t")
	for _, name := range []string{c.readOp(), c.writeOp()} {
		l := rep.ByOp[name]
		if l == nil || l.Ops == 0 {
			continue
		}
		hit, perHit := "-", "-"
		if l.Hits != nil && *l.Hits+*l.Misses > 0 {
			hit = fmt.Sprintf("%.1f", 100*float64(*l.Hits)/float64(*l.Hits+*l.Misses))
		}
		if l.Hits != nil && *l.Hits > 0 {
			perHit = fmt.Sprintf("%.2f", float64(*l.Values)/float64(*l.Hits))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%d\t\n", name, l.Ops, l.OpsPerSecond, hit, perHit, l.Latency.columns(), sum(l.Errors))
	}
	fmt.Fprintf(tw, "all\t%d\t%.0f\t\t\t%s\t%d\t\n", rep.Ops, rep.OpsPerSecond, rep.Latency.columns(), sum(rep.Errors))
	tw.Flush()
	fmt.Fprintf(w, "\nerrors: unavailable %d, timeout %d, other %d\n",
		rep.Errors[errUnavailable], rep.Errors[errTimeout], rep.Errors[errOther])
	for _, s := range rep.ErrorSamples {
		fmt.Fprintf(w, "  e.g. %s\n", s)
	}
}

func (l latencyReport) columns() string {
	return fmt.Sprintf("%.3f\t%.3f\t%.3f\t%.3f\t%.3f", l.P50, l.P90, l.P99, l.P999, l.Max)
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
