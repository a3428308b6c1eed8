package api

import "time"

// StalenessPredictor predicts how stale reads are, as Probabilistically Bounded
// Staleness (Bailis et al., VLDB 2012) does: a WARS Monte Carlo simulation fed with the
// replica round trips the node measures. A Backend that implements it gets
// GET /v1/staleness.
type StalenessPredictor interface {
	// Staleness returns the current prediction (computed on demand and cached for a
	// few seconds). With replicaCoordinators the coordinators are modeled as replicas
	// (see StalenessReport.Coordinators).
	Staleness(replicaCoordinators bool) StalenessReport
}

// The coordinator models of a prediction.
const (
	// CoordinatorsRemote: every replica is reached over the network, as in the WARS
	// model of the PBS paper.
	CoordinatorsRemote = "remote"
	// CoordinatorsReplicas: the write's coordinator is one of the N replicas (its own
	// copy acknowledges at once: W = A = 0) and the read's coordinator another (its own
	// copy answers at once: R = S = 0), as with the token-aware client or in a cluster
	// of N nodes, when the write and the read go through different nodes.
	CoordinatorsReplicas = "replicas"
)

// StalenessReport is the t-visibility prediction: for every read level R and write
// level W from 1 to N, the probability that a read started t milliseconds after a
// write was acknowledged returns that write (or a newer one).
type StalenessReport struct {
	// N is the replication factor.
	N int `json:"n"`
	// Coordinators is the coordinator model: CoordinatorsRemote or
	// CoordinatorsReplicas.
	Coordinators string `json:"coordinators"`
	// Samples counts the round trips the prediction drew from.
	Samples StalenessSamples `json:"samples"`
	// Trials is the number of simulated write-then-read trials per (R, W, t).
	Trials int `json:"trials"`
	// TMs lists the t values, in milliseconds; each curve has one probability per t.
	TMs []float64 `json:"t_ms"`
	// Curves has one entry per (R, W), R-major; only the strict quorums (R+W>N, always
	// consistent) while there are no samples.
	Curves []StalenessCurve `json:"curves"`
	// Latency holds the quantiles of the one-way latencies used: w (write request,
	// coordinator to replica), a (its acknowledgement), r (read request) and s (read
	// response), each modeled as half a measured round trip.
	Latency map[string]LatencyQuantiles `json:"latency_ms"`
	// Model says how latencies were obtained.
	Model string `json:"model"`
	// Note explains a partial answer (no samples yet); empty otherwise.
	Note string `json:"note,omitempty"`
	// ComputedAt is when the prediction was computed.
	ComputedAt time.Time `json:"computed_at"`
}

// StalenessSamples counts the sampled replica exchanges behind a prediction.
type StalenessSamples struct {
	// Writes are PutReq→PutResp round trips (W and A).
	Writes int `json:"writes"`
	// Reads are GetReq→GetResp round trips (R and S).
	Reads int `json:"reads"`
}

// StalenessCurve is P(consistent) for one read level R and write level W, one value
// per t of StalenessReport.TMs.
type StalenessCurve struct {
	R           int       `json:"r"`
	W           int       `json:"w"`
	Probability []float64 `json:"p_consistent"`
}

// LatencyQuantiles are quantiles of a latency, in milliseconds.
type LatencyQuantiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}
