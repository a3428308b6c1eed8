package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/api/apitest"
	"github.com/chorusdb/chorus/internal/api/http/console"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/version"
)

// openAPIPath is docs/openapi.yaml, relative to this package's directory (where go
// test runs).
const openAPIPath = "../../../docs/openapi.yaml"

// openAPIRoute is one route the server registers, with the methods it serves.
type openAPIRoute struct {
	pattern string   // as given to the mux ("/v1/crdt/" is a prefix, "GET /v1/keyspaces" has a method)
	methods []string // the methods the route serves (upper case)
}

// openAPIRoutes is every route NewServer registers (with a Backend that offers the
// operator and keyspace routes). TestOpenAPIRouteListIsCurrent keeps it in step with
// the source; TestOpenAPIDocumentsEveryRoute checks that the spec documents each.
var openAPIRoutes = []openAPIRoute{
	{kvPrefix, []string{"GET", "PUT", "DELETE"}}, // routed by ServeHTTP, not the mux
	{"/v1/cluster", []string{"GET"}},
	{"/healthz", []string{"GET"}},
	{"/metrics", []string{"GET"}},
	{"/", nil}, // the catch-all 404 "no route": not documented as a path
	{console.Prefix, []string{"GET"}},
	{"/v1/hints", []string{"GET"}},
	{"/v1/read-repairs", []string{"GET"}},
	{"/v1/repair", []string{"POST"}},
	{"GET /v1/keyspaces", []string{"GET"}},
	{"PUT /v1/keyspaces/{name}", []string{"PUT"}},
	{crdtPrefix, []string{"GET", "POST"}},
	{inspectPrefix, []string{"GET"}},
	{stalenessPath, []string{"GET"}},
}

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI parses the spec into generic YAML values.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatalf("reading the spec: %v", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s is not valid YAML: %v", openAPIPath, err)
	}
	if doc == nil {
		t.Fatalf("%s is empty", openAPIPath)
	}
	return doc
}

