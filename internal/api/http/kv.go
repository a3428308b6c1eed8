package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// contextHeader carries a key's causal context: set on reads, accepted on writes.
const contextHeader = "X-Chorus-Context"

// putResponse is PUT's 200 body.
type putResponse struct {
	Context string `json:"context"`
}

// deleteResponse is DELETE's 200 body: whether some replica held a live value.
type deleteResponse struct {
	Existed bool `json:"existed"`
}

// siblingsResponse is GET's 300 body when the key holds concurrent versions.
type siblingsResponse struct {
	Siblings []json.RawMessage `json:"siblings"`
	Context  string            `json:"context"`
}

// serveKV handles PUT, GET and DELETE /v1/kv/{keyspace}/{key}?w=|r=LEVEL.
func (s *Server) serveKV(w http.ResponseWriter, r *http.Request) {
	var run func(http.ResponseWriter, *http.Request, object.Key)
	switch r.Method {
	case http.MethodGet:
		run = s.getKV
	case http.MethodPut:
		run = s.putKV
	case http.MethodDelete:
		run = s.deleteKV
	default:
		w.Header().Set("Allow", "GET, PUT, DELETE")
		writeError(w, nil, fmt.Errorf("%w: %s %s", errMethod, r.Method, r.URL.Path))
		return
	}
	key, err := s.pathKey(r, kvPrefix)
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	run(w, r, key)
}

// pathKey parses {prefix}{keyspace}/{key} from the escaped path: the keyspace is the
// first segment, the key all the rest, percent-decoded ("a%2Fb" and "a/b" are the
// same key). The key must not be empty and fit Limits.MaxKeyBytes.
func (s *Server) pathKey(r *http.Request, prefix string) (object.Key, error) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), prefix)
	ks, k, ok := strings.Cut(rest, "/")
	if !ok || k == "" {
		return object.Key{}, fmt.Errorf("%w missing key: use %s{keyspace}/{key}", core.ErrBadRequest, prefix)
	}
	keyspace, err1 := url.PathUnescape(ks)
	key, err2 := url.PathUnescape(k)
	if err := errors.Join(err1, err2); err != nil {
		return object.Key{}, fmt.Errorf("%w malformed path: %v", core.ErrBadRequest, err)
	}
	if err := core.ValidateKeyspace(keyspace); err != nil {
		return object.Key{}, err
	}
	if err := s.cfg.Limits.CheckKey(len(key)); err != nil {
		return object.Key{}, err
	}
	return object.Key{Keyspace: keyspace, Key: key}, nil
}

// level reads the request's consistency level from query parameter name ("r" or
// "w"), the only parameter the route accepts. A malformed query, any other
// parameter, the parameter given twice, an unknown level or ANY for a read is a bad
// request: never a silent default.
func level(r *http.Request, name string, def core.Level) (core.Level, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, fmt.Errorf("%w malformed query string: %v", core.ErrBadRequest, err)
	}
	var unknown []string
	for k := range q {
		if k != name {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return 0, fmt.Errorf("%w unknown query parameter %q (this request accepts only %q)", core.ErrBadRequest, unknown[0], name)
	}
	vals := q[name]
	switch {
	case len(vals) == 0:
		return def, nil
	case len(vals) > 1:
		return 0, fmt.Errorf("%w query parameter %q given %d times", core.ErrBadRequest, name, len(vals))
	}
	l, err := core.ParseLevel(vals[0])
	if err != nil {
		return 0, err
	}
	if name == "r" && l == core.Any {
		return 0, fmt.Errorf("%w ANY is a write-only level", core.ErrBadRequest)
	}
	return l, nil
}

