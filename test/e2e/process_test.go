package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/testutil"
)

// TestConfigSources: a setting comes from the flag, else CHORUS_<NAME>, else the YAML
// file given by --config.
func TestConfigSources(t *testing.T) {
	ports := testutil.FreePorts(t, 4)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "chorus.yaml")
	yaml := fmt.Sprintf("node-id: from-file\nzone: zone-file\nreplication-factor: 1\ndata-dir: %s\nresp-addr: 127.0.0.1:%d\nhttp-addr: 127.0.0.1:%d\ngossip-addr: 127.0.0.1:%d\nrpc-addr: 127.0.0.1:%d\n",
		filepath.Join(dir, "data"), ports[0], ports[1], ports[2], ports[3])
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, id: "cfg", dir: filepath.Join(dir, "data"), http: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	// The environment beats the file for the zone; the flag beats both for the id.
	s.env = []string{"CHORUS_ZONE=zone-env", "CHORUS_NODE_ID=from-env"}
	s.cmd = nil
	start := func() {
		logf, _ := os.Create(filepath.Join(dir, "log"))
		s.log = logf
		s.cmd = exec.Command(binary, "server", "--config", cfg, "--node-id", "from-flag")
		s.cmd.Env = append(os.Environ(), s.env...)
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s.exited = make(chan struct{})
		go func() { s.cmd.Wait(); close(s.exited) }()
		s.waitHTTP()
	}
	start()
	defer s.stop()
	ms, err := s.members()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].ID != "from-flag" || ms[0].Zone != "zone-env" {
		t.Fatalf("members = %+v; want id from-flag (flag) and zone zone-env (env)", ms)
	}
}

// TestServerRefusesBadStart: a bad flag, a taken port or a data directory of another
// node make the server exit non-zero with a one-line reason.
func TestServerRefusesBadStart(t *testing.T) {
	ports := testutil.FreePorts(t, 4)
	dir := t.TempDir()
	base := []string{"server", "--data-dir", filepath.Join(dir, "d"),
		"--resp-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--http-addr", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--gossip-addr", fmt.Sprintf("127.0.0.1:%d", ports[2]), "--rpc-addr", fmt.Sprintf("127.0.0.1:%d", ports[3])}

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"server", "--no-such-flag"}, "unknown flag"},
		{"bad storage", append(append([]string{}, base...), "--storage", "floppy"), "--storage"},
		{"bad duration", append(append([]string{}, base...), "--hint-ttl", "soon"), "hint-ttl"},
		{"no data dir", []string{"server", "--storage", "pebble"}, "--data-dir"},
		{"postgres down", append(append([]string{}, base...), "--node-id", "pgdown", "--storage", "postgres",
			"--postgres-dsn", "postgres://chorus:chorus@127.0.0.1:1/chorus?sslmode=disable"), "cannot connect to PostgreSQL"},
	}
	for _, tc := range cases {
		out, err := runChorus(t, tc.args...)
		if err == nil {
			t.Fatalf("%s: server started", tc.name)
		}
		if !strings.Contains(out, tc.want) {
			t.Fatalf("%s: output %q does not mention %q", tc.name, out, tc.want)
		}
		if strings.Contains(out, "panic") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Fatalf("%s: want a one-line reason, got:\n%s", tc.name, out)
		}
	}

	// A taken port.
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err := runChorus(t, base...)
	if err == nil || !strings.Contains(out, "address already in use") {
		t.Fatalf("taken port: err=%v out=%q", err, out)
	}
	if n := strings.Count(strings.TrimSpace(out), "\n"); n > 0 {
		t.Fatalf("want a one-line reason, got:\n%s", out)
	}
}

// TestDevCluster covers user step 1: `chorus dev` starts three nodes on the contract's
// ports and prints ready; a write through one is read through another; Ctrl-C stops it.
func TestDevCluster(t *testing.T) {
	for _, p := range []int{6380, 6381, 6382, 7380, 7381, 7382, 8380, 8381, 8382, 9380, 9381, 9382} {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Skipf("port %d is taken; chorus dev needs the contract's fixed ports", p)
		}
		l.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "dev", "--dir", t.TempDir())
	lines := lineReader(t, cmd)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for lines.Scan() {
		got = append(got, lines.Text())
		if lines.Text() == "ready" {
			break
		}
	}
	if len(got) != 4 || got[3] != "ready" || !strings.Contains(got[0], "resp=127.0.0.1:6380") {
		t.Fatalf("dev printed %q", got)
	}
	a, b := redisClient(t, "127.0.0.1:6380"), redisClient(t, "127.0.0.1:6382")
	if err := a.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET through node 2 = %q, %v", v, err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() {
		for lines.Scan() {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev exited with %v after SIGINT", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop within 30s of SIGINT")
	}
}

// TestRuntimeMetrics: /metrics carries the Go runtime's and the process's metrics
// beside the node's, and go_sched_gomaxprocs_threads reports the GOMAXPROCS the
// server was started with (the setting docs/operations.md suggests for nodes sharing
// cores).
func TestRuntimeMetrics(t *testing.T) {
	c := newClusterWith(t, 1, func(int) []string { return []string{"--replication-factor", "1"} },
		func(_ int, s *server) { s.env = []string{"GOMAXPROCS=1"} })
	s := c.servers[0]
	if got := s.metric(t, "go_sched_gomaxprocs_threads"); got != 1 {
		t.Errorf("go_sched_gomaxprocs_threads = %v; want 1 (started with GOMAXPROCS=1)", got)
	}
	if got := s.metric(t, "go_goroutines"); got < 1 {
		t.Errorf("go_goroutines = %v; want at least 1", got)
	}
	if got := s.metric(t, "process_resident_memory_bytes"); got <= 0 {
		t.Errorf("process_resident_memory_bytes = %v; want > 0", got)
	}
	if got := s.metric(t, "process_open_fds"); got < 3 {
		t.Errorf("process_open_fds = %v; want a server's listeners and files", got)
	}
	if got := s.metric(t, "chorus_healthy"); got != 1 {
		t.Errorf("chorus_healthy = %v; want 1 beside the runtime metrics", got)
	}
}
