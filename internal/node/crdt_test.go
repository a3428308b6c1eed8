package node

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
)

func incr(key string, by int64, level core.Level) core.Request {
	return core.Request{Op: core.OpUpdate, Key: object.Key{Key: key}, Level: level,
		CRDT: crdt.Op{Type: crdt.TypePNCounter, Action: crdt.ActIncrement, Delta: by}}
}

func setOp(key string, act crdt.Action, elem string, level core.Level) core.Request {
	return core.Request{Op: core.OpUpdate, Key: object.Key{Key: key}, Level: level,
		CRDT: crdt.Op{Type: crdt.TypeORSet, Action: act, Elems: []string{elem}}}
}

// convergedCRDT waits until a read at ALL through every node gives the same JSON view
// of key, and returns it.
func (c *memCluster) convergedCRDT(key string) string {
	c.t.Helper()
	var view string
	waitUntil(c.t, "replicas of "+key+" to converge", func() bool {
		views := map[string]bool{}
		for id := range c.nodes {
			r := c.do(id, get(key, core.All))
			if r.Err != nil {
				return false
			}
			v, err := r.Obj.CRDT()
			if err != nil || v == nil {
				return false
			}
			j, _ := v.MarshalJSON()
			view = string(j)
			views[view] = true
		}
		return len(views) == 1
	})
	return view
}

// TestInProcessDuplicatesNeverDoubleApply: every message is delivered twice, and four
// nodes with three replicas make some coordinators forward; 150 increments still add
// up to exactly 150.
func TestInProcessDuplicatesNeverDoubleApply(t *testing.T) {
	c := newMemCluster(t, []string{"a", "b", "c", "d"}, nil)
	c.net.SetDuplicateRate(1)
	ids := []string{"a", "b", "c", "d"}
	for i := range 150 {
		if r := c.do(ids[i%4], incr("dup-counter", 1, core.All)); r.Err != nil {
			t.Fatalf("increment %d: %v", i, r.Err)
		}
	}
	if got := c.convergedCRDT("dup-counter"); got != "150" {
		t.Fatalf("counter = %s after 150 increments with every message duplicated", got)
	}
	if c.net.Stats().Duplicated == 0 {
		t.Fatal("the network duplicated nothing: the test shows nothing")
	}
	var fwd uint64
	for _, n := range c.nodes {
		fwd += n.coreStats().Forwarded
	}
	if fwd == 0 {
		t.Fatal("no request was forwarded: the test does not cover forwarding")
	}
}

// TestInProcessCRDTsUnderPartitions: clients increment a counter and add and remove
// set elements through every node while partitions come and go and messages are
// duplicated and delayed. After healing, every replica holds the same state, the
// counter lies within [acknowledged, acknowledged + unknown], no acknowledged add
// (never removed) is lost and no element whose removal was acknowledged returns.
func TestInProcessCRDTsUnderPartitions(t *testing.T) {
	ids := []string{"a", "b", "c", "d"}
	c := newMemCluster(t, ids, func(cfg *Config) {
		cfg.AntiEntropyInterval = 200 * time.Millisecond
		cfg.RequestTimeout = 300 * time.Millisecond
	})
	c.net.SetDuplicateRate(0.2)
	c.net.SetDelay(0, 2*time.Millisecond)
	var (
		mu                   sync.Mutex
		acked, unknown       int64
		added, removed       = map[string]bool{}, map[string]bool{}
		addUnknown, remTried = map[string]bool{}, map[string]bool{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := ids[rng.IntN(4)]
				level := []core.Level{core.One, core.Quorum}[rng.IntN(2)]
				by := int64(rng.IntN(5) + 1)
				r := c.do(id, incr("ctr", by, level))
				mu.Lock()
				switch {
				case r.Err == nil:
					acked += by
				case errors.Is(r.Err, core.ErrTimeout):
					unknown += by
				}
				mu.Unlock()
				elem := fmt.Sprintf("w%d-%d", w, i)
				r = c.do(id, setOp("set", crdt.ActAdd, elem, level))
				mu.Lock()
				switch {
				case r.Err == nil:
					added[elem] = true
				case errors.Is(r.Err, core.ErrTimeout):
					addUnknown[elem] = true
				}
				mu.Unlock()
				if i%3 == 0 && r.Err == nil {
					// Remove it again, through another node. The remove acts on what the
					// replica applying it has observed: if the add had not reached it, the
					// add wins (SREM answers 0), as an OR-set must.
					r = c.do(ids[rng.IntN(4)], setOp("set", crdt.ActRemove, elem, level))
					mu.Lock()
					remTried[elem] = true
					if r.Err == nil && observed(r.Before, elem) {
						removed[elem] = true
					}
					mu.Unlock()
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 12 {
		c.net.HealAll()
		switch round % 3 {
		case 0:
			c.net.Isolate(ids[rng.IntN(4)])
		case 1:
			c.net.Partition(ids[rng.IntN(4)], ids[rng.IntN(4)])
		case 2:
			c.net.PartitionOneWay(ids[rng.IntN(4)], ids[rng.IntN(4)])
		}
		time.Sleep(150 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	c.net.HealAll()
	c.net.SetDuplicateRate(0)

	view := c.convergedCRDT("ctr")
	var got int64
	fmt.Sscan(view, &got)
	if got < acked || got > acked+unknown {
		t.Fatalf("counter = %d, want within [%d, %d] (acknowledged, + unknown)", got, acked, acked+unknown)
	}
	set := c.convergedCRDT("set")
	members := map[string]bool{}
	for _, e := range strings.Split(strings.Trim(set, "[]"), ",") {
		members[strings.Trim(e, `"`)] = true
	}
	for e := range added {
		if removed[e] && members[e] {
			t.Errorf("%s returned after an acknowledged remove that observed it", e)
		}
		if !remTried[e] && !members[e] {
			t.Errorf("acknowledged add of %s was lost", e)
		}
	}
	for e := range members {
		if !added[e] && !addUnknown[e] {
			t.Errorf("%s is in the set but was never added", e)
		}
	}
	t.Logf("counter %d (acknowledged %d, unknown %d); set of %d, %d adds acknowledged, %d removed", got, acked, unknown, len(members), len(added), len(removed))
}

// observed reports whether an OR-set state holds elem.
func observed(before object.Object, elem string) bool {
	v, err := before.CRDT()
	if err != nil || v == nil {
		return false
	}
	s, ok := v.(*crdt.ORSet)
	return ok && s.Contains(elem)
}