// oaMap returns m[key] as a map, or nil.
func oaMap(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

// oaLookup follows a path of map keys from doc.
func oaLookup(doc map[string]any, keys ...string) any {
	var cur any = doc
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// oaStrings returns v as a list of strings (nil if it is not one).
func oaStrings(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	var out []string
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// oaResolve follows node's "$ref" (local references only), repeatedly.
func oaResolve(doc map[string]any, node map[string]any) (map[string]any, error) {
	for i := 0; node != nil; i++ {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node, nil
		}
		if i > 32 {
			return nil, fmt.Errorf("$ref cycle at %q", ref)
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, fmt.Errorf("$ref %q is not local", ref)
		}
		var keys []string
		for _, k := range strings.Split(ref[2:], "/") {
			keys = append(keys, strings.ReplaceAll(strings.ReplaceAll(k, "~1", "/"), "~0", "~"))
		}
		next, ok := oaLookup(doc, keys...).(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q points at nothing", ref)
		}
		node = next
	}
	return node, nil
}

// oaOperation is one documented path and method.
type oaOperation struct {
	path, method string // method in upper case
	op           map[string]any
	params       []map[string]any // the path item's and the operation's, resolved
}

// oaOperations lists the spec's operations, sorted by path, in the order PUT, POST,
// GET, DELETE, … (so that a GET finds what the PUT before it wrote).
func oaOperations(t *testing.T, doc map[string]any) []oaOperation {
	t.Helper()
	paths := oaMap(doc, "paths")
	names := make([]string, 0, len(paths))
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	order := []string{"put", "post", "get", "delete", "patch", "options", "head", "trace"}
	var ops []oaOperation
	for _, p := range names {
		item, _ := paths[p].(map[string]any)
		for _, m := range order {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			var params []map[string]any
			for _, list := range []any{item["parameters"], op["parameters"]} {
				l, _ := list.([]any)
				for _, e := range l {
					pm, _ := e.(map[string]any)
					r, err := oaResolve(doc, pm)
					if err != nil {
						t.Errorf("%s %s: parameter: %v", strings.ToUpper(m), p, err)
						continue
					}
					params = append(params, r)
				}
			}
			ops = append(ops, oaOperation{path: p, method: strings.ToUpper(m), op: op, params: params})
		}
	}
	return ops
}

// TestOpenAPIDocument checks the spec's structure: the required top-level fields,
// resolvable references, declared path parameters and described responses.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi = %q, want 3.x", v)
	}
	info := oaMap(doc, "info")
	if info == nil || info["title"] == nil || info["version"] == nil {
		t.Errorf("info must have a title and a version: %v", info)
	}
	if len(oaMap(doc, "paths")) == 0 {
		t.Fatal("no paths")
	}
	for p, item := range oaMap(doc, "paths") {
		im, ok := item.(map[string]any)
		if !ok || !strings.HasPrefix(p, "/") {
			t.Errorf("path %q is not a path item", p)
			continue
		}
		for k := range im {
			if !slices.Contains(openAPIMethods, k) && !slices.Contains([]string{"parameters", "summary", "description", "servers", "$ref"}, k) {
				t.Errorf("path %q has an unknown key %q (methods are lower case)", p, k)
			}
		}
	}

	// Every $ref resolves.
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["$ref"]; ok {
				if _, err := oaResolve(doc, x); err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
			for k, e := range x {
				walk(where+"/"+k, e)
			}
		case []any:
			for i, e := range x {
				walk(where+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", doc)

	ids := map[string]string{}
	tmpl := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range oaOperations(t, doc) {
		name := o.method + " " + o.path
		if id, _ := o.op["operationId"].(string); id == "" {
			t.Errorf("%s has no operationId", name)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("operationId %q of %s is also %s's", id, name, prev)
		} else {
			ids[id] = name
		}
		declared := map[string]bool{}
		for _, p := range o.params {
			if p["in"] == "path" {
				declared[fmt.Sprint(p["name"])] = true
				if p["required"] != true {
					t.Errorf("%s: path parameter %v must be required", name, p["name"])
				}
			}
		}
		for _, m := range tmpl.FindAllStringSubmatch(o.path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not declared", name, m[1])
			}
			delete(declared, m[1])
		}
		for p := range declared {
			t.Errorf("%s: path parameter %q is not in the path", name, p)
		}
		resps := oaMap(o.op, "responses")
		if len(resps) == 0 {
			t.Errorf("%s has no responses", name)
		}
		for code, r := range resps {
			rm, _ := r.(map[string]any)
			rm, err := oaResolve(doc, rm)
			if err != nil || rm == nil {
				t.Errorf("%s %s: %v", name, code, err)
				continue
			}
			if d, _ := rm["description"].(string); d == "" {
				t.Errorf("%s: response %s has no description", name, code)
			}
		}
	}
}

// openAPIBackend is the fake backend with the operator and keyspace routes, CRDT
// updates, the key inspector and the staleness prediction, so that every documented
// operation can succeed.
type openAPIBackend struct {
	*apitest.Backend
	mu        sync.Mutex
	keyspaces map[string]api.Keyspace
	levels    []core.Level // the level of every request Do received
}

// Do runs CRDT updates and inspections itself and the rest on the fake.
func (b *openAPIBackend) Do(ctx context.Context, req core.Request) core.Reply {
	b.mu.Lock()
	b.levels = append(b.levels, req.Level)
	b.mu.Unlock()
	switch req.Op {
	case core.OpUpdate:
		old, _ := b.Object(req.Key)
		var v crdt.Value
		if t, ok := old.Kind.CRDT(); ok {
			if t != req.CRDT.Type {
				return core.Reply{Err: fmt.Errorf("%w the key holds a %s, not a %s", core.ErrWrongType, t, req.CRDT.Type)}
			}
			var err error
			if v, err = old.CRDT(); err != nil {
				return core.Reply{Err: err}
			}
		} else {
			if len(old.Live(time.Now().UnixMilli())) > 0 {
				return core.Reply{Err: fmt.Errorf("%w the key holds a value, not a %s", core.ErrWrongType, req.CRDT.Type)}
			}
			v, _ = crdt.New(req.CRDT.Type)
		}
		ts := version.MakeTimestamp(time.Now().UnixMilli(), 0)
		if err := req.CRDT.Apply(v, "n1", uint64(ts)); err != nil {
			return core.Reply{Err: fmt.Errorf("%w %v", core.ErrBadRequest, err)}
		}
		obj := object.Object{Kind: object.KindOf(req.CRDT.Type), Siblings: []object.Sibling{{
			Value: crdt.Encode(v), Dot: version.Dot{Actor: "n1", Counter: uint64(ts)}, Timestamp: ts,
		}}}
		b.SetObject(req.Key, obj)
		return core.Reply{Found: true, Obj: obj, Acks: 1}
	case core.OpInspect:
		obj, ok := b.Object(req.Key)
		if !ok {
			now := time.Now().UnixMilli()
			obj = object.Object{Kind: object.KindSiblings, Siblings: []object.Sibling{
				{Dot: version.Dot{Actor: "n1", Counter: 1}, Timestamp: version.MakeTimestamp(now, 0), Value: []byte(`"draft A"`)},
				{Dot: version.Dot{Actor: "n2", Counter: 1}, Timestamp: version.MakeTimestamp(now, 1), Tombstone: true, ExpiresAt: now + 1000},
			}}
			obj.Context = obj.Context.Add(obj.Siblings[0].Dot).Add(obj.Siblings[1].Dot)
		}
		return core.Reply{Acks: 1, Copies: []core.ReplicaCopy{
			{Node: "n1", Up: true, Obj: obj},
			{Node: "n2", Up: true, Filling: true, Obj: obj},
			{Node: "n3", Err: "down"},
		}}
	case core.OpPut, core.OpDelete:
		if old, ok := b.Object(req.Key); ok && !old.Kind.IsRegister() {
			return core.Reply{Err: fmt.Errorf("%w the key holds a %s; use its commands", core.ErrWrongType, old.Kind)}
		}
	}
	return b.Backend.Do(ctx, req)
}

// sawLevel reports whether some request reached Do with level l.
func (b *openAPIBackend) sawLevel(l core.Level) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Contains(b.levels, l)
}

func (b *openAPIBackend) Hints(context.Context) ([]api.HintBacklog, error) {
	return []api.HintBacklog{{Target: "n3", Count: 7, Bytes: 700, Oldest: time.UnixMilli(1000).UTC()}}, nil
}

func (b *openAPIBackend) ReadRepairs(limit int) ([]record.Repair, error) {
	all := []record.Repair{{Key: object.Key{Keyspace: "default", Key: "k1"}, StaleNode: "n2", RepairedAt: 1000}}
	return all[:min(limit, len(all))], nil
}

func (b *openAPIBackend) Repair(_ context.Context, _ string, progress func(api.RepairProgress)) (api.RepairProgress, error) {
	progress(api.RepairProgress{Exchanges: 2, Finished: 1})
	return api.RepairProgress{Exchanges: 2, Finished: 2, KeysRepaired: 5, Done: true}, nil
}

func (b *openAPIBackend) Keyspaces() []api.Keyspace {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := []api.Keyspace{{Name: "default", Resolution: "lww", ReplicationFactor: 3, ReadRepair: "async"}}
	for _, ks := range b.keyspaces {
		out = append(out, ks)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (b *openAPIBackend) PutKeyspace(_ context.Context, ks api.Keyspace) (api.Keyspace, error) {
	if err := core.ValidateKeyspace(ks.Name); err != nil {
		return api.Keyspace{}, err
	}
	if ks.Resolution == "" {
		ks.Resolution = "lww"
	}
	if ks.ReplicationFactor == 0 {
		ks.ReplicationFactor = 3
	}
	if ks.ReadRepair == "" {
		ks.ReadRepair = "async"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keyspaces == nil {
		b.keyspaces = map[string]api.Keyspace{}
	}
	b.keyspaces[ks.Name] = ks
	return ks, nil
}

func (b *openAPIBackend) Staleness(replicaCoordinators bool) api.StalenessReport {
	return testStalenessReport(replicaCoordinators)
}

var (
	_ api.Operator           = (*openAPIBackend)(nil)
	_ api.KeyspaceAdmin      = (*openAPIBackend)(nil)
	_ api.StalenessPredictor = (*openAPIBackend)(nil)
)

// oaExample returns a media type's example (the first of "examples" by name when it
// has no single "example").
func oaExample(doc map[string]any, media map[string]any) (any, bool) {
	if v, ok := media["example"]; ok {
		return v, true
	}
	exs := oaMap(media, "examples")
	names := make([]string, 0, len(exs))
	for n := range exs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ex, _ := exs[n].(map[string]any)
		if ex, err := oaResolve(doc, ex); err == nil && ex != nil {
			if v, ok := ex["value"]; ok {
				return v, true
			}
		}
	}
	return nil, false
}

// oaRequest builds a request for a documented operation: path parameters from their
// examples, the body from the request body's example, query as given.
func oaRequest(t *testing.T, doc map[string]any, o oaOperation, query string) *http.Request {
	t.Helper()
	target := o.path
	for _, p := range o.params {
		if p["in"] != "path" {
			continue
		}
		val := "x"
		if ex, ok := p["example"]; ok {
			val = fmt.Sprint(ex)
		}
		target = strings.ReplaceAll(target, "{"+fmt.Sprint(p["name"])+"}", val)
	}
	if query != "" {
		target += "?" + query
	}
	var body io.Reader
	if rb, _ := oaResolve(doc, oaMap(o.op, "requestBody")); rb != nil {
		for ct, m := range oaMap(rb, "content") {
			media, _ := m.(map[string]any)
			ex, ok := oaExample(doc, media)
			if !ok {
				t.Errorf("%s %s: request body %s has no example", o.method, o.path, ct)
				continue
			}
			b, err := json.Marshal(ex)
			if err != nil {
				t.Fatalf("%s %s: example: %v", o.method, o.path, err)
			}
			body = bytes.NewReader(b)
		}
	}
	r := httptest.NewRequest(o.method, target, body)
	r.Header.Set("Content-Type", "application/json")
	return r
}

// TestOpenAPIRoutesServed starts a server on a fake backend for each documented path
// and sends each of its documented operations (PUT, POST, GET, DELETE in that order):
// the server must route it (no 404 "no route", no 405), answer a documented status
// with a documented content type, and a JSON body that fits the documented schema.
// Each documented value of an enumerated query parameter must be accepted.
func TestOpenAPIRoutesServed(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := oaOperations(t, doc)
	if len(ops) == 0 {
		t.Fatal("the spec documents no operation")
	}
	var be *openAPIBackend
	var s *Server
	for i, o := range ops {
		if i == 0 || o.path != ops[i-1].path { // a fresh server for each path
			be = &openAPIBackend{Backend: apitest.NewBackend("n1")}
			s = NewServer(Config{Backend: be})
		}
		name := o.method + " " + o.path
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, oaRequest(t, doc, o, ""))
		oaCheckRouted(t, name, w)
		oaCheckResponse(t, doc, name, o.op, w)

		for _, p := range o.params {
			if p["in"] != "query" {
				continue
			}
			schema, err := oaResolve(doc, oaMap(p, "schema"))
			if err != nil || schema == nil {
				continue
			}
			for _, v := range oaStrings(schema["enum"]) {
				q := fmt.Sprint(p["name"]) + "=" + v
				w := httptest.NewRecorder()
				s.Handler().ServeHTTP(w, oaRequest(t, doc, o, q))
				oaCheckRouted(t, name+"?"+q, w)
				if w.Code == http.StatusBadRequest {
					if l, err := core.ParseLevel(v); err != nil || !be.sawLevel(l) {
						t.Errorf("%s?%s = 400 %s: the documented value is refused", name, q, w.Body)
					}
				}
				oaCheckResponse(t, doc, name+"?"+q, o.op, w)
			}
		}
	}

	// Responses the probes above do not reach: each must be documented and fit.
	now := time.Now().UnixMilli()
	siblings := object.Object{Kind: object.KindSiblings, Siblings: []object.Sibling{
		{Dot: version.Dot{Actor: "n1", Counter: 1}, Timestamp: version.MakeTimestamp(now, 0), Value: []byte(`"draft A"`)},
		{Dot: version.Dot{Actor: "n2", Counter: 1}, Timestamp: version.MakeTimestamp(now, 1), Value: []byte(`"draft B"`)},
	}}
	siblings.Context = siblings.Context.Add(siblings.Siblings[0].Dot).Add(siblings.Siblings[1].Dot)
	plain := object.Object{Kind: object.KindRegister, Siblings: siblings.Siblings[:1]}
	for _, tc := range []struct {
		method, path, target string
		cfg                  func(*Config)
		setup                func(*openAPIBackend)
		want                 int
	}{
		{"GET", "/v1/kv/{keyspace}/{key}", "/v1/kv/docs/page", nil,
			func(b *openAPIBackend) { b.SetObject(object.Key{Keyspace: "docs", Key: "page"}, siblings) }, http.StatusMultipleChoices},
		{"GET", "/v1/crdt/{keyspace}/{key}", "/v1/crdt/docs/page", nil,
			func(b *openAPIBackend) { b.SetObject(object.Key{Keyspace: "docs", Key: "page"}, plain) }, http.StatusConflict},
		{"GET", "/v1/kv/{keyspace}/{key}", "/v1/kv/docs/page?r=ANY", nil, nil, http.StatusBadRequest},
		{"GET", "/v1/kv/{keyspace}/{key}", "/v1/kv/docs/page", nil,
			func(b *openAPIBackend) { b.SetFailure(func(core.Request) error { return core.ErrUnavailable }) }, http.StatusServiceUnavailable},
		{"GET", "/healthz", "/healthz", func(c *Config) { c.Healthy = func() bool { return false } }, nil, http.StatusServiceUnavailable},
	} {
		name := tc.method + " " + tc.target
		var op map[string]any
		for _, o := range ops {
			if o.method == tc.method && o.path == tc.path {
				op = o.op
			}
		}
		if op == nil {
			t.Errorf("%s %s is not documented", tc.method, tc.path)
			continue
		}
		be := &openAPIBackend{Backend: apitest.NewBackend("n1")}
		cfg := Config{Backend: be}
		if tc.cfg != nil {
			tc.cfg(&cfg)
		}
		if tc.setup != nil {
			tc.setup(be)
		}
		w := httptest.NewRecorder()
		NewServer(cfg).Handler().ServeHTTP(w, httptest.NewRequest(tc.method, tc.target, nil))
		if w.Code != tc.want {
			t.Errorf("%s = %d %s, want %d", name, w.Code, w.Body, tc.want)
		}
		oaCheckResponse(t, doc, name, op, w)
	}
}

// oaCheckRouted fails if the server did not route the request.
func oaCheckRouted(t *testing.T, name string, w *httptest.ResponseRecorder) {
	t.Helper()
	switch {
	case w.Code == http.StatusMethodNotAllowed:
		t.Errorf("%s = 405 %s: documented but the server refuses the method", name, w.Body)
	case w.Code == http.StatusNotFound && strings.Contains(w.Body.String(), "no route"):
		t.Errorf("%s = 404 %s: documented but the server has no route", name, w.Body)
	}
}

// oaCheckResponse checks a response against the operation's documented responses.
func oaCheckResponse(t *testing.T, doc map[string]any, name string, op map[string]any, w *httptest.ResponseRecorder) {
	t.Helper()
	resps := oaMap(op, "responses")
	r, ok := resps[strconv.Itoa(w.Code)].(map[string]any)
	if !ok {
		r, ok = resps["default"].(map[string]any)
	}
	if !ok {
		t.Errorf("%s answered %d, which is not documented (%s)", name, w.Code, w.Body)
		return
	}
	r, err := oaResolve(doc, r)
	if err != nil || r == nil {
		return // TestOpenAPIDocument reports it
	}
	content := oaMap(r, "content")
	if len(content) == 0 || w.Body.Len() == 0 {
		return
	}
	mt, _, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if err != nil {
		t.Errorf("%s: Content-Type %q: %v", name, w.Header().Get("Content-Type"), err)
		return
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		t.Errorf("%s answered %d as %s, but documents %v", name, w.Code, mt, slices.Sorted(maps.Keys(content)))
		return
	}
	schema := oaMap(media, "schema")
	switch mt {
	case "application/json":
		var v any
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Errorf("%s: the %d body is not JSON: %v", name, w.Code, err)
			return
		}
		for _, e := range oaValidate(doc, schema, v, "body") {
			t.Errorf("%s %d: %s (body %s)", name, w.Code, e, strings.TrimSpace(w.Body.String()))
		}
	case "application/x-ndjson":
		sc := bufio.NewScanner(bytes.NewReader(w.Body.Bytes()))
		for i := 1; sc.Scan(); i++ {
			var v any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Errorf("%s: line %d is not JSON: %v", name, i, err)
				continue
			}
			for _, e := range oaValidate(doc, schema, v, "line "+strconv.Itoa(i)) {
				t.Errorf("%s %d: %s", name, w.Code, e)
			}
		}
	}
}

