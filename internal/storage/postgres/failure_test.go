package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// TestOpenServerDown: nothing listens at the address. Open fails at once, on one line.
func TestOpenServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = Open(context.Background(), Options{DSN: "postgres://chorus:secret@" + addr + "/chorus?sslmode=disable", NodeID: "n1"})
	checkOpenError(t, err, time.Since(start), 5*time.Second)
}

// TestOpenServerSilent: the address accepts connections but never answers. Open gives
// up after ConnectTimeout.
func TestOpenServerSilent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	start := time.Now()
	_, err = Open(context.Background(), Options{
		DSN:            "postgres://chorus:secret@" + l.Addr().String() + "/chorus?sslmode=disable",
		NodeID:         "n1",
		ConnectTimeout: 500 * time.Millisecond,
	})
	checkOpenError(t, err, time.Since(start), 3*time.Second)
}

func checkOpenError(t *testing.T, err error, took, limit time.Duration) {
	t.Helper()
	if err == nil {
		t.Fatal("Open succeeded without a server")
	}
	msg := err.Error()
	t.Logf("Open failed after %v: %s", took.Round(time.Millisecond), msg)
	if took > limit {
		t.Errorf("Open took %v to fail, want under %v", took, limit)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("error does not wrap ErrUnavailable: %v", err)
	}
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "cannot connect to PostgreSQL") {
		t.Errorf("error is not one clear line: %q", msg)
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("error shows the password: %q", msg)
	}
}

func TestOptionsValidate(t *testing.T) {
	err := Options{MaxRepairs: -1, MaxConns: -1, Durability: 9, QueryTimeout: -1}.Validate()
	for _, want := range []string{"DSN", "NodeID", "MaxRepairs", "MaxConns", "durability", "QueryTimeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not mention %s", err, want)
		}
	}
	if _, err := Open(context.Background(), Options{DSN: "postgres://x"}); err == nil {
		t.Error("Open accepted options without a NodeID")
	}
	if _, err := Open(context.Background(), Options{DSN: "::not a dsn", NodeID: "n1"}); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("Open with a bad DSN: %v", err)
	}
}

// ackWriter commits one new key after another until stopped, remembering which
// Commits returned success.
type ackWriter struct {
	e      *Engine
	mu     sync.Mutex
	acked  []object.Key
	failed int
	stop   chan struct{}
	done   chan struct{}
}

func startWriter(e *Engine) *ackWriter {
	w := &ackWriter{e: e, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			k := object.Key{Keyspace: "acks", Key: fmt.Sprintf("k%06d", i)}
			err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: k, Object: reg(fmt.Sprint(i))}}})
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, k)
			} else {
				w.failed++
				time.Sleep(20 * time.Millisecond)
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *ackWriter) counts() (acked, failed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked), w.failed
}

// finish stops the writer and checks that every acknowledged Commit is stored.
func (w *ackWriter) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	for _, k := range w.acked {
		if _, found, err := w.e.Get(k); err != nil || !found {
			t.Fatalf("acknowledged write %s lost (found=%v, err=%v)", k, found, err)
		}
	}
	t.Logf("%d commits acknowledged and found after recovery, %d failed", len(w.acked), w.failed)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConnectionsKilled terminates the engine's server connections under load, as a