// causalContext parses the optional X-Chorus-Context header of a write.
func causalContext(r *http.Request) (version.Vector, error) {
	vals := r.Header.Values(contextHeader)
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
		v, err := version.DecodeContext(vals[0])
		if err != nil {
			return nil, fmt.Errorf("%w malformed %s header", core.ErrBadRequest, contextHeader)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%w %s header given %d times", core.ErrBadRequest, contextHeader, len(vals))
}

// do runs one request on the Backend under the request's context and the server's
// deadline.
func (s *Server) do(ctx context.Context, req core.Request) core.Reply {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	return s.cfg.Backend.Do(ctx, req)
}

// getKV: 200 with the value as the body, 300 with the siblings, 404 if absent.
func (s *Server) getKV(w http.ResponseWriter, r *http.Request, key object.Key) {
	lvl, err := level(r, "r", s.cfg.DefaultReadLevel)
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	rep := s.do(r.Context(), core.Request{Op: core.OpGet, Key: key, Level: lvl})
	if rep.Err != nil {
		writeError(w, s.cfg.Logger, rep.Err)
		return
	}
	tok := version.EncodeContext(rep.Obj.FullContext())
	if tok != "" {
		w.Header().Set(contextHeader, tok)
	}
	if typ, view, ok, err := api.CRDTView(rep); ok {
		if err != nil {
			writeError(w, s.cfg.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, crdtResponse{Type: typ, Value: view})
		return
	}
	if sib := api.Siblings(rep, time.Now().UnixMilli()); sib != nil {
		body := siblingsResponse{Siblings: make([]json.RawMessage, len(sib)), Context: tok}
		for i, v := range sib {
			body.Siblings[i] = jsonValue(v)
		}
		writeJSON(w, http.StatusMultipleChoices, body)
		return
	}
	if !rep.Found {
		writeError(w, s.cfg.Logger, fmt.Errorf("%w key %q not found in keyspace %q", errNotFound, key.Key, key.Keyspace))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(jsonValue(rep.Value))
}

// jsonValue renders stored bytes as JSON: as they are if they are valid JSON (as
// every value written over HTTP is), otherwise (a value set over RESP) as a JSON
// string; invalid UTF-8 in such a value becomes U+FFFD.
func jsonValue(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b)) // a string always marshals
	return s
}

// putKV stores the body, a JSON value of at most Limits.MaxValueBytes.
func (s *Server) putKV(w http.ResponseWriter, r *http.Request, key object.Key) {
	lvl, err := level(r, "w", s.cfg.DefaultWriteLevel)
	var ctx version.Vector
	if err == nil {
		ctx, err = causalContext(r)
	}
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	body, err := s.readValue(w, r)
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	rep := s.do(r.Context(), core.Request{Op: core.OpPut, Key: key, Value: body, Level: lvl, Context: ctx})
	if rep.Err != nil {
		writeError(w, s.cfg.Logger, rep.Err)
		return
	}
	writeJSON(w, http.StatusOK, putResponse{Context: version.EncodeContext(rep.Obj.FullContext())})
}

// readValue reads a PUT body: at most Limits.MaxValueBytes (more is TOOLARGE, and
// no more than the limit is ever read into memory) of valid JSON.
func (s *Server) readValue(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := int64(s.cfg.Limits.MaxValueBytes)
	if r.ContentLength > limit {
		return nil, s.cfg.Limits.CheckValue(r.ContentLength)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, fmt.Errorf("%w value of more than %d bytes exceeds the %d-byte limit", core.ErrTooLarge, limit, limit)
	case err != nil:
		return nil, fmt.Errorf("%w reading the body: %v", core.ErrBadRequest, err)
	case !json.Valid(body):
		return nil, fmt.Errorf("%w the body must be one JSON value", core.ErrBadRequest)
	}
	return body, nil
}

// deleteKV deletes the key (a tombstone); 200 whether or not it existed.
func (s *Server) deleteKV(w http.ResponseWriter, r *http.Request, key object.Key) {
	lvl, err := level(r, "w", s.cfg.DefaultWriteLevel)
	var ctx version.Vector
	if err == nil {
		ctx, err = causalContext(r)
	}
	if err != nil {
		writeError(w, s.cfg.Logger, err)
		return
	}
	rep := s.do(r.Context(), core.Request{Op: core.OpDelete, Key: key, Level: lvl, Context: ctx})
	if rep.Err != nil {
		writeError(w, s.cfg.Logger, rep.Err)
		return
	}
	writeJSON(w, http.StatusOK, deleteResponse{Existed: api.DeleteFound(rep)})
}
