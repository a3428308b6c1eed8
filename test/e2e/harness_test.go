package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chorusdb/chorus/internal/testutil"
)

// binary is the chorus binary built once for the package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chorus-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "chorus")
	build := exec.Command("go", "build", "-race", "-o", binary, "github.com/chorusdb/chorus/cmd/chorus")
	if os.Getenv("CHORUS_E2E_NORACE") != "" {
		build = exec.Command("go", "build", "-o", binary, "github.com/chorusdb/chorus/cmd/chorus")
	}
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building chorus:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one chorus server process.
type server struct {
	t                       *testing.T
	id                      string
	dir                     string
	resp, http, gossip, rpc string
	join                    []string
	extra                   []string
	env                     []string
	cmd                     *exec.Cmd
	log                     *os.File
	exited                  chan struct{}
	// tls, if set, is the client TLS configuration for the server's RESP and HTTP
	// ports (--client-tls); token authenticates (--auth-password).
	tls   *tls.Config
	token string
	bin   string // the binary to run, when not the stock chorus
}

// url is the address of path on the server's HTTP port.
func (s *server) url(path string) string {
	if s.tls != nil {
		return "https://" + s.http + path
	}
	return "http://" + s.http + path
}

// get sends GET path with the server's TLS settings and token.
func (s *server) get(path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, s.url(path), nil)
	if err != nil {
		return nil, err
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	c := http.DefaultClient
	if s.tls != nil {
		c = &http.Client{Transport: &http.Transport{TLSClientConfig: s.tls}}
	}
	return c.Do(req)
}

// redisOptions are go-redis options for the server's RESP port.
func (s *server) redisOptions() *redis.Options {
	return &redis.Options{Addr: s.resp, MaxRetries: -1, PoolSize: 4, TLSConfig: s.tls, Password: s.token}
}

// cluster is a set of server processes that join each other.
type cluster struct {
	t       *testing.T
	servers []*server
}

// newCluster starts n servers that join each other, and waits until every one sees
// every other alive.
func newCluster(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	return newClusterEach(t, n, func(int) []string { return extra })
}

// newClusterEach is newCluster with extra arguments chosen per server.
func newClusterEach(t *testing.T, n int, extraFor func(i int) []string) *cluster {
	t.Helper()
	return newClusterWith(t, n, extraFor, nil)
}

// newClusterWith is newClusterEach with setup called on each server before it starts
// (to set its client TLS and token).
func newClusterWith(t *testing.T, n int, extraFor func(i int) []string, setup func(i int, s *server)) *cluster {
	t.Helper()
	c := &cluster{t: t}
	ports := testutil.FreePorts(t, 4*n)
	base := t.TempDir()
	prefix := ""
	if storageKind() == "postgres" {
		// Nodes of every test share one database: rows are scoped by node id.
		prefix = fmt.Sprintf("t%d-", ports[0])
		if os.Getenv("CHORUS_TEST_POSTGRES_DSN") == "" {
			t.Fatal("CHORUS_E2E_STORAGE=postgres needs CHORUS_TEST_POSTGRES_DSN")
		}
	}
	for i := 0; i < n; i++ {
		s := &server{
			t: t, id: fmt.Sprintf("%sn%d", prefix, i), dir: filepath.Join(base, fmt.Sprintf("n%d", i)),
			resp:   fmt.Sprintf("127.0.0.1:%d", ports[4*i]),
			http:   fmt.Sprintf("127.0.0.1:%d", ports[4*i+1]),
			gossip: fmt.Sprintf("127.0.0.1:%d", ports[4*i+2]),
			rpc:    fmt.Sprintf("127.0.0.1:%d", ports[4*i+3]),
			extra:  extraFor(i),
		}
		if setup != nil {
			setup(i, s)
		}
		c.servers = append(c.servers, s)
	}
	for i, s := range c.servers {
		for j, o := range c.servers {
			if i != j {
				s.join = append(s.join, o.gossip)
			}
		}
	}
	for _, s := range c.servers {
		s.start()
	}
	t.Cleanup(c.stopAll)
	c.waitAlive(n)
	return c
}

// storageKind is the engine the servers use: pebble, or postgres when
// CHORUS_E2E_STORAGE=postgres (with CHORUS_TEST_POSTGRES_DSN naming the server).
func storageKind() string {
	if os.Getenv("CHORUS_E2E_STORAGE") == "postgres" {
		return "postgres"
	}
	return "pebble"
}

