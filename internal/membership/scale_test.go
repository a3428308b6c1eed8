package membership

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGossipPropagationScale measures, with real memberlist instances on loopback
// (FastTiming), how long a join and a failure take to reach every member as the
// cluster grows, next to log2 N: SWIM disseminates by epidemic gossip, in O(log N)
// rounds. It is a measurement for BENCHMARKS.md and takes minutes, so it runs only
// when CHORUS_GOSSIP_SCALE is set:
//
//	CHORUS_GOSSIP_SCALE=1 go test -run TestGossipPropagationScale -v -timeout 30m ./internal/membership
//	CHORUS_GOSSIP_SCALE=8,16,32   (the cluster sizes; 1 means 8,16,32,64,128)
//	CHORUS_GOSSIP_ROUNDS=5        (rounds per size, default 3; the table shows medians)
func TestGossipPropagationScale(t *testing.T) {
	v := os.Getenv("CHORUS_GOSSIP_SCALE")
	if v == "" {
		t.Skip("measurement; set CHORUS_GOSSIP_SCALE=1 (or a list of cluster sizes) to run it")
	}
	sizes := []int{8, 16, 32, 64, 128}
	if v != "1" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 3 {
				t.Fatalf("CHORUS_GOSSIP_SCALE: %q is not a cluster size of at least 3", f)
			}
			sizes = append(sizes, n)
		}
	}
	rounds := 3
	if r, err := strconv.Atoi(os.Getenv("CHORUS_GOSSIP_ROUNDS")); err == nil && r > 0 {
		rounds = r
	}
	ft := FastTiming()
	fmt.Printf("\nGossip propagation, real memberlist instances on 127.0.0.1 (FastTiming: probe every %v, gossip every %v to %d members, suspicion ×%d), median of %d rounds [min–max]\n\n",
		ft.ProbeInterval, ft.GossipInterval, ft.GossipNodes, ft.SuspicionMult, rounds)
	fmt.Println("| members N | log2 N | join seen by all (ms) | failure: first suspicion (ms) | failure seen dead by all (ms) |")
	fmt.Println("|---|---|---|---|---|")
	for _, n := range sizes {
		var joins, suspects, deads []time.Duration
		var failed error
		for round := range rounds {
			j, s, d, err := propagationRound(t, n, round)
			if err != nil {
				failed = err
				break
			}
			joins, suspects, deads = append(joins, j), append(suspects, s), append(deads, d)
		}
		if failed != nil {
			// A measurement: the machine could not run that many members.
			fmt.Printf("| %d | %.1f | %v | | |\n", n, math.Log2(float64(n)), failed)
			continue
		}
		fmt.Printf("| %d | %.1f | %s | %s | %s |\n", n, math.Log2(float64(n)), spread(joins), spread(suspects), spread(deads))
	}
}

// waitUntil polls cond every 10 ms until it holds, or fails after d.
func waitUntil(d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// spread renders the median and range of ds in milliseconds.
func spread(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	return fmt.Sprintf("%d [%d–%d]", ms(s[len(s)/2]), ms(s[0]), ms(s[len(s)-1]))
}

// firstSeen records, for each observer, when it first saw a member in a status.
type firstSeen struct {
	mu     sync.Mutex
	target string
	want   func(Status) bool
	since  time.Time
	at     map[string]time.Duration // observer → delay
}

func (f *firstSeen) arm(target string, want func(Status) bool) {
	f.mu.Lock()
	f.target, f.want, f.since, f.at = target, want, time.Now(), map[string]time.Duration{}
	f.mu.Unlock()
}

// check records what g sees now.
func (f *firstSeen) check(g *Gossip) {
	f.mu.Lock()
	target, want := f.target, f.want
	_, done := f.at[g.Local().ID]
	f.mu.Unlock()
	if target == "" || done {
		return
	}
	m, ok := member(g, target)
	if !ok || !want(m.Status) {
		return
	}
	f.mu.Lock()
	if f.target == target {
		if _, done := f.at[g.Local().ID]; !done {
			f.at[g.Local().ID] = time.Since(f.since)
		}
	}
	f.mu.Unlock()
}

// all returns the latest delay once every one of observers has one.
func (f *firstSeen) all(observers []*Gossip) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var last time.Duration
	for _, g := range observers {
		d, ok := f.at[g.Local().ID]
		if !ok {
			return 0, false
		}
		last = max(last, d)
	}
	return last, true
}

