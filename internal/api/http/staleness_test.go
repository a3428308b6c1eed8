package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/api/apitest"
)

// testStalenessReport is a canned prediction for N=2.
func testStalenessReport(replicaCoordinators bool) api.StalenessReport {
	coordinators := api.CoordinatorsRemote
	if replicaCoordinators {
		coordinators = api.CoordinatorsReplicas
	}
	q := api.LatencyQuantiles{P50: 0.2, P90: 0.4, P99: 1.1, P999: 2.5, Mean: 0.25, Max: 3}
	return api.StalenessReport{
		N: 2, Coordinators: coordinators, Samples: api.StalenessSamples{Writes: 812, Reads: 790}, Trials: 20000,
		TMs: []float64{0, 1, 10},
		Curves: []api.StalenessCurve{
			{R: 1, W: 1, Probability: []float64{0.71, 0.93, 1}},
			{R: 1, W: 2, Probability: []float64{1, 1, 1}},
			{R: 2, W: 1, Probability: []float64{1, 1, 1}},
			{R: 2, W: 2, Probability: []float64{1, 1, 1}},
		},
		Latency:    map[string]api.LatencyQuantiles{"w": q, "a": q, "r": q, "s": q},
		Model:      "PBS WARS Monte Carlo",
		ComputedAt: time.UnixMilli(1000).UTC(),
	}
}

// stalenessBackend adds a canned prediction to the fake backend.
type stalenessBackend struct {
	*apitest.Backend
	calls int
}

func (b *stalenessBackend) Staleness(replicaCoordinators bool) api.StalenessReport {
	b.calls++
	return testStalenessReport(replicaCoordinators)
}

func TestStalenessRoute(t *testing.T) {
	be := &stalenessBackend{Backend: apitest.NewBackend("n1")}
	s := NewServer(Config{Backend: be})
	w := call(s, "GET", "/v1/staleness", "")
	if w.Code != 200 || be.calls != 1 {
		t.Fatalf("GET /v1/staleness = %d %s (%d calls)", w.Code, w.Body, be.calls)
	}
	var got api.StalenessReport
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.N != 2 || len(got.Curves) != 4 || len(got.Curves[0].Probability) != len(got.TMs) ||
		got.Samples.Writes != 812 || got.Latency["w"].P99 != 1.1 {
		t.Errorf("GET /v1/staleness decoded to %+v", got)
	}
	for _, key := range []string{`"t_ms":[0,1,10]`, `"p_consistent":[0.71,0.93,1]`, `"latency_ms":{`, `"p99.9":2.5`} {
		if !strings.Contains(w.Body.String(), key) {
			t.Errorf("body lacks %s: %s", key, w.Body)
		}
	}
	if got.Coordinators != "remote" {
		t.Errorf("default coordinators %q, want remote", got.Coordinators)
	}
	for q, want := range map[string]string{"remote": `"coordinators":"remote"`, "replicas": `"coordinators":"replicas"`} {
		if w := call(s, "GET", "/v1/staleness?coordinators="+q, ""); w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET /v1/staleness?coordinators=%s = %d %s", q, w.Code, w.Body)
		}
	}
	for _, bad := range []string{"?t=5", "?coordinators=local", "?coordinators=remote&coordinators=remote"} {
		if w := call(s, "GET", "/v1/staleness"+bad, ""); w.Code != 400 {
			t.Errorf("GET /v1/staleness%s = %d, want 400", bad, w.Code)
		}
	}
	if w := call(s, "POST", "/v1/staleness", ""); w.Code != 405 {
		t.Errorf("POST /v1/staleness = %d, want 405", w.Code)
	}
	// A backend that does not predict has no such route.
	plain := NewServer(Config{Backend: apitest.NewBackend("n1")})
	if w := call(plain, "GET", "/v1/staleness", ""); w.Code != 404 || !strings.Contains(w.Body.String(), "no route") {
		t.Errorf("GET /v1/staleness without a predictor = %d %s, want 404 no route", w.Code, w.Body)
	}
}
