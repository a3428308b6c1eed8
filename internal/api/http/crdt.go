package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// Path prefixes of the CRDT and key-inspector routes.
const (
	crdtPrefix    = "/v1/crdt/"
	inspectPrefix = "/v1/inspect/"
)

// crdtRequest is POST /v1/crdt/{keyspace}/{key}'s body: one typed operation.
type crdtRequest struct {
	Type      string          `json:"type"`                 // pncounter, gcounter, orset, gset, 2pset, lwwregister, mvregister, map
	Op        string          `json:"op"`                   // increment, add, remove, assign, remove_field, clear
	Delta     *int64          `json:"delta,omitempty"`      // increment (default 1)
	Elements  []string        `json:"elements,omitempty"`   // add, remove
	Value     json.RawMessage `json:"value,omitempty"`      // assign: any JSON value
	Field     string          `json:"field,omitempty"`      // map: the field
	FieldType string          `json:"field_type,omitempty"` // map: pncounter, orset, lwwregister or mvregister
}

// crdtResponse is the JSON view of a CRDT: its type and user-visible value.
type crdtResponse struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// maxCRDTBody bounds a CRDT operation's body beyond the value limit (the JSON around
// the elements or value).
const maxCRDTBody = 64 << 10

// serveCRDT handles POST (apply an operation, ?w=LEVEL) and GET (the JSON view,
// ?r=LEVEL) on /v1/crdt/{keyspace}/{key}.
func (s *Server) serveCRDT(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, nil, fmt.Errorf("%w: %s %s", errMethod, r.Method, r.URL.Path))
		return
	}
	key, err := s.pathKey(r, crdtPrefix)
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	if r.Method == http.MethodGet {
		s.getCRDT(w, r, key)
		return
	}
	lvl, err := level(r, "w", s.cfg.DefaultWriteLevel)
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	op, err := s.readCRDTOp(w, r)
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	rep := s.do(r.Context(), core.Request{Op: core.OpUpdate, Key: key, Level: lvl, CRDT: op})
	if rep.Err != nil {
		writeError(w, s.cfg.Logger, rep.Err)
		return
	}
	rep.Found = true
	s.writeCRDT(w, rep)
}

func (s *Server) getCRDT(w http.ResponseWriter, r *http.Request, key object.Key) {
	lvl, err := level(r, "r", s.cfg.DefaultReadLevel)
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	rep := s.do(r.Context(), core.Request{Op: core.OpGet, Key: key, Level: lvl})
	switch {
	case rep.Err != nil:
		writeError(w, s.cfg.Logger, rep.Err)
	case !rep.Found:
		writeError(w, s.cfg.Logger, fmt.Errorf("%w key %q not found in keyspace %q", errNotFound, key.Key, key.Keyspace))
	case rep.Obj.Kind.IsRegister():
		writeError(w, s.cfg.Logger, fmt.Errorf("%w the key holds a value, not a CRDT: read it at /v1/kv/", core.ErrWrongType))
	default:
		s.writeCRDT(w, rep)
	}
}

func (s *Server) writeCRDT(w http.ResponseWriter, rep core.Reply) {
	typ, view, _, err := api.CRDTView(rep)
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, crdtResponse{Type: typ, Value: view})
}

