package httpapi

import (
	"strings"
	"testing"

	"github.com/chorusdb/chorus/internal/api"
)

func TestBearerAuth(t *testing.T) {
	auth, err := api.NewAuth(map[string]string{"default": "s3cret-token", "alice": "alice-token"})
	if err != nil {
		t.Fatal(err)
	}
	s, be := newTestServer(t, func(c *Config) { c.Auth = auth })
	for _, tc := range []struct {
		method, path, body string
		header             []string
		want               int
	}{
		{"PUT", "/v1/kv/ks/k", `"v"`, nil, 401},
		{"PUT", "/v1/kv/ks/k", `"v"`, []string{"Authorization", "Bearer wrong-token"}, 401},
		{"PUT", "/v1/kv/ks/k", `"v"`, []string{"Authorization", "Basic czNjcmV0LXRva2Vu"}, 401},
		{"GET", "/v1/cluster", "", nil, 401},
		{"GET", "/metrics", "", nil, 401},
		{"GET", "/ui/api/ring", "", nil, 401},
		{"PUT", "/v1/kv/ks/k", `"v"`, []string{"Authorization", "Bearer s3cret-token"}, 200},
		{"GET", "/v1/kv/ks/k", "", []string{"Authorization", "bearer alice:alice-token"}, 200},
		{"GET", "/v1/kv/ks/k", "", []string{"Authorization", "Bearer alice:s3cret-token"}, 401},
		{"GET", "/healthz", "", nil, 200},
		{"GET", "/ui/", "", nil, 200},
	} {
		w := call(s, tc.method, tc.path, tc.body, tc.header...)
		if w.Code != tc.want {
			t.Errorf("%s %s %v = %d %s, want %d", tc.method, tc.path, tc.header, w.Code, w.Body, tc.want)
		}
		if w.Code == 401 && (!strings.Contains(w.Body.String(), `"unauthorized"`) || w.Header().Get("WWW-Authenticate") == "") {
			t.Errorf("401 without the error body or WWW-Authenticate: %s", w.Body)
		}
	}
	if n := len(be.Requests()); n != 2 {
		t.Errorf("%d requests reached the backend, want the 2 authenticated ones", n)
	}
}