func (s *server) args() []string {
	a := []string{"server", "--node-id", s.id, "--data-dir", s.dir,
		"--resp-addr", s.resp, "--http-addr", s.http, "--gossip-addr", s.gossip, "--rpc-addr", s.rpc,
		"--fast-gossip", "--log-level", "debug"}
	if len(s.join) > 0 {
		a = append(a, "--join", strings.Join(s.join, ","))
	}
	if storageKind() == "postgres" {
		a = append(a, "--storage", "postgres", "--postgres-dsn", os.Getenv("CHORUS_TEST_POSTGRES_DSN"))
	}
	return append(a, s.extra...)
}

// start launches the process; its output goes to a log file shown if the test fails.
func (s *server) start() {
	s.t.Helper()
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(s.dir), s.id+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	s.log = logf
	bin := binary
	if s.bin != "" {
		bin = s.bin
	}
	s.cmd = exec.Command(bin, s.args()...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.Env = append(os.Environ(), s.env...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(s.cmd, s.exited)
	s.waitHTTP()
}

// waitHTTP waits until the server answers /healthz.
func (s *server) waitHTTP() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.t.Fatalf("%s exited during start:\n%s", s.id, s.logTail())
		default:
		}
		resp, err := s.get("/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s did not serve HTTP within 30s:\n%s", s.id, s.logTail())
}

// kill9 kills the process without warning.
func (s *server) kill9() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.t.Errorf("%s exited with code %d after SIGTERM:\n%s", s.id, code, s.logTail())
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("%s did not stop within 20s of SIGTERM", s.id)
	}
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(s.log.Name())
	lines := strings.Split(string(b), "\n")
	if len(lines) > 100 {
		lines = lines[len(lines)-100:]
	}
	return strings.Join(lines, "\n")
}

func (c *cluster) stopAll() {
	var wg sync.WaitGroup
	for _, s := range c.servers {
		wg.Add(1)
		go func(s *server) {
			defer wg.Done()
			s.stop()
		}(s)
	}
	wg.Wait()
	if c.t.Failed() {
		for _, s := range c.servers {
			c.t.Logf("--- log of %s ---\n%s", s.id, s.logTail())
		}
	}
}

// filling reports whether the server says it is refilling after an empty-disk start.
func (s *server) filling() bool {
	resp, err := s.get("/healthz")
	if err != nil {
		return true
	}
	defer resp.Body.Close()
	var v struct{ Filling bool }
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return true
	}
	return v.Filling
}

// member is one entry of GET /v1/cluster.
type member struct {
	ID        string            `json:"id"`
	Status    string            `json:"status"`
	Zone      string            `json:"zone"`
	Addrs     map[string]string `json:"addrs"`
	Ownership float64           `json:"ownership"`
}

func (s *server) members() ([]member, error) {
	resp, err := s.get("/v1/cluster")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v struct{ Members []member }
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v.Members, err
}

// waitFor polls cond until it returns nil or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %v", what, timeout, err)
}

// waitAlive waits until every running server sees want members alive.
func (c *cluster) waitAlive(want int) {
	c.t.Helper()
	waitFor(c.t, 60*time.Second, "cluster membership", func() error {
		for _, s := range c.servers {
			select {
			case <-s.exited:
				continue
			default:
			}
			ms, err := s.members()
			if err != nil {
				return err
			}
			alive := 0
			for _, m := range ms {
				if m.Status == "alive" {
					alive++
				}
			}
			if alive != want {
				return fmt.Errorf("%s sees %d alive, want %d", s.id, alive, want)
			}
			if s.filling() {
				return fmt.Errorf("%s is still filling", s.id)
			}
		}
		return nil
	})
	if want == len(c.servers) {
		c.waitSettled()
	}
}

// waitSettled waits until a read at ALL succeeds through every server: every node's
// shards have the new view and its connections to the others are up.
func (c *cluster) waitSettled() {
	c.t.Helper()
	for _, s := range c.servers {
		cl := redis.NewClient(s.redisOptions())
		waitFor(c.t, 60*time.Second, "a read at ALL through "+s.id, func() error {
			err := cl.Do(context.Background(), "CONSISTENCY", "ALL").Err()
			if err == nil {
				err = cl.Get(context.Background(), "__settled").Err()
			}
			if err == redis.Nil {
				return nil
			}
			return err
		})
		cl.Close()
	}
}

// runChorus runs the chorus CLI and returns its combined output.
func runChorus(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	return string(out), err
}

// lineReader reads a process's stdout line by line.
func lineReader(t *testing.T, cmd *exec.Cmd) *bufio.Scanner {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	return bufio.NewScanner(out)
}