// oaValidate checks v against a schema: the subset of JSON Schema the spec uses
// ($ref, type, enum, required, properties, additionalProperties, items, oneOf). It is
// stricter than OpenAPI in one way: an object schema with properties and no
// additionalProperties must declare every property the server sends.
func oaValidate(doc map[string]any, schema map[string]any, v any, where string) []string {
	schema, err := oaResolve(doc, schema)
	if err != nil {
		return []string{where + ": " + err.Error()}
	}
	if schema == nil {
		return nil
	}
	if alts, ok := schema["oneOf"].([]any); ok {
		var all []string
		for _, a := range alts {
			am, _ := a.(map[string]any)
			errs := oaValidate(doc, am, v, where)
			if len(errs) == 0 {
				return nil
			}
			all = append(all, errs...)
		}
		return []string{fmt.Sprintf("%s fits none of oneOf: %s", where, strings.Join(all, "; "))}
	}
	if v == nil {
		if schema["type"] == nil || schema["nullable"] == true {
			return nil
		}
		return []string{where + " is null"}
	}
	if enum := oaStrings(schema["enum"]); enum != nil && !slices.Contains(enum, fmt.Sprint(v)) {
		return []string{fmt.Sprintf("%s = %v is not one of %v", where, v, enum)}
	}
	var errs []string
	switch typ, _ := schema["type"].(string); typ {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s is %T, not an object", where, v)}
		}
		for _, req := range oaStrings(schema["required"]) {
			if _, ok := obj[req]; !ok {
				errs = append(errs, fmt.Sprintf("%s lacks required %q", where, req))
			}
		}
		props := oaMap(schema, "properties")
		extra, hasExtra := schema["additionalProperties"]
		for k, e := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, oaValidate(doc, ps, e, where+"."+k)...)
				continue
			}
			switch x := extra.(type) {
			case map[string]any:
				errs = append(errs, oaValidate(doc, x, e, where+"."+k)...)
			case bool:
				if !x {
					errs = append(errs, fmt.Sprintf("%s has undocumented property %q", where, k))
				}
			default:
				if !hasExtra && len(props) > 0 {
					errs = append(errs, fmt.Sprintf("%s has undocumented property %q", where, k))
				}
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s is %T, not an array", where, v)}
		}
		items := oaMap(schema, "items")
		for i, e := range arr {
			errs = append(errs, oaValidate(doc, items, e, where+"["+strconv.Itoa(i)+"]")...)
		}
	case "string":
		if _, ok := v.(string); !ok {
			errs = append(errs, fmt.Sprintf("%s is %T, not a string", where, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s is %T, not a boolean", where, v))
		}
	case "number", "integer":
		f, ok := v.(float64)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s is %T, not a number", where, v))
		} else if typ == "integer" && f != float64(int64(f)) {
			errs = append(errs, fmt.Sprintf("%s = %v is not an integer", where, f))
		}
	}
	return errs
}

