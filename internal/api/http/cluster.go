package httpapi

import (
	"net/http"

	"github.com/chorusdb/chorus/internal/membership"
)

// clusterResponse is GET /v1/cluster's body.
type clusterResponse struct {
	Node              string          `json:"node"`
	ReplicationFactor int             `json:"replication_factor"`
	Members           []clusterMember `json:"members"`
}

// clusterMember is one member as /v1/cluster shows it.
type clusterMember struct {
	ID        string           `json:"id"`
	Status    string           `json:"status"` // alive, suspect, dead or left
	Zone      string           `json:"zone"`
	Addrs     membership.Addrs `json:"addrs"`
	Ownership float64          `json:"ownership"` // share of the ring owned as a primary replica
	// ClockOffsetMs: the member's clock minus this node's (absent for this node and
	// members not heard from); ClockSkewed: beyond --max-clock-skew.
	ClockOffsetMs *int64 `json:"clock_offset_ms,omitempty"`
	ClockSkewed   bool   `json:"clock_skewed,omitempty"`
}

// handleCluster: GET /v1/cluster → the members as this node sees them.
func (s *Server) handleCluster(w http.ResponseWriter, _ *http.Request) {
	members := s.cfg.Backend.Members()
	body := clusterResponse{
		Node:              s.cfg.Backend.NodeID(),
		ReplicationFactor: s.cfg.Backend.ReplicationFactor(),
		Members:           make([]clusterMember, 0, len(members)),
	}
	for _, m := range members {
		body.Members = append(body.Members, clusterMember{
			ID:            m.ID,
			Status:        m.Status.String(),
			Zone:          m.Zone,
			Addrs:         m.Addrs,
			Ownership:     m.Ownership,
			ClockOffsetMs: m.ClockOffsetMs,
			ClockSkewed:   m.ClockSkewed,
		})
	}
	writeJSON(w, http.StatusOK, body)
}

// handleHealth: GET /healthz → 200 {"status": "ok", "node": id} while the node is
// healthy, 503 {"status": "unhealthy", …} while its storage fails.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.Healthy != nil && !s.cfg.Healthy() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "node": s.cfg.Backend.NodeID()})
		return
	}
	filling := s.cfg.Filling != nil && s.cfg.Filling()
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "node": s.cfg.Backend.NodeID(), "filling": filling})
}