func (f *firstSeen) first() (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	first, ok := time.Duration(0), false
	for _, d := range f.at {
		if !ok || d < first {
			first, ok = d, true
		}
	}
	return first, ok
}

// propagationRound starts n-1 members, then measures a new member's join until every
// member sees it alive (and it sees them), then a member's Close until every other
// member sees it dead. It fails when the members do not settle (a loaded machine
// running many members keeps suspecting some of them).
func propagationRound(t *testing.T, n, round int) (join, suspect, dead time.Duration, err error) {
	t.Helper()
	var nodes []*Gossip
	defer func() {
		for _, g := range nodes {
			_ = g.Close()
		}
	}()
	seen := &firstSeen{}
	startMember := func(id string, join []string) *Gossip {
		cfg := testConfig(id)
		cfg.Join = join
		g, err := NewGossip(cfg)
		if err != nil {
			t.Fatalf("NewGossip(%s): %v", id, err)
		}
		g.Subscribe(func() { seen.check(g) })
		nodes = append(nodes, g)
		return g
	}
	prefix := fmt.Sprintf("r%d-", round)
	first := startMember(prefix+"m0", nil)
	for i := 1; i < n-1; i++ {
		startMember(fmt.Sprintf("%sm%d", prefix, i), []string{gossipAddr(first)})
	}
	settle := 30*time.Second + time.Duration(n)*time.Second
	err = waitUntil(settle, fmt.Sprintf("%d members all alive to each other", n-1), func() bool {
		for _, g := range nodes {
			alive := 0
			for _, m := range g.Members() {
				if m.Status == Alive {
					alive++
				}
			}
			if alive != len(nodes) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return 0, 0, 0, err
	}
	time.Sleep(time.Second) // probing settles into its rhythm

	// A join: every old member sees the new one alive, and it sees all of them.
	joinerID := prefix + "joiner"
	seen.arm(joinerID, func(s Status) bool { return s == Alive })
	joinStart := time.Now()
	joiner := startMember(joinerID, []string{gossipAddr(first)})
	var joinerSaw time.Duration // when the joiner saw every member alive (polled)
	err = waitUntil(settle, "the join seen by all", func() bool {
		for _, g := range nodes {
			seen.check(g) // in case the change came before the subscription
		}
		if joinerSaw == 0 {
			alive := 0
			for _, m := range joiner.Members() {
				if m.Status == Alive {
					alive++
				}
			}
			if alive == len(nodes) {
				joinerSaw = time.Since(joinStart)
			}
		}
		_, ok := seen.all(nodes[:len(nodes)-1])
		return ok && joinerSaw > 0
	})
	if err != nil {
		return 0, 0, 0, err
	}
	join, _ = seen.all(nodes[:len(nodes)-1])
	join = max(join, joinerSaw)
	time.Sleep(time.Second)

	// A failure: a member (not the seed) closes without leaving.
	victim := nodes[n/2]
	rest := slices.DeleteFunc(slices.Clone(nodes), func(g *Gossip) bool { return g == victim })
	suspected := &firstSeen{}
	suspected.arm(victim.Local().ID, func(s Status) bool { return s != Alive })
	seen.arm(victim.Local().ID, func(s Status) bool { return s == Dead })
	for _, g := range rest {
		g.Subscribe(func() { suspected.check(g) })
	}
	_ = victim.Close()
	err = waitUntil(settle, "the failure seen by all", func() bool {
		for _, g := range rest {
			seen.check(g)
			suspected.check(g)
		}
		_, ok := seen.all(rest)
		return ok
	})
	dead, _ = seen.all(rest)
	suspect, _ = suspected.first()
	return join, suspect, dead, err
}
