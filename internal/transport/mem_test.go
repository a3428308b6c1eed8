package transport

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/wire"
)

// memCluster joins ids to a fresh network, each with a recorder.
func memCluster(t *testing.T, seed int64, ids ...string) (*Network, map[string]*MemTransport, map[string]*recorder) {
	t.Helper()
	n := NewNetwork(seed)
	t.Cleanup(func() { n.Close() })
	ts, rs := map[string]*MemTransport{}, map[string]*recorder{}
	for _, id := range ids {
		rs[id] = newRecorder()
		ts[id] = n.Join(id, rs[id].handle)
	}
	return n, ts, rs
}

// roundOfPings has every node send one message (with the given id) to every other
// node, and waits until the network has settled: every message sent is delivered or
// dropped.
func roundOfPings(t *testing.T, n *Network, ts map[string]*MemTransport, id uint64) {
	t.Helper()
	for from, tr := range ts {
		for to := range ts {
			if to != from {
				tr.Send(putReq(to, id))
			}
		}
	}
	waitFor(t, 10*time.Second, "the network to settle", func() bool {
		s := n.Stats()
		return s.Delivered+s.Dropped.Total() == s.Sent+s.Duplicated
	}, nil)
}

// received returns how many messages r got from each sender.
func (r *recorder) from() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for id, next := range r.next {
		out[id] = int(next) // ids 0..next-1 in these tests
	}
	return out
}

func TestMemDeliveryIsAsynchronous(t *testing.T) {
	n := NewNetwork(1)
	defer n.Close()
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	b := n.Join("b", func(wire.Message) {
		once.Do(func() { close(entered) })
		<-release
	})
	a := n.Join("a", func(wire.Message) {})
	done := make(chan struct{})
	go func() {
		a.Send(putReq("b", 0), putReq("b", 1)) // would deadlock if b's Handler ran here
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked on the receiver's Handler")
	}
	<-entered
	close(release)
	b.Close()
}

func TestMemPartitionAndHeal(t *testing.T) {
	n, ts, rs := memCluster(t, 1, "a", "b", "c")
	n.Partition("a", "b")
	roundOfPings(t, n, ts, 0)
	if rs["b"].from()["a"] != 0 || rs["a"].from()["b"] != 0 {
		t.Fatalf("messages crossed the a|b partition")
	}
	if rs["c"].from()["a"] != 1 || rs["a"].from()["c"] != 1 || rs["c"].from()["b"] != 1 || rs["b"].from()["c"] != 1 {
		t.Fatalf("links outside the partition were cut")
	}
	if d := n.Stats().Dropped.Partition; d != 2 {
		t.Fatalf("partition drops = %d, want 2", d)
	}
	n.HealAll()
	roundOfPings(t, n, ts, 1)
	if rs["b"].from()["a"] != 2 || rs["a"].from()["b"] != 2 {
		t.Fatalf("HealAll did not restore a↔b: %v %v", rs["b"].from(), rs["a"].from())
	}
}

func TestMemPartitionOneWay(t *testing.T) {
	n, ts, rs := memCluster(t, 1, "a", "b")
	n.PartitionOneWay("a", "b")
	roundOfPings(t, n, ts, 0)
	if rs["b"].n() != 0 {
		t.Fatalf("a → b crossed a one-way cut")
	}
	if rs["a"].n() != 1 {
		t.Fatalf("b → a was cut too")
	}
}

func TestMemIsolate(t *testing.T) {
	n, ts, rs := memCluster(t, 1, "a", "b", "c")
	n.Isolate("a")
	roundOfPings(t, n, ts, 0)
	if rs["a"].n() != 0 || rs["b"].from()["a"] != 0 || rs["c"].from()["a"] != 0 {
		t.Fatalf("an isolated node exchanged messages")
	}
	if rs["b"].from()["c"] != 1 || rs["c"].from()["b"] != 1 {
		t.Fatalf("the other nodes were cut from each other")
	}
	n.HealAll()
	roundOfPings(t, n, ts, 1)
	if rs["a"].n() != 2 {
		t.Fatalf("a still isolated after HealAll")
	}
}

func TestMemDropRate(t *testing.T) {
	n, ts, rs := memCluster(t, 7, "a", "b")
	n.SetDropRate(0.3)
	const total = 10_000
	for i := range uint64(total) {
		ts["a"].Send(putReq("b", i))
	}
	waitFor(t, 10*time.Second, "settling", func() bool {
		s := n.Stats()
		return s.Delivered+s.Dropped.Total() == total
	}, nil)
	got := rs["b"].n()
	if got < total*65/100 || got > total*75/100 {
		t.Fatalf("%d of %d delivered at drop rate 0.3", got, total)
	}
	rs["b"].checkOrdered(t, false) // gaps, but never out of order
	if int(n.Stats().Dropped.Random) != total-got {
		t.Fatalf("stats: %+v", n.Stats())
	}
}

