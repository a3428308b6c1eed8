package httpapi

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

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

func TestMaxConns(t *testing.T) {
	s, _ := newTestServer(t, func(c *Config) { c.MaxConns = 1 })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	first, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// The first connection holds the only slot; a request on a second one is not
	// served until the first closes.
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String() + "/healthz")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		t.Fatalf("a second connection was served (%d) while the limit of one was taken", code)
	case <-time.After(300 * time.Millisecond):
	}
	first.Close()
	select {
	case code := <-done:
		if code != 200 {
			t.Fatalf("after the first closed: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting connection was not served after the first closed")
	}
}
