package resp

import (
	"net"
	"os/exec"
	"strings"
	"testing"
)

// TestRedisCLI drives the server with the stock redis-cli, if it is installed.
func TestRedisCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli is not installed; skipping the stock-client check")
	}
	_, addr, _ := start(t, nil)
	host, port, _ := net.SplitHostPort(addr)
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"-h", host, "-p", port}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG\n"},
		{[]string{"SET", "greeting", "hello world"}, "OK\n"},
		{[]string{"GET", "greeting"}, "hello world\n"},
		{[]string{"GET", "nothing"}, "\n"},
		{[]string{"EXISTS", "greeting", "nothing"}, "1\n"},
		{[]string{"CONSISTENCY"}, "read=QUORUM write=QUORUM\n"},
		{[]string{"CONSISTENCY", "READ", "ANY"}, "ERR ANY is a write-only level; use CONSISTENCY WRITE ANY\n"},
		{[]string{"NOSUCH"}, "ERR unknown command 'NOSUCH'\n"},
		{[]string{"DEL", "greeting"}, "1\n"},
	} {
		// redis-cli follows an error with a blank line; compare without trailing newlines.
		if got := run("", tc.args...); strings.TrimRight(got, "\n") != strings.TrimRight(tc.want, "\n") {
			t.Errorf("redis-cli %q = %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := run("", "INFO"); !strings.Contains(got, "node_id:n1") || !strings.Contains(got, "# Cluster") {
		t.Errorf("redis-cli INFO = %q", got)
	}
	// Commands read from standard input share one connection: the levels and
	// keyspace set first apply to the rest.
	got := run("KEYSPACE carts\nCONSISTENCY ONE\nSET k v\nGET k\nCONSISTENCY\n")
	if want := "OK\nOK\nOK\nv\nread=ONE write=ONE\n"; got != want {
		t.Errorf("redis-cli with commands on stdin = %q, want %q", got, want)
	}
}

// TestRedisBenchmark runs a short stock redis-benchmark, if it is installed: it must
// start without warnings (it reads CONFIG at start-up) and complete SET and GET.
func TestRedisBenchmark(t *testing.T) {
	bench, err := exec.LookPath("redis-benchmark")
	if err != nil {
		t.Skip("redis-benchmark is not installed; skipping")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	_, addr, be := start(t, nil)
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(bench, "-h", host, "-p", port, "-t", "set,get", "-n", "2000", "-c", "4", "-P", "4", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "SET: ") || !strings.Contains(s, "GET: ") || strings.Contains(s, "WARN") || strings.Contains(s, "rror") {
		t.Errorf("redis-benchmark output:\n%s", s)
	}
	if be.Len() == 0 {
		t.Error("redis-benchmark stored nothing")
	}
}
