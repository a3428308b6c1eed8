package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/ring"
)

// Member is a node of the cluster as the client last saw it.
type Member struct {
	// ID is the node's id.
	ID string
	// Status is alive, suspect or dead, as the node the client asked reported it.
	Status string
	// Zone is the node's failure domain.
	Zone string
	// RESPAddr and HTTPAddr are the node's client-facing addresses.
	RESPAddr, HTTPAddr string
}

// topology is one immutable snapshot of the cluster: the ring and a connection pool
// per member. Requests load it once and use it throughout.
type topology struct {
	ring    *ring.Ring
	rf      int
	members []Member         // sorted by id; members that left are not in it
	nodes   map[string]*node // by id
	order   []*node          // the nodes sorted by id, for falling back to any node
}

// node is a member as one snapshot sees it, with the connection pool to it.
type node struct {
	Member
	*pool
}

// pool is the connection pool to one member's RESP address. A refresh that finds the
// member at the same address keeps its pool, and with it the down mark.
type pool struct {
	addr string
	rdb  *redis.Client
	// down is the UnixNano time until which the node is avoided after a connection
	// error; 0 when it is not.
	down atomic.Int64
}

// downFor is how long a node that failed a connection is tried only as a last resort.
const downFor = time.Second

// live reports whether n may be tried first: reported alive and not marked down.
func (n *node) live() bool {
	if d := n.down.Load(); d != 0 && time.Now().UnixNano() < d {
		return false
	}
	return n.Status == "alive"
}

func (p *pool) markDown() { p.down.Store(time.Now().Add(downFor).UnixNano()) }

// fetchView asks the first seed that answers for its view of the cluster.
func fetchView(ctx context.Context, hc *http.Client, seeds []string) (*api.ClusterView, error) {
	var errs []error
	for _, s := range seeds {
		v, err := fetchViewFrom(ctx, hc, s)
		if err == nil {
			return v, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: could not read the cluster from %s: %w",
		ErrNoNodes, strings.Join(seeds, ", "), errors.Join(errs...))
}

func fetchViewFrom(ctx context.Context, hc *http.Client, addr string) (*api.ClusterView, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/v1/cluster", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/v1/cluster: %s", base, resp.Status)
	}
	var v api.ClusterView
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("GET %s/v1/cluster: %w", base, err)
	}
	return &v, nil
}

// members returns the view's members that have not left: those the server places on
// its ring. Members without a RESP address are on the ring but cannot be sent requests.
func viewMembers(v *api.ClusterView) []Member {
	var ms []Member
	for _, m := range v.Members {
		if m.Status == "left" {
			continue
		}
		ms = append(ms, Member{ID: m.ID, Status: m.Status, Zone: m.Zone, RESPAddr: m.Addrs.RESP, HTTPAddr: m.Addrs.HTTP})
	}
	return ms
}

// candidates appends to dst the nodes to try for a key at hash, best first, leaving
// out those in skip: the live replicas in preference-list order, then the other live
// nodes, then every remaining node (reported down or marked down) as a last resort.
// The preference list is the server's: the same ring from the same members.
func (t *topology) candidates(dst []*node, hash uint64, skip []*node) []*node {
	var buf [8]string
	prefs := t.ring.AppendPreferenceList(buf[:0], hash, t.rf)
	start := len(dst)
	for _, id := range prefs {
		if n := t.nodes[id]; n != nil && n.live() && !contains(skip, n) {
			dst = append(dst, n)
		}
	}
	// Fall back to the other nodes starting at a place that depends on the key, so
	// that the keys of an unreachable replica spread over the rest.
	for pass := 0; pass < 2; pass++ {
		off := int(hash % uint64(max(len(t.order), 1)))
		for i := range t.order {
			n := t.order[(off+i)%len(t.order)]
			if (pass == 1 || n.live()) && !contains(skip, n) && !contains(dst[start:], n) {
				dst = append(dst, n)
			}
		}
	}
	return dst
}

// first returns the best node for the key at hash that is not in skip, or nil.
func (t *topology) first(hash uint64, skip []*node) *node {
	var buf [8]string
	for _, id := range t.ring.AppendPreferenceList(buf[:0], hash, t.rf) {
		if n := t.nodes[id]; n != nil && n.live() && !contains(skip, n) {
			return n
		}
	}
	var buf2 [8]*node
	c := t.candidates(buf2[:0], hash, skip)
	if len(c) == 0 {
		return nil
	}
	return c[0]
}

func contains(ns []*node, n *node) bool {
	for _, m := range ns {
		if m == n {
			return true
		}
	}
	return false
}
