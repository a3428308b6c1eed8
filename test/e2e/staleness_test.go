package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStalenessBenchAndPrediction: `chorus bench --staleness` against three server
// processes measures a t-visibility curve through different nodes, and a node that
// coordinated writes and reads to its peers predicts every (R, W) curve at
// GET /v1/staleness and as metrics.
func TestStalenessBenchAndPrediction(t *testing.T) {
	c := newCluster(t, 3)
	s0 := c.servers[0]

	// Traffic coordinated by s0 (QUORUM writes and reads go to both peers): one
	// exchange in 16 is timed.
	benchJSON(t, nil, "bench", "--addr", s0.http, "--token-aware=false", "--requests", "1200", "--clients", "8",
		"--keys", "500", "--value-size", "32", "--json", "--quiet")

	var rep struct {
		N, R, W int
		Nodes   []string
		Pairs   int
		Points  []struct {
			TMs                               float64 `json:"t_ms"`
			Trials, Consistent, Stale, Errors int
			Probability                       float64  `json:"p_consistent"`
			MeanDelayMs                       float64  `json:"mean_delay_ms"`
			Predicted                         *float64 `json:"predicted"`
			PredictedReplicas                 *float64 `json:"predicted_replica_coordinators"`
		}
		PredictionError string   `json:"prediction_error"`
		ErrorSamples    []string `json:"error_samples"`
	}
	benchJSON(t, &rep, "bench", "--addr", s0.http, "--staleness", "--read-level", "ONE", "--write-level", "ONE",
		"--trials", "6", "--t-ms", "0,2,10", "--json", "--quiet")
	if rep.N != 3 || rep.R != 1 || rep.W != 1 || len(rep.Nodes) != 3 || rep.Pairs != 6 || len(rep.Points) != 3 {
		t.Fatalf("staleness report %+v", rep)
	}
	for i, p := range rep.Points {
		if p.TMs != []float64{0, 2, 10}[i] || p.Trials != 6 || p.Errors != 0 || p.Consistent+p.Stale != 6 ||
			p.Probability < 0 || p.Probability > 1 || p.MeanDelayMs < p.TMs {
			t.Errorf("point %d: %+v (errors: %v)", i, p, rep.ErrorSamples)
		}
		if p.Predicted == nil || p.PredictedReplicas == nil {
			t.Errorf("point %d has no prediction: %s", i, rep.PredictionError)
		}
	}

	var pred struct {
		N            int
		Coordinators string
		Samples      struct{ Writes, Reads int }
		TMs          []float64 `json:"t_ms"`
		Curves       []struct {
			R, W        int
			Probability []float64 `json:"p_consistent"`
		}
		Latency map[string]map[string]float64 `json:"latency_ms"`
		Note    string
	}
	for _, coordinators := range []string{"remote", "replicas"} {
		resp, err := s0.get("/v1/staleness?coordinators=" + coordinators)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&pred)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /v1/staleness: %d, %v", resp.StatusCode, err)
		}
		if pred.N != 3 || pred.Coordinators != coordinators || pred.Samples.Writes == 0 || pred.Samples.Reads == 0 ||
			len(pred.Curves) != 9 || len(pred.TMs) != 8 || pred.Note != "" {
			t.Fatalf("prediction (%s): %+v", coordinators, pred)
		}
		for _, comp := range []string{"w", "a", "r", "s"} {
			if q := pred.Latency[comp]; !(q["p50"] > 0 && q["p50"] <= q["p99"]) {
				t.Errorf("%s latency quantiles %v", comp, q)
			}
		}
		for _, cv := range pred.Curves {
			if len(cv.Probability) != 8 {
				t.Fatalf("curve %+v", cv)
			}
			for i, p := range cv.Probability {
				if p < 0 || p > 1 || (i > 0 && p < cv.Probability[i-1]) || (cv.R+cv.W > 3 && p != 1) {
					t.Errorf("%s R=%d W=%d: %v", coordinators, cv.R, cv.W, cv.Probability)
					break
				}
			}
		}
	}

	resp, err := s0.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`chorus_staleness_consistent_probability{r="1",t_ms="0",w="1"}`,
		`chorus_staleness_latency_seconds{component="w",quantile="0.99"}`, `chorus_staleness_round_trips_sampled_total{exchange="read"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// benchJSON runs the chorus CLI with args, and decodes its standard output into v
// (unless v is nil).
func benchJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chorus %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("chorus %s: output is not the JSON report: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
