package membership

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// detectTimeout bounds every wait for a failure to be detected with FastTiming
// (about 1–1.5 s when the machine is idle); generous for the race detector on
// shared cores.
const detectTimeout = 15 * time.Second

// testLogger logs to stderr when CHORUS_TEST_LOG is set (debug includes
// memberlist's own lines), and discards otherwise.
func testLogger() *slog.Logger {
	switch os.Getenv("CHORUS_TEST_LOG") {
	case "":
		return slog.New(slog.DiscardHandler)
	case "debug":
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	default:
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
}

// testConfig is a fast-timing config for node id on a free loopback port.
func testConfig(id string) GossipConfig {
	return GossipConfig{
		NodeID:   id,
		BindAddr: "127.0.0.1:0",
		Zone:     "zone-" + id,
		Addrs:    Addrs{RESP: "resp-" + id, HTTP: "http-" + id, RPC: "rpc-" + id},
		Logger:   testLogger().With("node", id),
		Fast:     true,
	}
}

// start starts a Gossip and closes it when the test ends.
func start(t *testing.T, cfg GossipConfig) *Gossip {
	t.Helper()
	g, err := NewGossip(cfg)
	if err != nil {
		t.Fatalf("NewGossip(%s): %v", cfg.NodeID, err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

// gossipAddr is the address g gossips on.
func gossipAddr(g *Gossip) string { return g.Local().Addrs.Gossip }

// startCluster starts n nodes n0…n{n-1}, each joining the first one (and its own
// address, which must be skipped), and waits until everyone sees everyone alive.
func startCluster(t *testing.T, n int) []*Gossip {
	t.Helper()
	nodes := []*Gossip{start(t, testConfig("n0"))}
	for i := 1; i < n; i++ {
		cfg := testConfig(fmt.Sprintf("n%d", i))
		g := start(t, cfg)
		if _, err := g.Join([]string{gossipAddr(nodes[0]), gossipAddr(g)}); err != nil {
			t.Fatalf("join: %v", err)
		}
		nodes = append(nodes, g)
	}
	for _, g := range nodes {
		for _, o := range nodes {
			waitStatus(t, g, o.Local().ID, Alive, detectTimeout)
		}
	}
	return nodes
}

// member returns g's view of member id.
func member(g *Gossip, id string) (Member, bool) {
	for _, m := range g.Members() {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStatus waits until g sees member id with status want.
func waitStatus(t *testing.T, g *Gossip, id string, want Status, d time.Duration) {
	t.Helper()
	waitFor(t, d, fmt.Sprintf("%s to see %s %s", g.Local().ID, id, want), func() bool {
		m, ok := member(g, id)
		return ok && m.Status == want
	})
}

// statusLog records the statuses of one member as a Gossip's subscriber sees them.
type statusLog struct {
	mu   sync.Mutex
	seen []Status
}

func watch(g *Gossip, id string) *statusLog {
	l := &statusLog{}
	g.Subscribe(func() {
		m, _ := member(g, id)
		l.mu.Lock()
		if len(l.seen) == 0 || l.seen[len(l.seen)-1] != m.Status {
			l.seen = append(l.seen, m.Status)
		}
		l.mu.Unlock()
	})
	return l
}

func (l *statusLog) statuses() []Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

func TestGossipThreeNodesSeeEachOther(t *testing.T) {
	nodes := startCluster(t, 3)
	for _, g := range nodes {
		ms := g.Members()
		if len(ms) != 3 {
			t.Fatalf("%s sees %d members, want 3: %+v", g.Local().ID, len(ms), ms)
		}
		for i, m := range ms {
			id := fmt.Sprintf("n%d", i)
			want := Member{ID: id, Zone: "zone-" + id, Status: Alive, Addrs: Addrs{
				RESP: "resp-" + id, HTTP: "http-" + id, RPC: "rpc-" + id, Gossip: gossipAddr(nodes[i]),
			}}
			if m != want {
				t.Errorf("%s sees %+v, want %+v", g.Local().ID, m, want)
			}
		}
	}
	if a := gossipAddr(nodes[0]); !strings.HasPrefix(a, "127.0.0.1:") || strings.HasSuffix(a, ":0") {
		t.Errorf("advertised gossip address %q, want the bound 127.0.0.1 port", a)
	}
	// Bound to port 0: the chosen port must be in the metadata itself, not only
	// inferred by the others from where the packets came from.
	if meta, err := decodeMeta(nodes[1].ml.LocalNode().Meta); err != nil || meta.Addrs.Gossip != gossipAddr(nodes[1]) {
		t.Errorf("advertised metadata %+v (%v), want gossip address %s", meta, err, gossipAddr(nodes[1]))
	}
}

func TestGossipKillSuspectThenDead(t *testing.T) {
	nodes := startCluster(t, 3)
	victim := nodes[2]
	logs := []*statusLog{watch(nodes[0], "n2"), watch(nodes[1], "n2")}
	killed := time.Now()
	if err := victim.Close(); err != nil {
		t.Fatal(err)
	}
	for _, g := range nodes[:2] {
		waitStatus(t, g, "n2", Dead, detectTimeout)
	}
	t.Logf("kill seen dead everywhere after %v", time.Since(killed).Round(time.Millisecond))
	sawSuspect := 0
	for i, l := range logs {
		// Subscribers run on their own goroutine, a moment after the view changed.
		waitFor(t, time.Second, "the subscriber to see n2 dead", func() bool {
			s := l.statuses()
			return len(s) > 0 && s[len(s)-1] == Dead
		})
		s := l.statuses()
		t.Logf("n%d saw n2 go %v", i, s)
		if j := slices.Index(s, Suspect); j >= 0 && j < slices.Index(s, Dead) {
			sawSuspect++
		}
	}
	// Suspicion is observed from this node's own failed probes (see suspect.go);
	// with three nodes both survivors probe n2 before it is declared dead, but one
	// may in rare schedules hear the suspicion from the other first.
	if sawSuspect == 0 {
		t.Errorf("no survivor saw n2 suspect before dead")
	}
}

func TestGossipRestartSameIDIsAliveAgain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		waitDead bool // restart after the others declared it dead
		join     bool // restart with Join; otherwise only with Known members
	}{
		{"after death, with join", true, true},
		{"after death, known members only", true, false},
		{"before death is noticed", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := startCluster(t, 3)
			old := nodes[2]
			cfg := testConfig("n2")
			cfg.BindAddr = gossipAddr(old)
			known := old.Members()
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.waitDead {
				for _, g := range nodes[:2] {
					waitStatus(t, g, "n2", Dead, detectTimeout)
				}
			}
			if tc.join {
				cfg.Join = []string{gossipAddr(nodes[0]), gossipAddr(nodes[1])}
			} else {
				cfg.Known = known
			}
			restarted := start(t, cfg)
			if gossipAddr(restarted) != gossipAddr(old) {
				t.Fatalf("restarted on %s, want %s", gossipAddr(restarted), gossipAddr(old))
			}
			for _, g := range []*Gossip{nodes[0], nodes[1], restarted} {
				for _, id := range []string{"n0", "n1", "n2"} {
					waitStatus(t, g, id, Alive, detectTimeout)
				}
			}
		})
	}
}

func TestGossipRestartOnNewAddressAfterDeath(t *testing.T) {
	nodes := startCluster(t, 2)
	old := nodes[1]
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, nodes[0], "n1", Dead, detectTimeout)
	cfg := testConfig("n1") // a new port
	cfg.Join = []string{gossipAddr(nodes[0])}
	moved := start(t, cfg)
	waitFor(t, detectTimeout, "n0 to see n1 alive at its new address", func() bool {
		m, _ := member(nodes[0], "n1")
		return m.Status == Alive && m.Addrs.Gossip == gossipAddr(moved)
	})
}

func TestGossipLeave(t *testing.T) {
	nodes := startCluster(t, 3)
	if err := nodes[2].Leave(5 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	if s := nodes[2].Local().Status; s != Left {
		t.Errorf("Local().Status after Leave = %v, want left", s)
	}
	for _, g := range nodes[:2] {
		waitStatus(t, g, "n2", Left, detectTimeout)
	}
	if err := nodes[2].Leave(0); err != nil {
		t.Errorf("second Leave: %v", err)
	}
	// Closing after leaving must not turn it into dead.
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // long enough for a probe round; the status must not change
	for _, g := range nodes[:2] {
		if m, _ := member(g, "n2"); m.Status != Left {
			t.Errorf("%s sees n2 %v after it left and closed, want left", g.Local().ID, m.Status)
		}
	}
	if err := nodes[2].Leave(time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("Leave after Close = %v, want ErrClosed", err)
	}
}

func TestGossipAnyStartOrderConverges(t *testing.T) {
	addrA := freeAddr(t)
	cfgB := testConfig("b")
	cfgB.Join = []string{addrA}
	b := start(t, cfgB) // A is not up yet: B starts alone
	if m := b.Members(); len(m) != 1 {
		t.Fatalf("B alone sees %v", m)
	}
	time.Sleep(300 * time.Millisecond) // let B fail a background round or two
	cfgA := testConfig("a")
	cfgA.BindAddr = addrA
	a := start(t, cfgA) // joins nobody itself
	waitStatus(t, a, "b", Alive, detectTimeout)
	waitStatus(t, b, "a", Alive, detectTimeout)
}

func TestGossipKnownMembersStartDead(t *testing.T) {
	addrY := freeAddr(t)
	cfg := testConfig("x")
	cfg.Known = []Member{
		{ID: "x", Zone: "stale", Status: Dead}, // self: ignored
		{ID: "y", Zone: "zone-y", Status: Alive, Addrs: Addrs{Gossip: addrY, RPC: "rpc-y"}},
		{ID: "z", Zone: "zone-z", Status: Left, Addrs: Addrs{Gossip: "127.0.0.1:1"}},
	}
	x := start(t, cfg)
	got := x.Members()
	want := []Member{
		x.Local(),
		{ID: "y", Zone: "zone-y", Status: Dead, Addrs: Addrs{Gossip: addrY, RPC: "rpc-y"}},
		{ID: "z", Zone: "zone-z", Status: Left, Addrs: Addrs{Gossip: "127.0.0.1:1"}},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Members() = %+v\nwant %+v", got, want)
	}
	if got[0].Zone != "zone-x" || got[0].Status != Alive {
		t.Errorf("self = %+v", got[0])
	}
	// y comes up without being told whom to join: x keeps trying its known address.
	cfgY := testConfig("y")
	cfgY.BindAddr = addrY
	y := start(t, cfgY)
	waitStatus(t, x, "y", Alive, detectTimeout)
	waitStatus(t, y, "x", Alive, detectTimeout)
	m, _ := member(x, "y")
	if m.Zone != "zone-y" || m.Addrs.RPC != "rpc-y" {
		t.Errorf("x sees y as %+v: gossip metadata should replace the known one", m)
	}
}

func TestGossipJoinerLearnsDeadMembers(t *testing.T) {
	nodes := startCluster(t, 3)
	if err := nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, nodes[0], "n2", Dead, detectTimeout)
	cfg := testConfig("late")
	cfg.Join = []string{gossipAddr(nodes[0])}
	late := start(t, cfg)
	waitStatus(t, late, "n1", Alive, detectTimeout)
	m, ok := member(late, "n2")
	if !ok || m.Status != Dead || m.Zone != "zone-n2" {
		t.Errorf("late joiner sees n2 as %+v (known %v), want dead with its metadata", m, ok)
	}
}

func TestNewGossipMetadataTooLarge(t *testing.T) {
	cfg := testConfig("big")
	cfg.Zone = strings.Repeat("z", 500)
	_, err := NewGossip(cfg)
	if !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("NewGossip with a 500-byte zone = %v, want ErrMetaTooLarge", err)
	}
	t.Log(err)
}

func TestNewGossipPortTaken(t *testing.T) {
	g := start(t, testConfig("first"))
	cfg := testConfig("second")
	cfg.BindAddr = gossipAddr(g)
	_, err := NewGossip(cfg)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), cfg.BindAddr) {
		t.Fatalf("NewGossip on a taken port = %v, want EADDRINUSE naming %s", err, cfg.BindAddr)
	}
	t.Log(err)

	l, err := net.Listen("tcp", "127.0.0.1:0") // taken by something else, TCP only
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg.BindAddr = l.Addr().String()
	if _, err = NewGossip(cfg); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("NewGossip on a port taken by a TCP listener = %v, want EADDRINUSE", err)
	}
}

