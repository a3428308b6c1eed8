package membership

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the chorus_members gauge. A nil *metrics (no Registerer) is valid
// and does nothing.
type metrics struct {
	reg     prometheus.Registerer
	members *prometheus.GaugeVec
}

// newMetrics registers chorus_members{status} with reg; a nil reg returns nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		reg: reg,
		members: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chorus_members",
			Help: "Members of the cluster as this node sees them (itself included), by status: alive, suspect, dead, left.",
		}, []string{"status"}),
	}
	if err := reg.Register(m.members); err != nil {
		return nil, fmt.Errorf("register chorus_members: %w", err)
	}
	return m, nil
}

// set publishes the number of members in each status, indexed by Status.
func (m *metrics) set(counts [4]int) {
	if m == nil {
		return
	}
	for s, n := range counts {
		m.members.WithLabelValues(Status(s).String()).Set(float64(n))
	}
}

// unregister removes the gauge from the registry.
func (m *metrics) unregister() {
	if m == nil {
		return
	}
	m.reg.Unregister(m.members)
}
