// Package chaos is the real-process fault suite: five `chorus server` processes, each in
// its own network namespace joined by veth pairs to a bridge, with a nemesis that kills
// and restarts, pauses past the failure detector, partitions (both ways and one way),
// drops and slows packets, while clients write, read, increment and add; then
// everything heals and the history is checked. It needs root; otherwise it skips.
//
// Environment: CHAOS_DURATION (default 3m), CHAOS_SEED (default: the time).
package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var binary string

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("chaos: skipped: network namespaces need root")
		os.Exit(0)
	}
	for _, tool := range []string{"ip", "iptables", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Printf("chaos: skipped: %s not found\n", tool)
			os.Exit(0)
		}
	}
	redis.SetLogger(quiet{}) // connection errors are expected here, and recorded
	dir, err := os.MkdirTemp("", "chorus-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "chorus")
	build := exec.Command("go", "build", "-o", binary, "github.com/chorusdb/chorus/cmd/chorus")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building chorus:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	nodes     = 5
	bridge    = "chaosbr0"
	subnet    = "10.231.0"
	skewed    = 4                       // this node's clock runs ahead
	skewBy    = 1500 * time.Millisecond // beyond the default --max-clock-skew
	regKeys   = 40
	ctrKeys   = 3
	setKeys   = 3
	opTimeout = 4 * time.Second
)

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func runQuiet(args ...string) { exec.Command(args[0], args[1:]...).Run() }