// packageFiles parses this package's non-test Go files.
func packageFiles(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatalf("parsing %s: %v", n, err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatal("found no Go files of the package")
	}
	return fset, files
}

// TestOpenAPIRouteListIsCurrent reads the mux registrations (s.mux.Handle and
// s.mux.HandleFunc) in the package's source and checks that openAPIRoutes lists
// exactly them (plus kvPrefix, which ServeHTTP routes itself).
func TestOpenAPIRouteListIsCurrent(t *testing.T) {
	fset, files := packageFiles(t)
	consts := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[n.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	qualified := map[string]string{"console.Prefix": console.Prefix}
	var eval func(e ast.Expr) (string, bool)
	eval = func(e ast.Expr) (string, bool) {
		switch x := e.(type) {
		case *ast.BasicLit:
			if x.Kind == token.STRING {
				s, err := strconv.Unquote(x.Value)
				return s, err == nil
			}
		case *ast.Ident:
			s, ok := consts[x.Name]
			return s, ok
		case *ast.SelectorExpr:
			if pkg, ok := x.X.(*ast.Ident); ok {
				s, ok := qualified[pkg.Name+"."+x.Sel.Name]
				return s, ok
			}
		case *ast.BinaryExpr:
			if x.Op == token.ADD {
				a, ok1 := eval(x.X)
				b, ok2 := eval(x.Y)
				return a + b, ok1 && ok2
			}
		case *ast.ParenExpr:
			return eval(x.X)
		}
		return "", false
	}
	found := map[string]bool{kvPrefix: true}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			recv, ok := sel.X.(*ast.SelectorExpr)
			if !ok || recv.Sel.Name != "mux" {
				return true
			}
			p, ok := eval(call.Args[0])
			if !ok {
				t.Errorf("%s: cannot evaluate the route pattern; teach TestOpenAPIRouteListIsCurrent", fset.Position(call.Pos()))
				return true
			}
			found[p] = true
			return true
		})
	}
	listed := map[string]bool{}
	for _, r := range openAPIRoutes {
		listed[r.pattern] = true
	}
	for p := range found {
		if !listed[p] {
			t.Errorf("the server registers %q, which openAPIRoutes does not list: add it there and document it in docs/openapi.yaml", p)
		}
	}
	for p := range listed {
		if !found[p] {
			t.Errorf("openAPIRoutes lists %q, which the server no longer registers", p)
		}
	}
}