// server restart or a proxy would: the Commits in flight fail, none that succeeded is
// lost, and the engine reconnects by itself.
func TestConnectionsKilled(t *testing.T) {
	dsn := testDSN(t)
	node := uniqueNode(t)
	t.Cleanup(func() { deleteNode(t, dsn, node) })
	e := openTest(t, Options{DSN: dsn, NodeID: node, MaxConns: 4})
	w := startWriter(e)
	for round := range 3 {
		acked, _ := w.counts()
		waitFor(t, "commits", 10*time.Second, func() bool { a, _ := w.counts(); return a > acked+20 })
		withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
			var n int
			err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE application_name = $1`, applicationName(node)).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("round %d: no connection of the engine to terminate", round)
			}
			t.Logf("round %d: terminated %d connections", round, n)
		})
	}
	acked, _ := w.counts()
	waitFor(t, "commits after the last kill", 10*time.Second, func() bool { a, _ := w.counts(); return a > acked+20 })
	w.finish(t)
	if !e.Healthy() {
		t.Error("engine unhealthy after recovering")
	}
}

// TestServerRestart stops the PostgreSQL server (immediate mode: a crash, recovered
// from the WAL on start) while a writer commits, then starts it again. It needs root
// and the server on this machine (pg_ctlcluster), and is skipped otherwise; set
// CHORUS_TEST_POSTGRES_NO_RESTART=1 to skip it where other tests share the server.
func TestServerRestart(t *testing.T) {
	dsn := testDSN(t)
	cluster := localCluster(t, dsn)
	e := openTest(t, Options{DSN: dsn, QueryTimeout: 3 * time.Second, ConnectTimeout: time.Second})
	w := startWriter(e)
	waitFor(t, "commits", 10*time.Second, func() bool { a, _ := w.counts(); return a > 50 })

	phase := time.Now()
	logPhase := func(what string) {
		t.Logf("%s after %v", what, time.Since(phase).Round(time.Millisecond))
		phase = time.Now()
	}
	pgctl(t, cluster, "stop", "-m", "immediate")
	logPhase("server stopped")
	restarted := false
	defer func() {
		if !restarted {
			pgctl(t, cluster, "start")
		}
	}()
	waitFor(t, "Healthy to turn false", 10*time.Second, func() bool { return !e.Healthy() })
	logPhase("Healthy false")
	err := e.Commit(&record.Batch{Meta: []record.MetaWrite{{Name: "down", Value: []byte("x")}}})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Commit with the server down: %v, want ErrUnavailable", err)
	}
	t.Logf("Commit with the server down: %v", err)
	_, failedBefore := w.counts()
	time.Sleep(time.Second)
	if _, failed := w.counts(); failed == failedBefore {
		t.Error("the writer's commits did not fail while the server was down")
	}

	pgctl(t, cluster, "start")
	restarted = true
	logPhase("server started")
	waitFor(t, "Healthy to turn true", 60*time.Second, e.Healthy)
	logPhase("Healthy true")
	acked, _ := w.counts()
	waitFor(t, "commits after the restart", 60*time.Second, func() bool { a, _ := w.counts(); return a > acked+50 })
	logPhase("50 commits after the restart")
	w.finish(t)
}

// localCluster returns the "version name" of the pg_ctlcluster cluster serving dsn's
// port on this machine, skipping the test where it cannot be restarted.
func localCluster(t *testing.T, dsn string) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: not restarting the server")
	}
	if os.Getenv("CHORUS_TEST_POSTGRES_NO_RESTART") != "" {
		t.Skip("CHORUS_TEST_POSTGRES_NO_RESTART is set")
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot stop and start the PostgreSQL server")
	}
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		t.Skip("pg_ctlcluster not found: cannot stop and start the PostgreSQL server")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Host; h != "127.0.0.1" && h != "localhost" && h != "::1" && !strings.HasPrefix(h, "/") {
		t.Skipf("the server (%s) is not on this machine", h)
	}
	out, err := exec.Command("pg_lsclusters", "--no-header").Output()
	if err != nil {
		t.Skipf("pg_lsclusters: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == fmt.Sprint(cfg.Port) {
			return f[:2]
		}
	}
	t.Skipf("no local cluster on port %d", cfg.Port)
	return nil
}

func pgctl(t *testing.T, cluster []string, args ...string) {
	t.Helper()
	cmd := exec.Command("pg_ctlcluster", append(append([]string{}, cluster...), args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_ctlcluster %s %v: %v\n%s", strings.Join(cluster, " "), args, err, out)
	}
}

// TestDurabilitySetting checks that NoSync turns synchronous_commit off on the
// engine's connections, and Sync leaves the server's setting (on by default).
func TestDurabilitySetting(t *testing.T) {
	for _, c := range []struct {
		dur  storage.Durability
		want string
	}{{storage.Sync, "on"}, {storage.NoSync, "off"}} {
		e := openTest(t, Options{Durability: c.dur})
		var got string
		if err := e.pool.QueryRow(context.Background(), "SHOW synchronous_commit").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("durability %d: synchronous_commit = %s, want %s", c.dur, got, c.want)
		}
	}
}

// TestCloseLeavesNoGoroutines: Close stops the janitor and both pools' goroutines.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	dsn := testDSN(t)
	before := runtime.NumGoroutine()
	e := openTest(t, Options{DSN: dsn})
	if err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: object.Key{Keyspace: "ks", Key: "k"}, Object: reg("v")}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.ScanObjects("ks", "", func(object.Key, object.Object) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "goroutines to end", 5*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}
