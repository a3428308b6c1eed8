package httpapi

import (
	"fmt"
	"net/http"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
)

// stalenessPath is the route of the staleness prediction.
const stalenessPath = "/v1/staleness"

// registerStaleness adds GET /v1/staleness when the backend predicts staleness.
func (s *Server) registerStaleness() {
	sp, ok := s.cfg.Backend.(api.StalenessPredictor)
	if !ok {
		return
	}
	s.mux.Handle(stalenessPath, only(http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
		s.handleStaleness(w, r, sp)
	}))
}

// handleStaleness: GET /v1/staleness[?coordinators=remote|replicas] → the predicted
// t-visibility curves of every (R, W) (api.StalenessReport).
func (s *Server) handleStaleness(w http.ResponseWriter, r *http.Request, sp api.StalenessPredictor) {
	q := r.URL.Query()
	for name := range q {
		if name != "coordinators" {
			writeError(w, s.cfg.Logger, fmt.Errorf("%w unknown query parameter %q", core.ErrBadRequest, name))
			return
		}
	}
	replicas := false
	if vs := q["coordinators"]; len(vs) > 0 {
		if len(vs) > 1 || (vs[0] != api.CoordinatorsRemote && vs[0] != api.CoordinatorsReplicas) {
			writeError(w, s.cfg.Logger, fmt.Errorf("%w coordinators must be given once, as %s or %s",
				core.ErrBadRequest, api.CoordinatorsRemote, api.CoordinatorsReplicas))
			return
		}
		replicas = vs[0] == api.CoordinatorsReplicas
	}
	writeJSON(w, http.StatusOK, sp.Staleness(replicas))
}