func TestMemDuplicateRate(t *testing.T) {
	n, ts, rs := memCluster(t, 7, "a", "b")
	n.SetDuplicateRate(1)
	for i := range uint64(100) {
		ts["a"].Send(putReq("b", i))
	}
	waitFor(t, 10*time.Second, "200 deliveries", func() bool { return rs["b"].n() == 200 }, nil)

	n.SetDuplicateRate(0.25)
	seen := map[uint64]int{}
	var mu sync.Mutex
	c := n.Join("c", func(m wire.Message) { mu.Lock(); seen[m.ID]++; mu.Unlock() })
	defer c.Close()
	const total = 4000
	for i := range uint64(total) {
		ts["a"].Send(putReq("c", i))
	}
	dups := func() (d int) {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range seen {
			d += k - 1
		}
		return d
	}
	waitFor(t, 10*time.Second, "every message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == total
	}, nil)
	waitFor(t, 10*time.Second, "every duplicate", func() bool { return uint64(dups()) == n.Stats().Duplicated-100 }, nil)
	if d := dups(); d < total*20/100 || d > total*30/100 {
		t.Fatalf("%d duplicates of %d at rate 0.25", d, total)
	}
}

func TestMemDelay(t *testing.T) {
	n := NewNetwork(3)
	defer n.Close()
	n.SetDelay(30*time.Millisecond, 60*time.Millisecond)
	var mu sync.Mutex
	var lat []time.Duration
	sentAt := map[uint64]time.Time{}
	n.Join("b", func(m wire.Message) {
		mu.Lock()
		lat = append(lat, time.Since(sentAt[m.ID]))
		mu.Unlock()
	})
	a := n.Join("a", func(wire.Message) {})
	const total = 200
	for i := range uint64(total) {
		mu.Lock()
		sentAt[i] = time.Now()
		mu.Unlock()
		a.Send(putReq("b", i))
	}
	waitFor(t, 10*time.Second, "delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(lat) == total }, nil)
	for _, d := range lat {
		if d < 30*time.Millisecond {
			t.Fatalf("a message arrived after %v, before the minimum delay", d)
		}
	}
}

func TestMemInOrderWithoutDelay(t *testing.T) {
	n, ts, rs := memCluster(t, 1, "a", "b")
	var wg sync.WaitGroup
	for _, from := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := map[string]string{"a": "b", "b": "a"}[from]
			for i := range uint64(20_000) {
				ts[from].Send(putReq(to, i))
			}
		}()
	}
	wg.Wait()
	waitFor(t, 20*time.Second, "delivery", func() bool { return rs["a"].n() == 20_000 && rs["b"].n() == 20_000 }, nil)
	rs["a"].checkOrdered(t, true)
	rs["b"].checkOrdered(t, true)
	_ = n
}

// TestMemSeedDeterminesLosses sends the same sequence twice per seed from one
// goroutine and expects the same messages lost.
func TestMemSeedDeterminesLosses(t *testing.T) {
	run := func(seed int64) map[uint64]bool {
		n := NewNetwork(seed)
		defer n.Close()
		n.SetDropRate(0.5)
		var mu sync.Mutex
		got := map[uint64]bool{}
		n.Join("b", func(m wire.Message) { mu.Lock(); got[m.ID] = true; mu.Unlock() })
		a := n.Join("a", func(wire.Message) {})
		for i := range uint64(500) {
			a.Send(putReq("b", i))
		}
		waitFor(t, 10*time.Second, "settling", func() bool {
			s := n.Stats()
			return s.Delivered+s.Dropped.Total() == 500
		}, nil)
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	same := func(x, y map[uint64]bool) bool {
		if len(x) != len(y) {
			return false
		}
		for k := range x {
			if !y[k] {
				return false
			}
		}
		return true
	}
	if !same(run(11), run(11)) {
		t.Fatal("the same seed lost different messages")
	}
	if same(run(11), run(12)) {
		t.Fatal("different seeds lost the same messages")
	}
}

func TestMemRestartAndUnknown(t *testing.T) {
	n, ts, rs := memCluster(t, 1, "a", "b")
	ts["b"].Close()
	ts["a"].Send(putReq("b", 0))
	if n.Stats().Dropped.Unknown != 1 {
		t.Fatalf("message to a closed node: %+v", n.Stats().Dropped)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("joining a live id twice did not panic")
			}
		}()
		n.Join("a", func(wire.Message) {})
	}()
	r := newRecorder()
	n.Join("b", r.handle) // restart
	ts["a"].Send(putReq("b", 1))
	waitFor(t, 10*time.Second, "delivery to the restarted node", func() bool { return r.n() == 1 }, nil)
	if rs["b"].n() != 0 {
		t.Fatal("the closed incarnation received a message")
	}
}

func TestMemCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	n := NewNetwork(1)
	n.SetDelay(time.Hour, time.Hour) // messages stuck in flight must not keep anything alive
	ts := map[string]*MemTransport{}
	for _, id := range []string{"a", "b", "c"} {
		ts[id] = n.Join(id, func(wire.Message) {})
	}
	ts["a"].Send(putReq("b", 0), putReq("c", 0))
	ts["a"].Close()
	n.Close()
	n.Close()
	if late := n.Join("d", func(wire.Message) { t.Error("delivered on a closed network") }); late != nil {
		late.Send(putReq("b", 0))
		late.Close()
	}
	if err := waitGoroutines(before, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