// TestOpenAPIDocumentsEveryRoute checks that every registered route is documented
// with each method it serves.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	paths := oaMap(doc, "paths")
	wild := regexp.MustCompile(`\{[^}]*\}`)
	norm := func(p string) string { return wild.ReplaceAllString(p, "{}") }
	for _, r := range openAPIRoutes {
		if r.pattern == "/" {
			continue
		}
		pat := r.pattern
		if m, rest, ok := strings.Cut(pat, " "); ok {
			if !slices.Equal(r.methods, []string{m}) {
				t.Errorf("openAPIRoutes: %q lists methods %v", pat, r.methods)
			}
			pat = rest
		}
		var matched []string
		for p := range paths {
			if norm(p) == norm(pat) || (strings.HasSuffix(pat, "/") && strings.HasPrefix(p, pat)) {
				matched = append(matched, p)
			}
		}
		if len(matched) == 0 {
			t.Errorf("the server's route %q is not documented in %s", r.pattern, openAPIPath)
			continue
		}
		for _, m := range r.methods {
			ok := false
			for _, p := range matched {
				item, _ := paths[p].(map[string]any)
				if _, has := item[strings.ToLower(m)]; has {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s %s is served but not documented (documented paths %v)", m, r.pattern, matched)
			}
		}
	}
	// And no documented path is outside the server's routes.
	for p := range paths {
		ok := false
		for _, r := range openAPIRoutes {
			pat := r.pattern
			if _, rest, cut := strings.Cut(pat, " "); cut {
				pat = rest
			}
			if pat != "/" && (norm(p) == norm(pat) || (strings.HasSuffix(pat, "/") && strings.HasPrefix(p, pat))) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s documents %q, which the server does not register", openAPIPath, p)
		}
	}
}

