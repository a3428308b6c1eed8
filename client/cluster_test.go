package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/ring"
	"github.com/chorusdb/chorus/internal/testutil"
)

// TestRealCluster runs the client against three `chorus server` processes built from
// this checkout, on free loopback ports: each request must be coordinated by the
// key's primary replica (counted by the nodes' own chorus_requests_total), reads
// must return what was written, and writes must fail over when a node dies.
func TestRealCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a cluster")
	}
	cl := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := New(ctx, Options{Seeds: []string{cl[0].http}, Keyspace: "e2e", ReadLevel: "QUORUM", WriteLevel: "QUORUM"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// The ring as the servers build it, from their member list, independently of the
	// client's.
	var rms []ring.Member
	for _, m := range c.Members() {
		rms = append(rms, ring.Member{ID: m.ID, Zone: m.Zone})
	}
	r := ring.New(rms, ring.DefaultVnodes)
	primary := func(key string) string { return r.PreferenceList(ring.KeyHash("e2e", key), 3)[0] }

	before := requestCounts(t, cl)
	want := map[string]float64{}
	ks := keys(90)
	for _, k := range ks {
		if err := c.Set(ctx, k, []byte("value of "+k), 0); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
		want[primary(k)]++
	}
	for _, k := range ks {
		v, err := c.Get(ctx, k)
		if err != nil || string(v) != "value of "+k {
			t.Fatalf("Get(%q) = %q, %v", k, v, err)
		}
		want[primary(k)]++
	}
	after := requestCounts(t, cl)
	for _, n := range cl {
		if got := after[n.id] - before[n.id]; got != want[n.id] {
			t.Errorf("node %s coordinated %v requests, want %v (those of the keys it is primary of)", n.id, got, want[n.id])
		}
	}

	// A node dies: its keys' requests go to their next replica. The test waits until
	// the others have seen it die: writes in flight at the moment a peer dies can
	// time out on the server side (a server matter, not the client's).
	cl[1].kill()
	waitStatus(t, []*proc{cl[0], cl[2]}, cl[1].id, "dead")
	for _, k := range ks {
		if err := c.Set(ctx, k, []byte("new value of "+k), 0); err != nil {
			t.Fatalf("Set(%q) with %s dead: %v", k, cl[1].id, err)
		}
	}
	for _, k := range ks {
		v, err := c.Get(ctx, k)
		if err != nil || string(v) != "new value of "+k {
			t.Fatalf("Get(%q) with %s dead = %q, %v", k, cl[1].id, v, err)
		}
	}
	if n, err := c.Del(ctx, ks...); n != int64(len(ks)) || err != nil {
		t.Fatalf("Del = %d, %v; want %d", n, err, len(ks))
	}
}

// proc is one chorus server process of a test cluster.
type proc struct {
	id, resp, http string
	cmd            *exec.Cmd
	done           chan struct{}
}

func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// startCluster builds the chorus binary and starts n servers that join each other,
// and waits until every one sees all n alive.
func startCluster(t *testing.T, n int) []*proc {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "chorus")
	build := exec.Command("go", "build", "-o", bin, "github.com/chorusdb/chorus/cmd/chorus")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ports := testutil.FreePorts(t, 4*n)
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	var procs []*proc
	for i := 0; i < n; i++ {
		var join []string
		for j := 0; j < n; j++ {
			if j != i {
				join = append(join, addr(4*j+2))
			}
		}
		p := &proc{id: fmt.Sprintf("node%d", i), resp: addr(4 * i), http: addr(4*i + 1), done: make(chan struct{})}
		log, err := os.Create(filepath.Join(dir, p.id+".log"))
		if err != nil {
			t.Fatal(err)
		}
		p.cmd = exec.Command(bin, "server", "--node-id", p.id, "--data-dir", filepath.Join(dir, p.id),
			"--resp-addr", p.resp, "--http-addr", p.http, "--gossip-addr", addr(4*i+2), "--rpc-addr", addr(4*i+3),
			"--join", strings.Join(join, ","), "--fast-gossip")
		p.cmd.Stdout, p.cmd.Stderr = log, log
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.cmd.Wait(); log.Close(); close(p.done) }()
		t.Cleanup(func() {
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				p.kill()
			}
			if t.Failed() {
				b, _ := os.ReadFile(filepath.Join(dir, p.id+".log"))
				t.Logf("%s log:\n%s", p.id, b)
			}
		})
		procs = append(procs, p)
	}
	waitAlive(t, procs)
	return procs
}

// waitAlive waits until each server reports all of them alive and has finished
// filling.
func waitAlive(t *testing.T, procs []*proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, p := range procs {
		for {
			v, err := fetchViewFrom(context.Background(), http.DefaultClient, p.http)
			alive := 0
			if err == nil {
				for _, m := range v.Members {
					if m.Status == "alive" {
						alive++
					}
				}
			}
			if alive == len(procs) && !filling(p) {
				break
			}
			select {
			case <-p.done:
				t.Fatalf("%s exited before the cluster formed", p.id)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not see %d members alive (err %v)", p.id, len(procs), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// filling reports whether p is still refilling after its empty-disk start (its
// answers do not count toward levels until it is done), or cannot say.
func filling(p *proc) bool {
	resp, err := http.Get("http://" + p.http + "/healthz")
	if err != nil {
		return true
	}
	defer resp.Body.Close()
	var v struct{ Filling bool }
	return json.NewDecoder(resp.Body).Decode(&v) != nil || v.Filling
}

// waitStatus waits until each of procs reports member id with status.
func waitStatus(t *testing.T, procs []*proc, id, status string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range procs {
		for {
			v, err := fetchViewFrom(context.Background(), http.DefaultClient, p.http)
			if err == nil && slices.ContainsFunc(viewMembers(v), func(m Member) bool { return m.ID == id && m.Status == status }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not report %s %s (err %v)", p.id, id, status, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// requestCounts returns each node's chorus_requests_total, summed over labels.
func requestCounts(t *testing.T, procs []*proc) map[string]float64 {
	t.Helper()
	counts := map[string]float64{}
	for _, p := range procs {
		resp, err := http.Get("http://" + p.http + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "chorus_requests_total{") {
				continue
			}
			f, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("%s /metrics: %q: %v", p.id, line, err)
			}
			counts[p.id] += f
		}
		resp.Body.Close()
	}
	return counts
}
