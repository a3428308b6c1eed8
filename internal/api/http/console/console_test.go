package console

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/api/apitest"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/ring"
)

func get(h http.Handler, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

func threeMembers() []api.MemberInfo {
	return []api.MemberInfo{
		{Member: membership.Member{ID: "n1", Zone: "a", Status: membership.Alive}},
		{Member: membership.Member{ID: "n2", Zone: "b", Status: membership.Dead}},
		{Member: membership.Member{ID: "n3", Zone: "b", Status: membership.Alive}},
		{Member: membership.Member{ID: "n4", Zone: "c", Status: membership.Left}},
	}
}

func TestServesThePage(t *testing.T) {
	h := Handler(apitest.NewBackend("n1"))
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/ui/", "text/html", `<script src="console.js"`},
		{"/ui/console.js", "text/javascript", "/v1/inspect/"},
		{"/ui/console.css", "text/css", ".status.down"},
	} {
		w := get(h, tc.path)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s = %d", tc.path, w.Code)
			continue
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.contentType)
		}
		if !strings.Contains(w.Body.String(), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, csp)
		}
	}
	if w := get(h, "/ui/nothing.js"); w.Code != http.StatusNotFound {
		t.Errorf("GET /ui/nothing.js = %d, want 404", w.Code)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/ui/", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/ = %d, want 405", w.Code)
	}
}

// TestPageRefersOnlyToEmbeddedFiles: every file the page loads is served (no CDN, no
// build step).
func TestPageRefersOnlyToEmbeddedFiles(t *testing.T) {
	h := Handler(apitest.NewBackend("n1"))
	page := get(h, "/ui/").Body.String()
	for _, attr := range []string{`src="`, `href="`} {
		for rest := page; strings.Contains(rest, attr); {
			rest = rest[strings.Index(rest, attr)+len(attr):]
			ref := rest[:strings.IndexByte(rest, '"')]
			if strings.Contains(ref, "//") {
				t.Errorf("the page loads %s from elsewhere", ref)
				continue
			}
			if w := get(h, "/ui/"+ref); w.Code != http.StatusOK {
				t.Errorf("the page loads %s: GET = %d", ref, w.Code)
			}
		}
	}
}

func ringOK(t *testing.T, h http.Handler, target string) ringLayout {
	t.Helper()
	w := get(h, target)
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", target, w.Code, w.Body)
	}
	var out ringLayout
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRingLayout(t *testing.T) {
	b := apitest.NewBackend("n1")
	b.SetCluster(threeMembers(), 3)
	out := ringOK(t, Handler(b), "/ui/api/ring")
	if out.Node != "n1" || out.ReplicationFactor != 3 || out.Vnodes != ring.DefaultVnodes {
		t.Errorf("header = %+v", out)
	}
	// The left member n4 is not on the ring; the dead n2 is (it keeps its place).
	var ids []string
	for _, m := range out.Members {
		ids = append(ids, m.ID+"@"+m.Zone)
	}
	if !slices.Equal(ids, []string{"n1@a", "n2@b", "n3@b"}) {
		t.Fatalf("members %v", ids)
	}
	// Arcs tile [0, 1] in order, neighbours have different owners, and each member's
	// primary share is what the ring says.
	if len(out.Arcs) < 3 || out.Arcs[0].Start != 0 || out.Arcs[len(out.Arcs)-1].End != 1 {
		t.Fatalf("arcs do not span the ring: %d arcs, first %+v, last %+v", len(out.Arcs), out.Arcs[0], out.Arcs[len(out.Arcs)-1])
	}
	for i := 1; i < len(out.Arcs); i++ {
		a, prev := out.Arcs[i], out.Arcs[i-1]
		if a.Start != prev.End || a.End < a.Start || a.Owner == prev.Owner {
			t.Fatalf("arc %d %+v after %+v", i, a, prev)
		}
	}
	rg := ring.New([]ring.Member{{ID: "n1", Zone: "a"}, {ID: "n2", Zone: "b"}, {ID: "n3", Zone: "b"}}, ring.DefaultVnodes)
	want := rg.Ownership(1)
	sum := 0.0
	for _, m := range out.Members {
		sum += m.Primary
		if math.Abs(m.Primary-want[m.ID]) > 1e-9 || m.Vnodes != ring.DefaultVnodes {
			t.Errorf("%s: primary %v vnodes %d, want %v and %d", m.ID, m.Primary, m.Vnodes, want[m.ID], ring.DefaultVnodes)
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("primary shares add up to %v", sum)
	}
	// Each arc's owner is the primary of a key inside it.
	for _, a := range out.Arcs {
		mid := uint64((a.Start + a.End) / 2 * math.MaxUint64)
		if got := rg.PreferenceList(mid, 1)[0]; got != a.Owner {
			t.Fatalf("arc %+v: primary of its middle is %s", a, got)
		}
	}
	if out.Key != nil {
		t.Errorf("key placed without a key: %+v", out.Key)
	}
}

func TestRingKeyPlacement(t *testing.T) {
	b := apitest.NewBackend("n1")
	b.SetCluster(threeMembers(), 2)
	out := ringOK(t, Handler(b), "/ui/api/ring?keyspace=carts&key=a%2Fb%20c")
	rg := ring.New([]ring.Member{{ID: "n1", Zone: "a"}, {ID: "n2", Zone: "b"}, {ID: "n3", Zone: "b"}}, ring.DefaultVnodes)
	h := ring.KeyHash("carts", "a/b c")
	if out.Key == nil || out.Key.Keyspace != "carts" || out.Key.Key != "a/b c" ||
		out.Key.Position != fraction(h) || !slices.Equal(out.Key.Replicas, rg.PreferenceList(h, 2)) {
		t.Fatalf("key = %+v, want replicas %v", out.Key, rg.PreferenceList(h, 2))
	}
}

func TestRingEdgeCases(t *testing.T) {
	b := apitest.NewBackend("solo") // one member: one arc, the whole ring
	out := ringOK(t, Handler(b), "/ui/api/ring")
	if len(out.Arcs) != 1 || out.Arcs[0] != (arc{Start: 0, End: 1, Owner: "solo"}) || out.Members[0].Primary != 1 {
		t.Errorf("one member: arcs %+v members %+v", out.Arcs, out.Members)
	}
	b.SetCluster(nil, 3) // nobody yet
	out = ringOK(t, Handler(b), "/ui/api/ring")
	if len(out.Arcs) != 0 || len(out.Members) != 0 {
		t.Errorf("no members: %+v", out)
	}
	for _, target := range []string{
		"/ui/api/ring?x=1",
		"/ui/api/ring?key=k&key=j",
		"/ui/api/ring?key=k",                      // no keyspace
		"/ui/api/ring?keyspace=no%20spaces&key=k", // bad keyspace
		"/ui/api/ring?keyspace=default&key=" + strings.Repeat("k", api.DefaultMaxKeyBytes+1),
	} {
		w := get(Handler(b), target)
		var body struct{ Error, Message string }
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusBadRequest || body.Error != "bad_request" || body.Message == "" {
			t.Errorf("GET %s = %d %s, want 400 bad_request", target[:min(len(target), 60)], w.Code, w.Body)
		}
	}
}