// classifyCodes returns the codes errors.go's classify returns, read from its source
// (every return statement's second result), so that a new case is seen at once.
func classifyCodes(t *testing.T) []string {
	t.Helper()
	_, files := packageFiles(t)
	var codes []string
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != "classify" || fd.Recv != nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				ret, ok := n.(*ast.ReturnStmt)
				if !ok || len(ret.Results) < 2 {
					return true
				}
				lit, ok := ret.Results[1].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Errorf("classify returns a code that is not a string literal: update classifyCodes")
					return true
				}
				s, _ := strconv.Unquote(lit.Value)
				codes = append(codes, s)
				return true
			})
		}
	}
	if len(codes) == 0 {
		t.Fatal("found no classify function with codes in the package")
	}
	return codes
}

// TestOpenAPIErrorCodes checks that the Error schema's enum lists exactly the codes
// classify produces.
func TestOpenAPIErrorCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	enum := oaStrings(oaLookup(doc, "components", "schemas", "Error", "properties", "error", "enum"))
	if enum == nil {
		t.Fatal("components.schemas.Error.properties.error.enum is missing")
	}
	codes := classifyCodes(t)
	// The source and the function agree (the parse found the real codes).
	for _, err := range []error{core.ErrUnavailable, core.ErrTimeout, core.ErrTooLarge, core.ErrWrongType,
		core.ErrSiblingCap, core.ErrBadRequest, errNotFound, errMethod, context.Canceled, io.EOF} {
		if _, code, _ := classify(err); !slices.Contains(codes, code) {
			t.Errorf("classify(%v) = %q, which the source parse missed", err, code)
		}
	}
	for _, c := range codes {
		if !slices.Contains(enum, c) {
			t.Errorf("classify can answer error code %q, which the spec's Error enum %v lacks", c, enum)
		}
	}
	for _, c := range enum {
		if !slices.Contains(codes, c) {
			t.Errorf("the spec's Error enum lists %q, which classify never answers", c)
		}
	}
}

