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
		storageErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chorus_storage_commit_errors_total",
			Help: "Storage commits that failed; their writes were not acknowledged.",
		}),
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
	reg.MustRegister(m.requests, m.latency, m.misrouted, m.storageErrors, healthy)
	return m
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
