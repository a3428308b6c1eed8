package httpapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/api/apitest"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

// opBackend adds canned operator answers to the fake backend.
type opBackend struct {
	*apitest.Backend
	repairKeyspace string
}

func (b *opBackend) Hints(context.Context) ([]api.HintBacklog, error) {
	return []api.HintBacklog{{Target: "n3", Count: 7, Bytes: 700, Oldest: time.UnixMilli(1000)}}, nil
}

func (b *opBackend) ReadRepairs(limit int) ([]record.Repair, error) {
	all := []record.Repair{
		{Key: object.Key{Keyspace: "default", Key: "k2"}, StaleNode: "n3", RepairedAt: 2000},
		{Key: object.Key{Keyspace: "default", Key: "k1"}, StaleNode: "n2", RepairedAt: 1000},
	}
	return all[:min(limit, len(all))], nil
}

func (b *opBackend) Repair(_ context.Context, ks string, progress func(api.RepairProgress)) (api.RepairProgress, error) {
	b.repairKeyspace = ks
	progress(api.RepairProgress{Exchanges: 2, Finished: 1})
	return api.RepairProgress{Exchanges: 2, Finished: 2, KeysRepaired: 5, Done: true}, nil
}

func TestOperatorRoutes(t *testing.T) {
	be := &opBackend{Backend: apitest.NewBackend("n1")}
	s := NewServer(Config{Backend: be})
	if w := call(s, "GET", "/v1/hints", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"pending":{"n3":7}`) {
		t.Fatalf("GET /v1/hints = %d %s", w.Code, w.Body)
	}
	w := call(s, "GET", "/v1/read-repairs?limit=1", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"key":"k2","stale_node":"n3"`) || strings.Contains(w.Body.String(), "k1") {
		t.Fatalf("GET /v1/read-repairs?limit=1 = %d %s", w.Code, w.Body)
	}
	for _, bad := range []string{"?limit=0", "?limit=x", "?limit=1&limit=2", "?other=1"} {
		if w := call(s, "GET", "/v1/read-repairs"+bad, ""); w.Code != 400 {
			t.Fatalf("GET /v1/read-repairs%s = %d, want 400", bad, w.Code)
		}
	}
	w = call(s, "POST", "/v1/repair?keyspace=carts", "")
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	if w.Code != 200 || len(lines) != 2 || !strings.Contains(lines[1], `"done":true`) || be.repairKeyspace != "carts" {
		t.Fatalf("POST /v1/repair = %d %q (keyspace %q)", w.Code, lines, be.repairKeyspace)
	}
	if w := call(s, "POST", "/v1/repair?keyspace=bad%20name", ""); w.Code != 400 {
		t.Fatalf("POST /v1/repair with a bad keyspace = %d", w.Code)
	}
	if w := call(s, "GET", "/v1/repair", ""); w.Code != 405 {
		t.Fatalf("GET /v1/repair = %d, want 405", w.Code)
	}
}
