package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chorusdb/chorus/client"
	"github.com/chorusdb/chorus/internal/node"
	"github.com/chorusdb/chorus/internal/testutil"
)

// TestBenchAgainstACluster runs short benchmarks against an in-process three-node
// cluster on free ports (a `chorus dev` cluster moved off its fixed ports) in each
// mode: token-aware, one node by --resp-addr, pipelined with zipf keys.
func TestBenchAgainstACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	httpAddr, respAddr := startBenchCluster(t)
	for _, tc := range []struct {
		name string
		args []string
		ops  int64
	}{
		{"token-aware", []string{"--requests", "400"}, 400},
		{"one node", []string{"--requests", "300", "--resp-addr", respAddr, "--ratio", "1:3"}, 300},
		{"pipelined zipf", []string{"--requests", "403", "--pipeline", "8", "--dist", "zipf", "--write-level", "ALL"}, 403},
		{"node at --addr, pipelined", []string{"--requests", "200", "--token-aware=false", "--pipeline", "4"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--addr", httpAddr, "--clients", "8", "--keys", "500", "--value-size", "64", "--json", "--quiet"}, tc.args...)
			rep := runBenchCmd(t, args)
			if rep.Ops != tc.ops || rep.OpsPerSecond <= 0 {
				t.Errorf("ops = %d at %.0f/s, want %d", rep.Ops, rep.OpsPerSecond, tc.ops)
			}
			if sum(rep.Errors) != 0 {
				t.Errorf("errors %v: %v", rep.Errors, rep.ErrorSamples)
			}
			get, set := rep.ByOp["get"], rep.ByOp["set"]
			if get.Ops+set.Ops != rep.Ops || get.Ops == 0 || set.Ops == 0 {
				t.Errorf("get %d + set %d ops, want both > 0 and %d in all", get.Ops, set.Ops, rep.Ops)
			}
			if *get.Hits+*get.Misses != get.Ops {
				t.Errorf("get: %d hits + %d misses != %d ops", *get.Hits, *get.Misses, get.Ops)
			}
			for name, l := range map[string]latencyReport{"all": rep.Latency, "get": get.Latency, "set": set.Latency} {
				if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
					t.Errorf("%s percentiles not ordered: %+v", name, l)
				}
			}
		})
	}
}

// runBenchCmd runs `chorus bench args` and decodes its JSON report.
func runBenchCmd(t *testing.T, args []string) *benchReport {
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
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bench --json output: %v\n%s", err, out.String())
	}
	return &rep
}

// startBenchCluster starts three nodes in this process as `chorus dev` does, but on
// free ports, and returns node0's HTTP and RESP addresses once all see each other.
func startBenchCluster(t *testing.T) (httpAddr, respAddr string) {
	t.Helper()
	const n = 3
	ports := testutil.FreePorts(t, 4*n)
	addr := func(i, kind int) string { return "127.0.0.1:" + strconv.Itoa(ports[4*i+kind]) }
	procs, err := startDevCluster(n, t.TempDir(), func(c *node.Config) {
		i, _ := strconv.Atoi(strings.TrimPrefix(c.NodeID, "node"))
		c.RESPAddr, c.HTTPAddr, c.GossipAddr, c.RPCAddr = addr(i, 0), addr(i, 1), addr(i, 2), addr(i, 3)
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		c.Join = nil
		for j := 0; j < n; j++ {
			if j != i {
				c.Join = append(c.Join, addr(j, 2))
			}
		}
	})
	t.Cleanup(func() {
		for _, p := range procs {
			p.stop()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := waitAllAlive(ctx, procs); err != nil {
		t.Fatal(err)
	}
	return addr(0, 1), addr(0, 0)
}

func TestBenchFlagsAreCheckedTogether(t *testing.T) {
	cmd := benchCmd()
	cmd.SetArgs([]string{"--clients", "0", "--ratio", "2", "--dist", "pareto", "--pipeline", "0",
		"--read-level", "ANY", "--resp-addr", "x:1", "--token-aware"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if err == nil {
		t.Fatal("bad flags accepted")
	}
	for _, want := range []string{"--clients", "--ratio", "--dist", "--pipeline", "ReadLevel", "--token-aware"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestParseRatio(t *testing.T) {
	for _, tc := range []struct {
		in     string
		r, w   int
		wantOK bool
	}{
		{"1:1", 1, 1, true},
		{"9:1", 9, 1, true},
		{"0:1", 0, 1, true},
		{" 3 : 2 ", 3, 2, true},
		{"0:0", 0, 0, false},
		{"1", 0, 0, false},
		{"-1:2", 0, 0, false},
		{"a:b", 0, 0, false},
	} {
		r, w, ok := parseRatio(tc.in)
		if r != tc.r || w != tc.w || ok != tc.wantOK {
			t.Errorf("parseRatio(%q) = %d, %d, %v; want %d, %d, %v", tc.in, r, w, ok, tc.r, tc.w, tc.wantOK)
		}
	}
}

func TestBenchKey(t *testing.T) {
	for k, want := range map[int64]string{
		0:                   "key:000000000000",
		1234:                "key:000000001234",
		999999999999:        "key:999999999999",
		1234567890123456789: "key:1234567890123456789",
	} {
		if got := benchKey(k); got != want {
			t.Errorf("benchKey(%d) = %q, want %q", k, got, want)
		}
	}
}

func TestErrKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&client.ServerError{Code: "UNAVAILABLE"}, errUnavailable},
		{fmt.Errorf("x: %w", client.ErrTimeout), errTimeout},
		{replyErr("UNAVAILABLE need 2 replicas for QUORUM, 1 alive"), errUnavailable},
		{replyErr("TIMEOUT 1 of 2 required replicas acknowledged"), errTimeout},
		{context.DeadlineExceeded, errTimeout},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, errTimeout},
		{replyErr("ERR syntax error"), errOther},
		{errors.New("connection refused"), errOther},
	} {
		if got := errKind(tc.err); got != tc.want {
			t.Errorf("errKind(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// replyErr is an error reply as go-redis returns it: a type with the RedisError
// marker method.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

var _ redis.Error = replyErr("")

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