// readCRDTOp decodes and checks a POST body. Unknown fields are refused, never
// ignored.
func (s *Server) readCRDTOp(w http.ResponseWriter, r *http.Request) (crdt.Op, error) {
	limit := int64(s.cfg.Limits.MaxValueBytes) + maxCRDTBody
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return crdt.Op{}, fmt.Errorf("%w operation body of more than %d bytes", core.ErrTooLarge, limit)
	case err != nil:
		return crdt.Op{}, fmt.Errorf("%w reading the body: %v", core.ErrBadRequest, err)
	}
	var req crdtRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return crdt.Op{}, fmt.Errorf("%w the body must be a JSON operation {\"type\", \"op\", …}: %v", core.ErrBadRequest, err)
	}
	if dec.More() {
		return crdt.Op{}, fmt.Errorf("%w the body must hold one JSON operation", core.ErrBadRequest)
	}
	t, err := crdt.ParseType(req.Type)
	if err != nil {
		return crdt.Op{}, fmt.Errorf("%w type must be one of pncounter, gcounter, orset, gset, 2pset, lwwregister, mvregister, map, not %q", core.ErrBadRequest, req.Type)
	}
	act, err := crdt.ParseAction(req.Op)
	if err != nil {
		return crdt.Op{}, fmt.Errorf("%w %v", core.ErrBadRequest, err)
	}
	op := crdt.Op{Type: t, Action: act, Field: req.Field, Elems: req.Elements, Delta: 1}
	if req.Delta != nil {
		op.Delta = *req.Delta
	}
	if len(req.Value) > 0 {
		op.Value = []byte(req.Value)
	}
	if req.FieldType != "" {
		if op.FieldType, err = crdt.ParseType(req.FieldType); err != nil {
			return crdt.Op{}, fmt.Errorf("%w field_type %q is not a CRDT type", core.ErrBadRequest, req.FieldType)
		}
	}
	if err := op.Validate(); err != nil {
		return crdt.Op{}, fmt.Errorf("%w %v", core.ErrBadRequest, err)
	}
	return op, nil
}

// inspectResponse is GET /v1/inspect/{keyspace}/{key}'s body: every replica's copy.
type inspectResponse struct {
	Keyspace string           `json:"keyspace"`
	Key      string           `json:"key"`
	Replicas []inspectReplica `json:"replicas"`
}

type inspectReplica struct {
	Node     string           `json:"node"`
	OK       bool             `json:"ok"`
	Error    string           `json:"error"`
	Filling  bool             `json:"filling"`
	Kind     string           `json:"kind"`
	Found    bool             `json:"found"`
	CRDT     json.RawMessage  `json:"crdt,omitempty"`
	Siblings []inspectSibling `json:"siblings"`
	Context  string           `json:"context"`
}

type inspectSibling struct {
	Value     json.RawMessage `json:"value"`
	Timestamp string          `json:"timestamp"`
	Dot       string          `json:"dot"`
	Tombstone bool            `json:"tombstone"`
	ExpiresAt int64           `json:"expires_at,omitempty"`
}

// serveInspect shows each replica's copy of a key, unmerged (the key inspector).
func (s *Server) serveInspect(w http.ResponseWriter, r *http.Request) {
	key, err := s.pathKey(r, inspectPrefix)
	if err == nil && r.URL.RawQuery != "" {
		err = fmt.Errorf("%w /v1/inspect/ takes no query parameters", core.ErrBadRequest)
	}
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	rep := s.do(r.Context(), core.Request{Op: core.OpInspect, Key: key})
	if rep.Err != nil {
		writeError(w, s.cfg.Logger, rep.Err)
		return
	}
	body := inspectResponse{Keyspace: key.Keyspace, Key: key.Key, Replicas: []inspectReplica{}}
	for _, c := range rep.Copies {
		ir := inspectReplica{Node: c.Node, OK: c.Err == "", Error: c.Err, Filling: c.Filling, Siblings: []inspectSibling{}}
		if c.Err == "" {
			ir.Kind, ir.Found = c.Obj.Kind.String(), len(c.Obj.Siblings) > 0
			ir.Context = version.EncodeContext(c.Obj.FullContext())
			if _, view, ok, _ := api.CRDTView(core.Reply{Found: ir.Found, Obj: c.Obj}); ok {
				ir.CRDT = view
			}
		}
		for _, sib := range c.Obj.Siblings {
			is := inspectSibling{
				Timestamp: sib.Timestamp.String(), Dot: sib.Dot.Actor + ":" + strconv.FormatUint(sib.Dot.Counter, 10),
				Tombstone: sib.Tombstone, ExpiresAt: sib.ExpiresAt,
			}
			if !sib.Tombstone && c.Obj.Kind.IsRegister() {
				is.Value = jsonValue(sib.Value)
			}
			ir.Siblings = append(ir.Siblings, is)
		}
		body.Replicas = append(body.Replicas, ir)
	}
	writeJSON(w, http.StatusOK, body)
}
