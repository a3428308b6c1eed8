package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chorusdb/chorus/internal/api"
)

// FuzzHTTPKV sends arbitrary key-value requests (method, path, query, body, causal
// context) to the handler: it must not panic, must answer with a status the API
// documents, and every body must be JSON (an error body for every error status).
func FuzzHTTPKV(f *testing.F) {
	for _, s := range []struct {
		method                       uint8
		path, query, body, ctxHeader string
	}{
		{0, "ks/k", "r=ONE", "", ""},
		{1, "ks/k", "w=ANY", `{"a":[1,2]}`, ""},
		{1, "ks/a/b//c", "", `"x"`, "AAE"},
		{2, "ks/k", "w=ALL&w=ONE", "", ""},
		{0, "ks/k", "r=ONE&r=ALL", "", ""},
		{1, "bad.ks/k", "x=1", "{", "!!"},
		{3, "ks/%2F", "r", "null", ""},
		{1, "ks/" + strings.Repeat("k", 40), "", strings.Repeat("[", 30), ""},
	} {
		f.Add(s.method, s.path, s.query, s.body, s.ctxHeader)
	}
	s, _ := newTestServer(f, func(c *Config) { c.Limits = api.Limits{MaxKeyBytes: 32, MaxValueBytes: 64} })
	methods := []string{"GET", "PUT", "DELETE", "POST", "HEAD", "PATCH"}
	allowed := map[int]bool{200: true, 300: true, 400: true, 404: true, 405: true, 409: true, 413: true}
	f.Fuzz(func(t *testing.T, method uint8, path, query, body, ctxHeader string) {
		u := &url.URL{Path: kvPrefix + path, RawQuery: query}
		r, err := http.NewRequest(methods[int(method)%len(methods)], "http://chorus"+u.String(), strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		if ctxHeader != "" {
			r.Header.Set(contextHeader, ctxHeader)
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if !allowed[w.Code] {
			t.Fatalf("%s %s: status %d (%s)", r.Method, r.URL, w.Code, w.Body)
		}
		if r.Method == "HEAD" {
			return
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s: body is not JSON: %q", r.Method, r.URL, w.Body)
		}
		if w.Code >= 400 {
			var e errorBody
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" || e.Message == "" {
				t.Fatalf("%s %s: %d without an error body: %q", r.Method, r.URL, w.Code, w.Body)
			}
		}
	})
}