func TestNewGossipInvalidConfig(t *testing.T) {
	_, err := NewGossip(GossipConfig{BindAddr: "nope", Timing: Timing{ProbeInterval: time.Second, ProbeTimeout: 2 * time.Second}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"NodeID", "BindAddr", "ProbeTimeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestGossipSubscribe(t *testing.T) {
	a := start(t, testConfig("a"))
	var calls [2]atomic.Int32
	var running atomic.Int32
	var order []int
	var mu sync.Mutex
	for i := range 2 {
		a.Subscribe(func() {
			if running.Add(1) != 1 {
				t.Error("callbacks ran concurrently")
			}
			calls[i].Add(1)
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			running.Add(-1)
		})
	}
	cfg := testConfig("b")
	cfg.Join = []string{gossipAddr(a)}
	b := start(t, cfg)
	waitFor(t, detectTimeout, "callbacks after b joined", func() bool {
		m, _ := member(a, "b")
		return m.Status == Alive && calls[0].Load() > 0 && calls[1].Load() > 0
	})
	before := calls[0].Load()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a, "b", Dead, detectTimeout)
	waitFor(t, time.Second, "callback after b died", func() bool { return calls[0].Load() > before })
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i+1 < len(order); i += 2 {
		if order[i] != 0 || order[i+1] != 1 {
			t.Fatalf("callbacks out of registration order: %v", order)
		}
	}
}

func TestGossipJoinSkipsSelf(t *testing.T) {
	a := start(t, testConfig("a"))
	_, port, _ := net.SplitHostPort(gossipAddr(a))
	n, err := a.Join([]string{gossipAddr(a), "localhost:" + port, "a/127.0.0.1:1"})
	if n != 0 || err != nil {
		t.Fatalf("Join(self) = %d, %v; want 0, nil", n, err)
	}
	b := start(t, testConfig("b"))
	if n, err = a.Join([]string{gossipAddr(a), gossipAddr(b)}); n != 1 || err != nil {
		t.Fatalf("Join(self, b) = %d, %v; want 1, nil", n, err)
	}
}

func TestGossipMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig("a")
	cfg.Registerer = reg
	cfg.Known = []Member{{ID: "gone", Addrs: Addrs{Gossip: "127.0.0.1:1"}}}
	a := start(t, cfg)
	cfgB := testConfig("b")
	cfgB.Join = []string{gossipAddr(a)}
	start(t, cfgB)
	waitStatus(t, a, "b", Alive, detectTimeout)
	want := map[string]float64{"alive": 2, "suspect": 0, "dead": 1, "left": 0}
	waitFor(t, time.Second, "gauge values", func() bool { return maps(gauge(t, reg), want) })
	if _, err := NewGossip(cfg); err == nil || !strings.Contains(err.Error(), "chorus_members") {
		t.Errorf("second registration: %v, want an error naming chorus_members", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, reg); len(got) != 0 {
		t.Errorf("gauge still registered after Close: %v", got)
	}
}

func maps(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// gauge returns chorus_members by status.
func gauge(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "chorus_members" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[label(m, "status")] = m.GetGauge().GetValue()
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestGossipCloseIsIdempotentAndLeaksNothing(t *testing.T) {
	base := runtime.NumGoroutine()
	a := start(t, testConfig("a"))
	cfg := testConfig("b")
	cfg.Join = []string{gossipAddr(a), freeAddr(t)} // a dead address keeps the loops busy
	b := start(t, cfg)
	waitStatus(t, a, "b", Alive, detectTimeout)
	for _, g := range []*Gossip{a, b} {
		for range 2 {
			if err := g.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
	}
	if _, err := a.Join([]string{gossipAddr(b)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Join after Close = %v, want ErrClosed", err)
	}
	waitFor(t, 10*time.Second, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })
}

// freeAddr returns a loopback address whose port was free (for TCP and UDP) a
// moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	t.Fatal("no free port")
	return ""
}

// TestGossipDetectionTime measures how long the default timing takes to see a
// killed node dead (and suspect) in a three-node cluster.
func TestGossipDetectionTime(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement; skipped with -short")
	}
	for _, profile := range []struct {
		name string
		fast bool
	}{{"default", false}, {"fast", true}} {
		t.Run(profile.name, func(t *testing.T) {
			var suspects, deads []time.Duration
			for round := range 3 {
				nodes := make([]*Gossip, 3)
				for i := range nodes {
					cfg := testConfig(fmt.Sprintf("m%d", i))
					cfg.Fast = profile.fast
					if i > 0 {
						cfg.Join = []string{gossipAddr(nodes[0])}
					}
					nodes[i] = start(t, cfg)
				}
				for _, g := range nodes {
					for _, o := range nodes {
						waitStatus(t, g, o.Local().ID, Alive, 30*time.Second)
					}
				}
				time.Sleep(time.Second) // let probing settle into its rhythm
				killed := time.Now()
				var suspect, dead time.Duration
				nodes[2].Close()
				waitFor(t, 60*time.Second, "detection", func() bool {
					all := true
					for _, g := range nodes[:2] {
						m, _ := member(g, "m2")
						if m.Status == Suspect && suspect == 0 {
							suspect = time.Since(killed)
						}
						all = all && m.Status == Dead
					}
					return all
				})
				dead = time.Since(killed)
				suspects, deads = append(suspects, suspect), append(deads, dead)
				t.Logf("round %d: first suspect after %v, dead on both survivors after %v", round,
					suspect.Round(time.Millisecond), dead.Round(time.Millisecond))
				nodes[0].Close()
				nodes[1].Close()
			}
			fmt.Printf("membership: %s timing, 3 nodes, kill detection: suspect %v, dead %v\n",
				profile.name, rounded(suspects), rounded(deads))
		})
	}
}

func rounded(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}

// TestGossipEncryptionAndClusterLabel: members sharing a gossip key and cluster name
// see each other; a node with another key, no key, or another cluster name is never
// heard; a key ring that holds the peers' key (a rotation in progress) still joins.
func TestGossipEncryptionAndClusterLabel(t *testing.T) {
	k1, k2 := []byte("0123456789abcdef"), []byte("fedcba9876543210")
	cfg := func(id, cluster string, keys ...[]byte) GossipConfig {
		c := testConfig(id)
		c.Cluster, c.Keys = cluster, keys
		return c
	}
	a := start(t, cfg("a", "prod", k1, k2))
	b := start(t, cfg("b", "prod", k1))
	if _, err := b.Join([]string{gossipAddr(a)}); err != nil {
		t.Fatalf("same key and cluster: %v", err)
	}
	waitStatus(t, a, "b", Alive, detectTimeout)
	// Rotation: e encrypts with k2, which a already accepts (b does not: e cannot join
	// through b until b has k2 too).
	e := start(t, cfg("e", "prod", k2, k1))
	if _, err := e.Join([]string{gossipAddr(a)}); err != nil {
		t.Fatalf("a key ring holding the peer's key: %v", err)
	}
	waitStatus(t, a, "e", Alive, detectTimeout)
	for _, bad := range []GossipConfig{
		cfg("wrongkey", "prod", k2),
		cfg("nokey", "prod"),
		cfg("othercluster", "staging", k1),
	} {
		g := start(t, bad)
		if _, err := g.Join([]string{gossipAddr(b)}); err == nil {
			t.Errorf("%s joined a cluster it has no credentials for", bad.NodeID)
		}
		time.Sleep(200 * time.Millisecond)
		if _, seen := member(b, bad.NodeID); seen {
			t.Errorf("%s is in b's view", bad.NodeID)
		}
	}
	if err := (GossipConfig{NodeID: "x", BindAddr: "127.0.0.1:0", Keys: [][]byte{[]byte("short")}}).Validate(); err == nil {
		t.Error("a 5-byte gossip key was accepted")
	}
}
