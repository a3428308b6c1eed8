package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/api/apitest"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

func newTestServer(t testing.TB, mod func(*Config)) (*Server, *apitest.Backend) {
	t.Helper()
	be := apitest.NewBackend("n1")
	cfg := Config{Backend: be}
	if mod != nil {
		mod(&cfg)
	}
	return NewServer(cfg), be
}

// call runs one request through the handler.
func call(s *Server, method, target, body string, header ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	return w
}

// errorOf decodes an error body; it fails the test if the body is not one.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Message == "" {
		t.Fatalf("not an error body (%v): %q", err, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q", ct)
	}
	return e
}

func TestPutGetDelete(t *testing.T) {
	s, be := newTestServer(t, nil)
	w := call(s, "PUT", "/v1/kv/carts/alice", `{"items": [1, 2]}`)
	if w.Code != 200 {
		t.Fatalf("PUT = %d %s", w.Code, w.Body)
	}
	var put putResponse
	if err := json.Unmarshal(w.Body.Bytes(), &put); err != nil || put.Context == "" {
		t.Fatalf("PUT body %q: %v", w.Body, err)
	}
	if _, err := version.DecodeContext(put.Context); err != nil {
		t.Errorf("PUT context %q does not decode: %v", put.Context, err)
	}

	w = call(s, "GET", "/v1/kv/carts/alice", "")
	if w.Code != 200 || w.Body.String() != `{"items": [1, 2]}` {
		t.Fatalf("GET = %d %q", w.Code, w.Body)
	}
	if w.Header().Get(contextHeader) != put.Context || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET headers = %v", w.Header())
	}

	w = call(s, "DELETE", "/v1/kv/carts/alice", "")
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"existed":true}` {
		t.Fatalf("DELETE = %d %q", w.Code, w.Body)
	}
	w = call(s, "GET", "/v1/kv/carts/alice", "")
	if w.Code != 404 || errorOf(t, w).Error != "not_found" {
		t.Fatalf("GET after DELETE = %d %q", w.Code, w.Body)
	}
	if w.Header().Get(contextHeader) == "" {
		t.Error("404 of a deleted key carries no context")
	}
	if w := call(s, "DELETE", "/v1/kv/carts/alice", ""); strings.TrimSpace(w.Body.String()) != `{"existed":false}` {
		t.Errorf("second DELETE = %q", w.Body)
	}
	if w := call(s, "GET", "/v1/kv/carts/nobody", ""); w.Code != 404 || w.Header().Get(contextHeader) != "" {
		t.Errorf("GET of a never-written key = %d, context %q", w.Code, w.Header().Get(contextHeader))
	}
	for _, r := range be.Requests() {
		if r.Level != core.Quorum || r.Key.Keyspace != "carts" {
			t.Errorf("request %+v: want QUORUM in keyspace carts", r)
		}
	}
}

func TestKeysFromPath(t *testing.T) {
	s, be := newTestServer(t, nil)
	for path, key := range map[string]string{
		"/v1/kv/ks/a/b//c/../d": "a/b//c/../d",
		"/v1/kv/ks/x%2Fy":       "x/y",
		"/v1/kv/ks/sp%20ace":    "sp ace",
		"/v1/kv/ks/plus+sign":   "plus+sign",
		"/v1/kv/ks/%E2%9C%93":   "✓",
	} {
		if w := call(s, "PUT", path, `1`); w.Code != 200 {
			t.Errorf("PUT %s = %d %s", path, w.Code, w.Body)
			continue
		}
		if _, ok := be.Object(object.Key{Keyspace: "ks", Key: key}); !ok {
			t.Errorf("PUT %s did not store key %q", path, key)
		}
		if w := call(s, "GET", path, ""); w.Code != 200 || w.Body.String() != "1" {
			t.Errorf("GET %s = %d %q", path, w.Code, w.Body)
		}
	}
}

func TestBadRequests(t *testing.T) {
	s, be := newTestServer(t, func(c *Config) { c.Limits = api.Limits{MaxValueBytes: 100} })
	valid := version.EncodeContext(version.Vector{{Actor: "n1", Counter: 3}})
	for _, tc := range []struct {
		method, target, body string
		header               []string
		status               int
		code, message        string
	}{
		{"GET", "/v1/kv/ks/k?r=ONE&r=ALL", "", nil, 400, "bad_request", `query parameter "r" given 2 times`},
		{"GET", "/v1/kv/ks/k?r=FOO", "", nil, 400, "bad_request", `unknown consistency level "FOO" (want ONE, TWO, THREE, QUORUM, ALL or ANY)`},
		{"GET", "/v1/kv/ks/k?r=", "", nil, 400, "bad_request", `unknown consistency level "" (want ONE, TWO, THREE, QUORUM, ALL or ANY)`},
		{"GET", "/v1/kv/ks/k?r=ANY", "", nil, 400, "bad_request", "ANY is a write-only level"},
		{"GET", "/v1/kv/ks/k?w=ONE", "", nil, 400, "bad_request", `unknown query parameter "w" (this request accepts only "r")`},
		{"GET", "/v1/kv/ks/k?r=ONE&debug=1", "", nil, 400, "bad_request", `unknown query parameter "debug" (this request accepts only "r")`},
		{"GET", "/v1/kv/ks/k?r=ONE;x", "", nil, 400, "bad_request", "malformed query string: invalid semicolon separator in query"},
		{"PUT", "/v1/kv/ks/k?w=ONE&w=ONE", "1", nil, 400, "bad_request", `query parameter "w" given 2 times`},
		{"PUT", "/v1/kv/ks/k?r=ONE", "1", nil, 400, "bad_request", `unknown query parameter "r" (this request accepts only "w")`},
		{"DELETE", "/v1/kv/ks/k?w=SOME", "", nil, 400, "bad_request", `unknown consistency level "SOME" (want ONE, TWO, THREE, QUORUM, ALL or ANY)`},
		{"PUT", "/v1/kv/ks/k", "", nil, 400, "bad_request", "the body must be one JSON value"},
		{"PUT", "/v1/kv/ks/k", "{", nil, 400, "bad_request", "the body must be one JSON value"},
		{"PUT", "/v1/kv/ks/k", "1 2", nil, 400, "bad_request", "the body must be one JSON value"},
		{"PUT", "/v1/kv/ks/k", "hello", nil, 400, "bad_request", "the body must be one JSON value"},
		{"PUT", "/v1/kv/ks/k", `"` + strings.Repeat("v", 100) + `"`, nil, 413, "too_large", "value of 102 bytes exceeds the 100-byte limit"},
		{"PUT", "/v1/kv/ks/k", "1", []string{contextHeader, "!!"}, 400, "bad_request", "malformed X-Chorus-Context header"},
		{"PUT", "/v1/kv/ks/k", "1", []string{contextHeader, valid, contextHeader, valid}, 400, "bad_request", "X-Chorus-Context header given 2 times"},
		{"DELETE", "/v1/kv/ks/k", "", []string{contextHeader, "AAAA"}, 400, "bad_request", "malformed X-Chorus-Context header"},
		{"GET", "/v1/kv/ks/" + strings.Repeat("k", 2049), "", nil, 413, "too_large", "key of 2049 bytes exceeds the 2048-byte limit"},
		{"PUT", "/v1/kv/ks/" + strings.Repeat("k", 2049), "1", nil, 413, "too_large", "key of 2049 bytes exceeds the 2048-byte limit"},
		{"GET", "/v1/kv/ks", "", nil, 400, "bad_request", "missing key: use /v1/kv/{keyspace}/{key}"},
		{"GET", "/v1/kv/ks/", "", nil, 400, "bad_request", "missing key: use /v1/kv/{keyspace}/{key}"},
		{"GET", "/v1/kv/bad.name/k", "", nil, 400, "bad_request", `keyspace name "bad.name" may hold only letters, digits, '_' and '-'`},
		{"POST", "/v1/kv/ks/k", "1", nil, 405, "method_not_allowed", "POST /v1/kv/ks/k"},
		{"POST", "/healthz", "", nil, 405, "method_not_allowed", "POST /healthz"},
		{"GET", "/nope", "", nil, 404, "not_found", "no route for GET /nope"},
	} {
		w := call(s, tc.method, tc.target, tc.body, tc.header...)
		if w.Code != tc.status {
			t.Errorf("%s %.60s: status %d, want %d (%s)", tc.method, tc.target, w.Code, tc.status, w.Body)
			continue
		}
		if e := errorOf(t, w); e.Error != tc.code || e.Message != tc.message {
			t.Errorf("%s %.60s: error %+v, want %q %q", tc.method, tc.target, e, tc.code, tc.message)
		}
	}
	if n := len(be.Requests()); n != 0 {
		t.Errorf("backend saw %d requests, want none", n)
	}
	if w := call(s, "POST", "/v1/kv/ks/k", ""); w.Header().Get("Allow") != "GET, PUT, DELETE" {
		t.Errorf("405 Allow = %q", w.Header().Get("Allow"))
	}
}

func TestLevels(t *testing.T) {
	s, be := newTestServer(t, func(c *Config) { c.DefaultWriteLevel = core.Two })
	for _, tc := range []struct {
		method, target string
		want           core.Level
	}{
		{"PUT", "/v1/kv/ks/k", core.Two},
		{"PUT", "/v1/kv/ks/k?w=any", core.Any},
		{"GET", "/v1/kv/ks/k", core.Quorum},
		{"GET", "/v1/kv/ks/k?r=ONE", core.One},
		{"GET", "/v1/kv/ks/k?r=three", core.Three},
		{"DELETE", "/v1/kv/ks/k?w=ALL", core.All},
	} {
		be.ResetRequests()
		call(s, tc.method, tc.target, "1")
		reqs := be.Requests()
		if len(reqs) != 1 || reqs[0].Level != tc.want {
			t.Errorf("%s %s: requests %+v, want one at %s", tc.method, tc.target, reqs, tc.want)
		}
	}
}

func TestValueTooLarge(t *testing.T) {
	s, be := newTestServer(t, func(c *Config) { c.Limits = api.Limits{MaxValueBytes: 100} })
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	// Without a Content-Length (chunked), the limit is enforced while reading.
	body := io.MultiReader(strings.NewReader(`"`), strings.NewReader(strings.Repeat("v", 200)+`"`))
	req, _ := http.NewRequest("PUT", ts.URL+"/v1/kv/ks/k", body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(b), `"too_large"`) ||
		!strings.Contains(string(b), "value of more than 100 bytes exceeds the 100-byte limit") {
		t.Errorf("chunked oversized PUT = %d %s", resp.StatusCode, b)
	}
	if be.Len() != 0 || len(be.Requests()) != 0 {
		t.Error("an oversized value reached the backend")
	}
	w := call(s, "PUT", "/v1/kv/ks/k", `"`+strings.Repeat("v", 98)+`"`)
	if w.Code != 200 {
		t.Errorf("PUT of exactly the limit = %d %s", w.Code, w.Body)
	}
}

func TestSiblingsAndForeignValues(t *testing.T) {
	s, be := newTestServer(t, nil)
	d1, d2 := version.Dot{Actor: "a", Counter: 1}, version.Dot{Actor: "b", Counter: 1}
	ctx := version.Vector{d1, d2}
	be.SetObject(object.Key{Keyspace: "ks", Key: "two"}, object.Object{
		Kind: object.KindSiblings,
		Siblings: []object.Sibling{
			{Value: []byte(`{"n":1}`), Dot: d1, Timestamp: version.MakeTimestamp(1, 0)},
			{Value: []byte("not json"), Dot: d2, Timestamp: version.MakeTimestamp(2, 0)},
		},
		Context: ctx,
	})
	w := call(s, "GET", "/v1/kv/ks/two", "")
	want := fmt.Sprintf(`{"siblings":[{"n":1},"not json"],"context":%q}`, version.EncodeContext(ctx))
	if w.Code != 300 || strings.TrimSpace(w.Body.String()) != want {
		t.Errorf("GET siblings = %d %s, want 300 %s", w.Code, w.Body, want)
	}
	if w.Header().Get(contextHeader) != version.EncodeContext(ctx) {
		t.Errorf("300 context header = %q", w.Header().Get(contextHeader))
	}
	// A value set over RESP is not JSON: it comes back as a JSON string.
	be.Do(context.Background(), core.Request{Op: core.OpPut, Key: object.Key{Keyspace: "ks", Key: "raw"}, Value: []byte("hi \"there\"\n")})
	if w := call(s, "GET", "/v1/kv/ks/raw", ""); w.Code != 200 || w.Body.String() != `"hi \"there\"\n"` {
		t.Errorf("GET of a non-JSON value = %d %q", w.Code, w.Body)
	}
}

func TestBackendErrors(t *testing.T) {
	s, be := newTestServer(t, func(c *Config) { c.RequestTimeout = 50 * time.Millisecond })
	for _, tc := range []struct {
		err     error
		status  int
		code    string
		message string
	}{
		{fmt.Errorf("%w need 3 replicas for ALL, 2 alive", core.ErrUnavailable), 503, "unavailable", "need 3 replicas for ALL, 2 alive"},
		{fmt.Errorf("%w 1 of 2 required replicas answered within 1000ms", core.ErrTimeout), 504, "timeout", "1 of 2 required replicas answered within 1000ms"},
		{fmt.Errorf("%w key holds a counter", core.ErrWrongType), 409, "wrong_type", "key holds a counter"},
		{fmt.Errorf("%w value of 9 bytes exceeds the 8-byte limit", core.ErrTooLarge), 413, "too_large", "value of 9 bytes exceeds the 8-byte limit"},
		{fmt.Errorf("%w bad keyspace", core.ErrBadRequest), 400, "bad_request", "bad keyspace"},
		{core.ErrUnavailable, 503, "unavailable", "unavailable"},
		{errors.New("disk on fire"), 500, "internal", "disk on fire"},
	} {
		be.SetFailure(func(core.Request) error { return tc.err })
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			w := call(s, m, "/v1/kv/ks/k", "1")
			if w.Code != tc.status {
				t.Errorf("%s with %v: status %d, want %d", m, tc.err, w.Code, tc.status)
				continue
			}
			if e := errorOf(t, w); e.Error != tc.code || e.Message != tc.message {
				t.Errorf("%s with %v: %+v, want %q %q", m, tc.err, e, tc.code, tc.message)
			}
		}
	}
	be.SetFailure(nil)
	be.SetDelay(time.Second)
	if w := call(s, "GET", "/v1/kv/ks/k", ""); w.Code != 504 || errorOf(t, w).Error != "timeout" {
		t.Errorf("slow backend: %d %s", w.Code, w.Body)
	}
}

func TestClusterHealthMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "chorus_hints_delivered_total", Help: "Hints delivered."})
	reg.MustRegister(c)
	c.Add(7)
	s, be := newTestServer(t, func(cfg *Config) {
		cfg.Gatherer = reg
		cfg.Extra = func(mux *http.ServeMux) {
			mux.HandleFunc("GET /v1/hints", func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, 200, map[string]any{"pending": map[string]int{}})
			})
		}
	})
	be.SetCluster([]api.MemberInfo{
		{Member: membership.Member{ID: "n1", Zone: "z1", Status: membership.Alive,
			Addrs: membership.Addrs{RESP: "127.0.0.1:6380", HTTP: "127.0.0.1:7380", Gossip: "127.0.0.1:8380", RPC: "127.0.0.1:9380"}}, Ownership: 0.5},
		{Member: membership.Member{ID: "n2", Status: membership.Suspect}, Ownership: 0.25},
	}, 2)
	w := call(s, "GET", "/v1/cluster", "")
	want := `{"node":"n1","replication_factor":2,"members":[` +
		`{"id":"n1","status":"alive","zone":"z1","addrs":{"resp":"127.0.0.1:6380","http":"127.0.0.1:7380","gossip":"127.0.0.1:8380","rpc":"127.0.0.1:9380"},"ownership":0.5},` +
		`{"id":"n2","status":"suspect","zone":"","addrs":{"resp":"","http":"","gossip":"","rpc":""},"ownership":0.25}]}`
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != want {
		t.Errorf("GET /v1/cluster = %d\n%s\nwant\n%s", w.Code, w.Body, want)
	}
	if w := call(s, "GET", "/healthz", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"filling":false,"node":"n1","status":"ok"}` {
		t.Errorf("GET /healthz = %d %s", w.Code, w.Body)
	}
	if w := call(s, "GET", "/metrics", ""); w.Code != 200 || !strings.Contains(w.Body.String(), "chorus_hints_delivered_total 7") {
		t.Errorf("GET /metrics = %d %s", w.Code, w.Body)
	}
	if w := call(s, "GET", "/v1/hints", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"pending":{}}` {
		t.Errorf("Extra route = %d %s", w.Code, w.Body)
	}
}

func TestServeAndShutdown(t *testing.T) {
	s, be := newTestServer(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l) }()
	resp, err := http.Get("http://" + l.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("healthz = %d", resp.StatusCode)
	}
	// Over a real connection too, a key path is taken as it is: not cleaned, not
	// redirected.
	req, _ := http.NewRequest("PUT", "http://"+l.Addr().String()+"/v1/kv/ks/a//b/../c", strings.NewReader("1"))
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := be.Object(object.Key{Keyspace: "ks", Key: "a//b/../c"}); resp.StatusCode != 200 || !ok {
		t.Errorf("PUT a//b/../c = %d, stored %v", resp.StatusCode, ok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if s.Close() != nil || s.Close() != nil {
		t.Error("Close is not idempotent")
	}
}

func TestHealthzReportsStorageFailureAndFilling(t *testing.T) {
	be := apitest.NewBackend("n1")
	healthy, filling := false, true
	s := NewServer(Config{Backend: be, Healthy: func() bool { return healthy }, Filling: func() bool { return filling }})
	if w := call(s, "GET", "/healthz", ""); w.Code != 503 || !strings.Contains(w.Body.String(), `"unhealthy"`) {
		t.Fatalf("unhealthy node: GET /healthz = %d %s", w.Code, w.Body)
	}
	healthy = true
	if w := call(s, "GET", "/healthz", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"filling":true`) {
		t.Fatalf("filling node: GET /healthz = %d %s", w.Code, w.Body)
	}
}