type node struct {
	i      int
	id, ns string
	ip     string
	veth   string // the node's end, inside its namespace
	dir    string
	log    *os.File
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

func (n *node) addr(port int) string { return fmt.Sprintf("%s:%d", n.ip, port) }

// network creates the bridge and one namespace per node; cleanup removes them.
func network(t *testing.T, ns []*node) {
	// Docker sets the FORWARD policy to DROP, and bridged packets pass through it
	// (br_netfilter): let the bridge forward between the namespaces.
	forward := []string{"FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"}
	cleanup := func() {
		for _, n := range ns {
			runQuiet("ip", "netns", "del", n.ns)
		}
		runQuiet("ip", "link", "del", bridge)
		for exec.Command("iptables", append([]string{"-D"}, forward...)...).Run() == nil {
		}
	}
	cleanup() // leftovers of an interrupted run
	t.Cleanup(cleanup)
	run(t, append([]string{"iptables", "-I"}, forward...)...)
	run(t, "ip", "link", "add", bridge, "type", "bridge")
	run(t, "ip", "addr", "add", subnet+".1/24", "dev", bridge)
	run(t, "ip", "link", "set", bridge, "up")
	for _, n := range ns {
		host := fmt.Sprintf("chv%d", n.i)
		run(t, "ip", "netns", "add", n.ns)
		run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", n.veth)
		run(t, "ip", "link", "set", n.veth, "netns", n.ns)
		run(t, "ip", "link", "set", host, "master", bridge, "up")
		run(t, "ip", "netns", "exec", n.ns, "ip", "addr", "add", n.ip+"/24", "dev", n.veth)
		run(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", n.veth, "up")
		run(t, "ip", "netns", "exec", n.ns, "ip", "link", "set", "lo", "up")
	}
}

func (n *node) start(t *testing.T, all []*node) {
	t.Helper()
	var join []string
	for _, o := range all {
		if o != n {
			join = append(join, o.addr(8380))
		}
	}
	args := []string{"netns", "exec", n.ns, binary, "server", "--node-id", n.id, "--data-dir", n.dir,
		"--resp-addr", n.addr(6380), "--http-addr", n.addr(7380), "--gossip-addr", n.addr(8380), "--rpc-addr", n.addr(9380),
		// --durability sync: the checks hold every acknowledged write to survive, which
		// is what sync promises. With periodic, a kill -9 may lose the writes of the last
		// sync interval (Pebble keeps the tail of its log in the process), and a write
		// acknowledged at ONE just before it is then gone: a 3-minute run found two.
		"--join", strings.Join(join, ","), "--fast-gossip", "--anti-entropy-interval", "5s", "--durability", "sync",
		"--request-timeout", "2s", "--log-level", "info"}
	if n.i == skewed {
		args = append(args, "--test-clock-offset", skewBy.String())
	}
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = n.log, n.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
}

func (n *node) signal(s syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(s)
	}
}

func (n *node) kill() {
	n.signal(syscall.SIGCONT)
	n.signal(syscall.SIGKILL)
	n.mu.Lock()
	ex := n.exited
	n.mu.Unlock()
	if ex != nil {
		<-ex
	}
}

// iptables runs iptables inside the node's namespace.
func (n *node) iptables(args ...string) error {
	return exec.Command("ip", append([]string{"netns", "exec", n.ns, "iptables"}, args...)...).Run()
}

func (n *node) heal() {
	n.iptables("-F", "INPUT")
	runQuiet("ip", "netns", "exec", n.ns, "tc", "qdisc", "del", "dev", n.veth, "root")
}

func get(url string) (int, []byte, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// ---- history

type outcome uint8

const (
	ok outcome = iota
	fail
	unknown
)

type op struct {
	client         int
	node           int
	kind           string // set, get, incr, sadd
	key            string
	value          string // set: unique; sadd: the element
	delta          int64
	level          string
	invoke, finish time.Time
	out            outcome
	read           string // get: the value read ("" absent)
	readOK         bool
}

func classify(err error) outcome {
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		return ok
	case strings.HasPrefix(err.Error(), "UNAVAILABLE"):
		return fail // nothing was sent
	}
	return unknown // TIMEOUT, a broken connection, a paused node…
}

func client(ctx context.Context, id int, n *node, seed uint64, hist chan<- op) {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	levels := []string{"ONE", "QUORUM", "ALL"}
	for seq := 0; ctx.Err() == nil; seq++ {
		c := redis.NewClient(&redis.Options{Addr: n.addr(6380), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: opTimeout, WriteTimeout: opTimeout, PoolSize: 1})
		level := levels[rng.IntN(3)]
		o := op{client: id, node: n.i, level: level, invoke: time.Now()}
		var err error
		if err = c.Do(ctx, "CONSISTENCY", level).Err(); err == nil {
			switch p := rng.IntN(100); {
			case p < 55:
				o.kind, o.key, o.value = "set", fmt.Sprintf("r%d", rng.IntN(regKeys)), fmt.Sprintf("c%d-%d", id, seq)
				err = c.Set(ctx, o.key, o.value, 0).Err()
			case p < 80:
				o.kind, o.key = "get", fmt.Sprintf("r%d", rng.IntN(regKeys))
				var v string
				v, err = c.Get(ctx, o.key).Result()
				o.read, o.readOK = v, err == nil
			case p < 92:
				o.kind, o.key, o.delta = "incr", fmt.Sprintf("c%d", rng.IntN(ctrKeys)), int64(1+rng.IntN(3))
				err = c.IncrBy(ctx, o.key, o.delta).Err()
			default:
				o.kind, o.key, o.value = "sadd", fmt.Sprintf("s%d", rng.IntN(setKeys)), fmt.Sprintf("e%d-%d", id, seq)
				err = c.SAdd(ctx, o.key, o.value).Err()
			}
		}
		c.Close()
		if ctx.Err() != nil && err != nil {
			// Cut off by the end of the run: the server may still have applied it, so it
			// is recorded with an unknown outcome (a write dropped from the history
			// could end as a key's value that no recorded write explains).
			if o.kind != "" {
				o.finish, o.out = time.Now(), unknown
				hist <- o
			}
			return
		}
		o.finish, o.out = time.Now(), classify(err)
		if o.kind == "" {
			o.kind, o.out = "consistency", classify(err)
		}
		hist <- o
		if o.out != ok {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// ---- the test

func TestChaos(t *testing.T) {
	dur := 3 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("CHAOS_DURATION")); err == nil {
		dur = d
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CHAOS_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("chaos: seed %d, %v (replay: CHAOS_SEED=%d CHAOS_DURATION=%v)", seed, dur, seed, dur)
	rng := rand.New(rand.NewPCG(seed, 99))
	base := t.TempDir()
	all := make([]*node, nodes)
	for i := range all {
		all[i] = &node{i: i, id: fmt.Sprintf("n%d", i), ns: fmt.Sprintf("chaos-n%d", i), ip: fmt.Sprintf("%s.%d", subnet, 10+i),
			veth: fmt.Sprintf("chp%d", i), dir: filepath.Join(base, fmt.Sprintf("n%d", i))}
		f, err := os.Create(filepath.Join(base, all[i].id+".log"))
		if err != nil {
			t.Fatal(err)
		}
		all[i].log = f
	}
	network(t, all)
	for _, n := range all {
		n.start(t, all)
	}
	t.Cleanup(func() {
		for _, n := range all {
			n.kill()
		}
		if t.Failed() {
			for _, n := range all {
				b, _ := os.ReadFile(n.log.Name())
				lines := strings.Split(string(b), "\n")
				if len(lines) > 30 {
					lines = lines[len(lines)-30:]
				}
				t.Logf("--- %s ---\n%s", n.id, strings.Join(lines, "\n"))
			}
		}
	})
	waitAll(t, all, 60*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	hist := make(chan op, 1024)
	var history []op
	collected := make(chan struct{})
	go func() {
		for o := range hist {
			history = append(history, o)
		}
		close(collected)
	}()
	var wg sync.WaitGroup
	for i := range 2 * nodes {
		wg.Add(1)
		go func() { defer wg.Done(); client(ctx, i, all[i%nodes], seed, hist) }()
	}
	faults := nemesis(ctx, t, rng, all)
	wg.Wait()
	close(hist)
	<-collected

	// Heal everything and let the cluster converge.
	for _, n := range all {
		n.heal()
		n.signal(syscall.SIGCONT)
	}
	for _, n := range all {
		select {
		case <-n.exited:
			n.start(t, all)
		default:
		}
	}
	waitAll(t, all, 90*time.Second)
	for _, n := range all {
		resp, err := http.Post("http://"+n.addr(7380)+"/v1/repair", "", nil)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	v := check(t, all, history)
	counts := map[string]int{}
	for _, o := range history {
		counts[o.kind]++
	}
	fmt.Printf("chaos: ops=%d faults=%d violations=%d clock_losses=%d (sets %d, gets %d, incrs %d, sadds %d; seed %d)\n",
		len(history), faults, v.violations, v.clockLosses, counts["set"], counts["get"], counts["incr"], counts["sadd"], seed)
	if v.violations > 0 {
		t.Fatalf("%d violations; replay with CHAOS_SEED=%d", v.violations, seed)
	}
}

// waitAll waits until every node sees every other alive and answers a read at ALL.
func waitAll(t *testing.T, all []*node, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := func() error {
			for _, n := range all {
				code, body, err := get("http://" + n.addr(7380) + "/v1/cluster")
				if err != nil || code != 200 {
					return fmt.Errorf("%s: %v %d", n.id, err, code)
				}
				var v struct{ Members []struct{ Status string } }
				json.Unmarshal(body, &v)
				alive := 0
				for _, m := range v.Members {
					if m.Status == "alive" {
						alive++
					}
				}
				if alive != len(all) {
					return fmt.Errorf("%s sees %d alive", n.id, alive)
				}
				c := redis.NewClient(&redis.Options{Addr: n.addr(6380), MaxRetries: -1})
				c.Do(context.Background(), "CONSISTENCY", "ALL")
				err = c.Get(context.Background(), "__settled").Err()
				c.Close()
				if err != nil && !errors.Is(err, redis.Nil) {
					return fmt.Errorf("%s: read at ALL: %v", n.id, err)
				}
			}
			return nil
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not settled within %v: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// nemesis injects one fault at a time until ctx ends, and returns how many.
func nemesis(ctx context.Context, t *testing.T, rng *rand.Rand, all []*node) int {
	faults := 0
	logf := func(format string, args ...any) {
		t.Logf("%s nemesis: "+format, append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	}
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	for wait(time.Duration(2+rng.IntN(3)) * time.Second) {
		n := all[rng.IntN(len(all))]
		other := all[(n.i+1+rng.IntN(len(all)-1))%len(all)]
		hold := time.Duration(4+rng.IntN(5)) * time.Second
		faults++
		switch rng.IntN(6) {
		case 0:
			logf("kill -9 %s for %v", n.id, hold)
			n.kill()
			wait(hold)
			n.start(t, all)
		case 1:
			logf("SIGSTOP %s for %v", n.id, hold)
			n.signal(syscall.SIGSTOP)
			wait(hold)
			n.signal(syscall.SIGCONT)
		case 2:
			logf("partition %s from the others for %v", n.id, hold)
			for _, o := range all {
				if o != n {
					n.iptables("-A", "INPUT", "-s", o.ip, "-j", "DROP")
					o.iptables("-A", "INPUT", "-s", n.ip, "-j", "DROP")
				}
			}
			wait(hold)
			for _, o := range all {
				o.heal()
			}
		case 3:
			logf("one-way partition %s ↛ %s for %v", other.id, n.id, hold)
			n.iptables("-A", "INPUT", "-s", other.ip, "-j", "DROP")
			wait(hold)
			n.heal()
		case 4:
			logf("20%% packet loss into %s for %v", n.id, hold)
			n.iptables("-A", "INPUT", "-m", "statistic", "--mode", "random", "--probability", "0.2", "-j", "DROP")
			wait(hold)
			n.heal()
		case 5:
			// tc netem is missing from this kernel; a token bucket of 512 kbit/s queues
			// packets instead: latency grows with load, as on a saturated link.
			logf("slow link (tbf 512kbit) on %s for %v", n.id, hold)
			runQuiet("ip", "netns", "exec", n.ns, "tc", "qdisc", "add", "dev", n.veth, "root", "tbf", "rate", "512kbit", "burst", "16kbit", "latency", "500ms")
			wait(hold)
			n.heal()
		}
	}
	return faults
}

type verdict struct{ violations, clockLosses int }

// check reads every key back through every node at ALL (retrying until the nodes
// agree: P2), and judges the history: an acknowledged write is never lost to one that
// finished before it began (P1; when the skewed node coordinated either write, that is
// last-write-wins' known clock loss, counted apart), no value is read or kept whose
// write failed (P3), counters lie within [acknowledged, acknowledged + unknown], and no
// acknowledged add is missing from a set.
func check(t *testing.T, all []*node, history []op) verdict {
	var v verdict
	violate := func(format string, args ...any) {
		v.violations++
		t.Errorf("violation: "+format, args...)
	}
	writes := map[string]op{} // by value
	byKey := map[string][]op{}
	for _, o := range history {
		if o.kind == "set" {
			writes[o.value] = o
			byKey[o.key] = append(byKey[o.key], o)
		}
	}
	// P3 on reads during the run.
	for _, o := range history {
		if o.kind == "get" && o.readOK {
			if w, found := writes[o.read]; !found {
				violate("read of %s returned %q, which no client wrote", o.key, o.read)
			} else if w.out == fail {
				violate("read of %s returned %q, whose write failed with UNAVAILABLE", o.key, o.read)
			}
		}
	}
	final := func(key string, read func(n *node) (string, error)) string {
		var vals []string
		deadline := time.Now().Add(60 * time.Second)
		for {
			vals = vals[:0]
			var err error
			for _, n := range all {
				s, e := read(n)
				if e != nil {
					err = e
					break
				}
				vals = append(vals, s)
			}
			if err == nil {
				same := true
				for _, s := range vals[1:] {
					same = same && s == vals[0]
				}
				if same {
					return vals[0]
				}
			}
			if time.Now().After(deadline) {
				violate("P2: %s did not converge within 60s: %q %v", key, vals, err)
				if len(vals) > 0 {
					return vals[0]
				}
				return ""
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	readReg := func(key string) func(*node) (string, error) {
		return func(n *node) (string, error) {
			c := redis.NewClient(&redis.Options{Addr: n.addr(6380), MaxRetries: -1})
			defer c.Close()
			c.Do(context.Background(), "CONSISTENCY", "ALL")
			s, err := c.Get(context.Background(), key).Result()
			if errors.Is(err, redis.Nil) {
				return "", nil
			}
			return s, err
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		f := final(key, readReg(key))
		if f == "" {
			for _, w := range byKey[key] {
				if w.out == ok {
					violate("%s: absent at the end, but %q was acknowledged", key, w.value)
					break
				}
			}
			continue
		}
		w, found := writes[f]
		if !found || w.out == fail {
			violate("%s ends as %q, which was never written or whose write failed", key, f)
			continue
		}
		if w.out != ok {
			continue // unknown outcome: it may have completed at any time
		}
		for _, later := range byKey[key] {
			if later.out == ok && later.invoke.After(w.finish) {
				// Every node's hybrid clock is pulled up to the skewed node's by its
				// messages, so a node cut off from it stamps up to skewBy behind the
				// others: a write that began within that window after another
				// finished may lose to it. That is last-write-wins' clock loss, counted
				// apart; beyond the window it is a lost write.
				if later.invoke.Sub(w.finish) <= skewBy+500*time.Millisecond {
					v.clockLosses++
				} else {
					violate("%s: acknowledged %q (via n%d, begun %s) lost to %q (via n%d, acknowledged %s before it began)",
						key, later.value, later.node, later.invoke.Format("15:04:05.000"), f, w.node, w.finish.Format("15:04:05.000"))
				}
				break
			}
		}
	}
	// Counters.
	for c := range ctrKeys {
		key := fmt.Sprintf("c%d", c)
		var acked, unk int64
		for _, o := range history {
			if o.kind == "incr" && o.key == key {
				switch o.out {
				case ok:
					acked += o.delta
				case unknown:
					unk += o.delta
				}
			}
		}
		f := final(key, func(n *node) (string, error) {
			code, b, err := get("http://" + n.addr(7380) + "/v1/crdt/default/" + key + "?r=ALL")
			if err != nil || code == 404 {
				return "0", err
			}
			var body struct{ Value int64 }
			if code != 200 || json.Unmarshal(b, &body) != nil {
				return "", fmt.Errorf("%d %s", code, b)
			}
			return strconv.FormatInt(body.Value, 10), nil
		})
		got, _ := strconv.ParseInt(f, 10, 64)
		if got < acked || got > acked+unk {
			violate("counter %s = %d, want within [%d, %d]", key, got, acked, acked+unk)
		}
	}
	// Sets: every acknowledged add is there (nothing is removed in this workload).
	for s := range setKeys {
		key := fmt.Sprintf("s%d", s)
		f := final(key, func(n *node) (string, error) {
			c := redis.NewClient(&redis.Options{Addr: n.addr(6380), MaxRetries: -1})
			defer c.Close()
			c.Do(context.Background(), "CONSISTENCY", "ALL")
			m, err := c.SMembers(context.Background(), key).Result()
			sort.Strings(m)
			return strings.Join(m, ","), err
		})
		members := map[string]bool{}
		for _, e := range strings.Split(f, ",") {
			members[e] = true
		}
		for _, o := range history {
			if o.kind == "sadd" && o.key == key {
				if o.out == ok && !members[o.value] {
					violate("set %s lost acknowledged add %q (SADD at %s via n%d, acknowledged %s)",
						key, o.value, o.level, o.node, o.finish.Format("15:04:05.000"))
				}
				if o.out == fail && members[o.value] {
					violate("set %s holds %q, whose add failed with UNAVAILABLE", key, o.value)
				}
			}
		}
	}
	return v
}
