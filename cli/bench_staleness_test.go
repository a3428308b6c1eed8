package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestBenchKindsAndStaleness runs every --kind, a siblings keyspace and a short
// --staleness against an in-process three-node cluster.
func TestBenchKindsAndStaleness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	httpAddr, respAddr := startBenchCluster(t)
	if _, _, err := call(http.MethodPut, "http://"+httpAddr+"/v1/keyspaces/docs", []byte(`{"resolution":"siblings"}`)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, read, write string
		args              []string
	}{
		{"counter", "get", "incr", []string{"--kind", "counter"}},
		{"counter via one node, pipelined", "get", "incr", []string{"--kind", "counter", "--resp-addr", respAddr, "--pipeline", "4"}},
		{"set", "smembers", "sadd", []string{"--kind", "set"}},
		{"set via one node, pipelined", "smembers", "sadd", []string{"--kind", "set", "--token-aware=false", "--pipeline", "4"}},
		{"siblings", "get", "set", []string{"--keyspace", "docs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", httpAddr, "--clients", "4", "--keys", "20", "--requests", "200", "--json", "--quiet"}, tc.args...)
			rep := runBenchCmd(t, args)
			if rep.Ops != 200 || sum(rep.Errors) != 0 {
				t.Fatalf("ops %d, errors %v: %v", rep.Ops, rep.Errors, rep.ErrorSamples)
			}
			rd, wr := rep.ByOp[tc.read], rep.ByOp[tc.write]
			if rd == nil || wr == nil || rd.Ops+wr.Ops != 200 || rd.Ops == 0 || wr.Ops == 0 {
				t.Fatalf("by_op %v, want %s and %s", rep.ByOp, tc.read, tc.write)
			}
			if *rd.Hits == 0 || *rd.Values < *rd.Hits || *rd.MaxValues < 1 {
				t.Errorf("%s: %d hits, %d values, at most %d", tc.read, *rd.Hits, *rd.Values, *rd.MaxValues)
			}
			if tc.name == "siblings" && (rep.Config.Resolution != "siblings" || *rd.MaxValues > 4) {
				t.Errorf("siblings: resolution %q, at most %d values per read (4 clients)", rep.Config.Resolution, *rd.MaxValues)
			}
		})
	}

	t.Run("staleness", func(t *testing.T) {
		for _, ks := range []string{"default", "docs"} {
			out := runBenchOut(t, []string{"--addr", httpAddr, "--staleness", "--trials", "6", "--t-ms", "0,3",
				"--read-level", "ONE", "--write-level", "ONE", "--keyspace", ks, "--json", "--quiet"})
			var rep stalenessReport
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("--staleness --json: %v\n%s", err, out)
			}
			if rep.N != 3 || rep.R != 1 || rep.W != 1 || len(rep.Nodes) != 3 || rep.Pairs != 6 || len(rep.Points) != 2 {
				t.Fatalf("report %+v", rep)
			}
			for _, p := range rep.Points {
				if p.Trials != 6 || p.Errors != 0 || p.Consistent+p.Stale != 6 || p.Probability < 0 || p.Probability > 1 {
					t.Errorf("point %+v (errors %v)", p, rep.ErrorSamples)
				}
			}
			if rep.Points[1].MeanDelayMs < 3 {
				t.Errorf("t = 3 ms read %.3f ms after the acknowledgement", rep.Points[1].MeanDelayMs)
			}
			if rep.Predicted == nil || rep.PredictedReplicas == nil || rep.PredictionError != "" ||
				rep.Predicted.Coordinators != "remote" || rep.PredictedReplicas.Coordinators != "replicas" {
				t.Errorf("prediction %+v / %+v: %s", rep.Predicted, rep.PredictedReplicas, rep.PredictionError)
			}
		}
		// The text form has the table and the prediction line.
		out := runBenchOut(t, []string{"--addr", httpAddr, "--staleness", "--trials", "2", "--t-ms", "1", "--quiet"})
		for _, want := range []string{"P(consistent)", "predicted", "write at QUORUM (W=2)"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("text report lacks %q:\n%s", want, out)
			}
		}
	})
}

// runBenchOut runs `chorus bench args` and returns its standard output.
func runBenchOut(t *testing.T, args []string) []byte {
	t.Helper()
	cmd := benchCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("chorus bench %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.Bytes()
}

func TestBenchKindAndStalenessFlags(t *testing.T) {
	cmd := benchCmd()
	cmd.SetArgs([]string{"--kind", "hash", "--staleness", "--trials", "0", "--t-ms", "1,-2"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if err == nil {
		t.Fatal("bad flags accepted")
	}
	for _, want := range []string{"--kind \"hash\"", "--staleness measures registers", "--trials", "--t-ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	if ts, err := parseTList(" 0, 1.5,100"); err != nil || len(ts) != 3 || ts[1] != 1.5 {
		t.Errorf("parseTList = %v, %v", ts, err)
	}
}

func TestSettleReply(t *testing.T) {
	notFound := errors.New("not found")
	for _, tc := range []struct {
		name   string
		op     benchOp
		v      any
		err    error
		hit    bool
		values int
		fails  bool
	}{
		{"siblings", benchOp{args: []any{"GETSIBLINGS", "k"}}, []any{"ctx", "a", "b"}, nil, true, 2, false},
		{"deleted siblings", benchOp{args: []any{"GETSIBLINGS", "k"}}, []any{"ctx"}, nil, false, 0, false},
		{"members", benchOp{args: []any{"SMEMBERS", "k"}}, []any{"a", "b", "c"}, nil, true, 3, false},
		{"empty set", benchOp{args: []any{"SMEMBERS", "k"}}, []any{}, nil, false, 0, false},
		{"miss", benchOp{args: []any{"GET", "k"}}, nil, notFound, false, 0, false},
		{"scalar", benchOp{args: []any{"GET", "k"}}, "v", nil, true, 1, false},
		{"read error", benchOp{args: []any{"SMEMBERS", "k"}}, nil, redis.ErrClosed, false, 0, true},
		{"write", benchOp{write: true, args: []any{"INCR", "k"}}, int64(3), nil, false, 0, false},
		{"write error", benchOp{write: true, args: []any{"INCR", "k"}}, nil, notFound, false, 0, true},
	} {
		op := tc.op
		settleReply(&op, tc.v, tc.err, notFound)
		if op.hit != tc.hit || op.values != tc.values || (op.err != nil) != tc.fails {
			t.Errorf("%s: hit %v, values %d, err %v", tc.name, op.hit, op.values, op.err)
		}
	}
}