// TestOpenAPIEnums checks the level and CRDT enums against the code.
func TestOpenAPIEnums(t *testing.T) {
	doc := loadOpenAPI(t)
	var writes, reads []string
	for l := core.Quorum; l <= core.Any; l++ {
		writes = append(writes, l.String())
		if l != core.Any {
			reads = append(reads, l.String())
		}
	}
	var types, actions []string
	for ty := crdt.Type(1); ty.Valid(); ty++ {
		types = append(types, ty.String())
	}
	for a := crdt.Action(1); !strings.HasPrefix(a.String(), "crdt.Action("); a++ {
		actions = append(actions, a.String())
	}
	for _, tc := range []struct {
		schema string
		want   []string
	}{
		{"WriteLevel", writes},
		{"ReadLevel", reads},
		{"CRDTType", types},
		{"CRDTAction", actions},
	} {
		got := oaStrings(oaLookup(doc, "components", "schemas", tc.schema, "enum"))
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(tc.want))) {
			t.Errorf("components.schemas.%s.enum = %v, want %v", tc.schema, got, tc.want)
		}
	}
	// Every documented field type is one a map accepts.
	for _, ft := range oaStrings(oaLookup(doc, "components", "schemas", "CRDTFieldType", "enum")) {
		typ, err := crdt.ParseType(ft)
		if err != nil {
			t.Errorf("CRDTFieldType %q: %v", ft, err)
			continue
		}
		op := crdt.Op{Type: crdt.TypeMap, Action: crdt.ActAssign, Field: "f", FieldType: typ}
		if err := op.Validate(); err != nil && strings.Contains(err.Error(), "a map field must be") {
			t.Errorf("CRDTFieldType %q is not a map field type: %v", ft, err)
		}
	}
}
