package node

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorusdb/chorus/internal/core"
)

// metrics are the node's request-path metrics.
type metrics struct {
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	misrouted     prometheus.Counter
	storageErrors prometheus.Counter
	clockOffset   *prometheus.GaugeVec
	staleness     *staleness // replica round trips and the staleness prediction (staleness.go)
}

func newMetrics(reg prometheus.Registerer, n *Node) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chorus_requests_total",
			Help: "Client requests coordinated by this node, by operation, consistency level and result.",
		}, []string{"op", "level", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chorus_request_duration_seconds",
			Help:    "Latency of client requests coordinated by this node, by operation and level.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs … 3.3s
		}, []string{"op", "level"}),
		misrouted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chorus_messages_misrouted_total",
			Help: "Peer messages addressed to another node id (stale address) and dropped.",
		}),
		clockOffset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chorus_clock_offset_seconds",
			Help: "A peer's clock minus this node's, from the peer's last messages (includes their transit time).",
		}, []string{"peer"}),
		storageErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chorus_storage_commit_errors_total",
			Help: "Storage commits that failed; their writes were not acknowledged.",
		}),
		staleness: newStaleness(n.cfg.ReplicationFactor, n.cfg.ReadFanout == core.FanoutAll),
	}
	healthy := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "chorus_healthy",
		Help: "1 while storage accepts writes, 0 after a commit failed.",
	}, func() float64 {
		if n.Healthy() {
			return 1
		}
		return 0
	})
	reg.MustRegister(m.requests, m.latency, m.misrouted, m.storageErrors, m.clockOffset, healthy, m.staleness)
	registerCoreStats(reg, n)
	registerStorageStats(reg, n)
	return m
}

// registerCoreStats exports the shards' counters, summed, as metrics.
func registerCoreStats(reg prometheus.Registerer, n *Node) {
	sum := func(f func(core.Stats) float64) func() float64 {
		return func() float64 {
			total := 0.0
			for _, s := range n.shards {
				total += f(s.snapshot())
			}
			return total
		}
	}
	counter := func(name, help string, f func(core.Stats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, sum(f))
	}
	gauge := func(name, help string, f func(core.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, sum(f))
	}
	reg.MustRegister(
		gauge("chorus_hints_pending", "Hints this node holds for replicas that missed writes.",
			func(s core.Stats) float64 { return float64(s.HintsPending) }),
		gauge("chorus_hints_pending_bytes", "Bytes of the hints this node holds.",
			func(s core.Stats) float64 { return float64(s.HintBytesPending) }),
		counter("chorus_hints_stored_total", "Hints stored for replicas that were down or did not acknowledge in time.",
			func(s core.Stats) float64 { return float64(s.HintsStored) }),
		counter("chorus_hints_delivered_total", "Hints handed off to their target and removed.",
			func(s core.Stats) float64 { return float64(s.HintsDelivered) }),
		counter("chorus_hints_expired_total", "Hints dropped undelivered at their TTL (anti-entropy then repairs the key's range).",
			func(s core.Stats) float64 { return float64(s.HintsExpired) }),
		counter("chorus_hints_dropped_total", "Hints refused because their target's cap was reached.",
			func(s core.Stats) float64 { return float64(s.HintsDropped) }),
		counter("chorus_read_repairs_total", "Stale replicas sent a newer copy by a read.",
			func(s core.Stats) float64 { return float64(s.ReadRepairs) }),
		counter("chorus_speculative_reads_total", "Reads that asked more replicas because the ones asked first were slow (read fan-out level).",
			func(s core.Stats) float64 { return float64(s.SpeculativeReads) }),
		counter("chorus_antientropy_ranges_compared_total", "Ring ranges whose Merkle roots were compared with a peer.",
			func(s core.Stats) float64 { return float64(s.AERangesCompared) }),
		counter("chorus_antientropy_ranges_differing_total", "Ring ranges found different from a peer.",
			func(s core.Stats) float64 { return float64(s.AERangesDiffering) }),
		counter("chorus_antientropy_keys_repaired_total", "Keys sent or received by anti-entropy to bring replicas level.",
			func(s core.Stats) float64 { return float64(s.AEKeysRepaired) }),
		counter("chorus_antientropy_bytes_sent_total", "Bytes of anti-entropy messages sent (hashes, keys, objects).",
			func(s core.Stats) float64 { return float64(s.AEBytesSent) }),
		counter("chorus_antientropy_exchanges_total", "Anti-entropy exchanges this node initiated and completed.",
			func(s core.Stats) float64 { return float64(s.AESessionsFinished) }),
		gauge("chorus_filling_ranges", "Ranges not yet filled by anti-entropy after an empty-disk start (their answers do not count toward R or W).",
			func(s core.Stats) float64 { return float64(s.FillingRanges) }),
		counter("chorus_clock_skewed_messages_total", "Messages from a peer whose clock differed from this node's by more than --max-clock-skew.",
			func(s core.Stats) float64 { return float64(s.SkewedMessages) }),
		counter("chorus_requests_forwarded_total", "Writes forwarded to a replica of their key because they need its local copy (siblings, CRDTs).",
			func(s core.Stats) float64 { return float64(s.Forwarded) }),
		counter("chorus_read_siblings_total", "Live siblings returned by reads; divided by chorus_reads_total, siblings per read.",
			func(s core.Stats) float64 { return float64(s.SiblingsRead) }),
		counter("chorus_reads_total", "Reads answered with a value or not-found.",
			func(s core.Stats) float64 { return float64(s.Reads) }),
		counter("chorus_tombstones_purged_total", "Tombstones removed after every replica held them and the grace period passed.",
			func(s core.Stats) float64 { return float64(s.TombstonesPurged) }),
	)
}

func (m *metrics) observe(req core.Request, r core.Reply, d time.Duration) {
	op, level := req.Op.String(), req.Level.String()
	m.requests.WithLabelValues(op, level, resultLabel(r.Err)).Inc()
	m.latency.WithLabelValues(op, level).Observe(d.Seconds())
}

// resultLabel names the outcome of a request for metrics.
func resultLabel(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, core.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, core.ErrTimeout):
		return "timeout"
	case errors.Is(err, core.ErrTooLarge):
		return "too_large"
	case errors.Is(err, core.ErrWrongType):
		return "wrong_type"
	default:
		return "error"
	}
}
