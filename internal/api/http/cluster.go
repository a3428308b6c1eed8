package httpapi

import (
	"net/http"

	"github.com/chorusdb/chorus/internal/api"
)

// handleCluster: GET /v1/cluster → the members as this node sees them.
func (s *Server) handleCluster(w http.ResponseWriter, _ *http.Request) {
	members := s.cfg.Backend.Members()
	body := api.ClusterView{
		Node:              s.cfg.Backend.NodeID(),
		ReplicationFactor: s.cfg.Backend.ReplicationFactor(),
		Members:           make([]api.ClusterMember, 0, len(members)),
	}
	for _, m := range members {
		body.Members = append(body.Members, api.ClusterMember{
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
