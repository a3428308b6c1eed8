package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
)

// registerOps adds the operator routes when the backend offers them.
func (s *Server) registerOps() {
	op, ok := s.cfg.Backend.(api.Operator)
	if !ok {
		return
	}
	s.mux.Handle("/v1/hints", only(http.MethodGet, func(w http.ResponseWriter, r *http.Request) { s.handleHints(w, r, op) }))
	s.mux.Handle("/v1/read-repairs", only(http.MethodGet, func(w http.ResponseWriter, r *http.Request) { s.handleReadRepairs(w, r, op) }))
	s.mux.Handle("/v1/repair", only(http.MethodPost, func(w http.ResponseWriter, r *http.Request) { s.handleRepair(w, r, op) }))
}

// handleHints: GET /v1/hints → {"pending": {"<target>": count}, "targets": [{target,
// count, bytes, oldest}]}.
func (s *Server) handleHints(w http.ResponseWriter, r *http.Request, op api.Operator) {
	hs, err := op.Hints(r.Context())
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	pending := map[string]int{}
	for _, h := range hs {
		pending[h.Target] = h.Count
	}
	if hs == nil {
		hs = []api.HintBacklog{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pending": pending, "targets": hs})
}

// repairEntry is one read-repair log entry as the API shows it.
type repairEntry struct {
	Keyspace   string    `json:"keyspace"`
	Key        string    `json:"key"`
	StaleNode  string    `json:"stale_node"`
	RepairedAt time.Time `json:"repaired_at"`
}

// handleReadRepairs: GET /v1/read-repairs?limit=N (default 100, at most 10000).
func (s *Server) handleReadRepairs(w http.ResponseWriter, r *http.Request, op api.Operator) {
	limit := 100
	q := r.URL.Query()
	for name := range q {
		if name != "limit" {
			writeError(w, s.cfg.Logger, fmt.Errorf("%w unknown query parameter %q", core.ErrBadRequest, name))
			return
		}
	}
	if vs := q["limit"]; len(vs) > 0 {
		n, err := strconv.Atoi(vs[0])
		if len(vs) > 1 || err != nil || n < 1 || n > 10000 {
			writeError(w, s.cfg.Logger, fmt.Errorf("%w limit must be one number from 1 to 10000", core.ErrBadRequest))
			return
		}
		limit = n
	}
	rs, err := op.ReadRepairs(limit)
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	out := make([]repairEntry, 0, len(rs))
	for _, e := range rs {
		out = append(out, repairEntry{Keyspace: e.Key.Keyspace, Key: e.Key.Key, StaleNode: e.StaleNode, RepairedAt: time.UnixMilli(e.RepairedAt).UTC()})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleRepair: POST /v1/repair[?keyspace=KS] runs a full anti-entropy exchange now and
// streams its progress as JSON lines; the last line has "done": true.
func (s *Server) handleRepair(w http.ResponseWriter, r *http.Request, op api.Operator) {
	ks := r.URL.Query().Get("keyspace")
	if ks != "" {
		if err := core.ValidateKeyspace(ks); err != nil {
			writeError(w, s.cfg.Logger, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	last, err := op.Repair(r.Context(), ks, func(p api.RepairProgress) {
		enc.Encode(p)
		if flusher != nil {
			flusher.Flush()
		}
	})
	if err != nil {
		enc.Encode(map[string]string{"error": err.Error()})
		return
	}
	enc.Encode(last)
}

// registerKeyspaces adds the keyspace routes when the backend manages keyspaces.
func (s *Server) registerKeyspaces() {
	ka, ok := s.cfg.Backend.(api.KeyspaceAdmin)
	if !ok {
		return
	}
	s.mux.Handle("GET /v1/keyspaces", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ka.Keyspaces())
	}))
	s.mux.Handle("PUT /v1/keyspaces/{name}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ks api.Keyspace
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ks); err != nil {
			writeError(w, s.cfg.Logger, fmt.Errorf("%w keyspace settings: %v", core.ErrBadRequest, err))
			return
		}
		if ks.Name != "" && ks.Name != r.PathValue("name") {
			writeError(w, s.cfg.Logger, fmt.Errorf("%w the body names keyspace %q, the path %q", core.ErrBadRequest, ks.Name, r.PathValue("name")))
			return
		}
		ks.Name = r.PathValue("name")
		out, err := ka.PutKeyspace(r.Context(), ks)
		if err != nil {
			writeError(w, s.cfg.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}))
}
