package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/ring"
)

// Client is a token-aware Chorus client: it sends each request straight to a replica
// of its key, so that the node coordinating the request holds a copy itself and the
// request saves a network hop. It is safe for concurrent use; create one per
// keyspace and share it.
type Client struct {
	opts Options
	hc   *http.Client
	topo atomic.Pointer[topology]

	mu    sync.Mutex       // serializes refreshes; guards pools
	pools map[string]*pool // by member id

	refreshNow chan struct{} // a token asks the refresh loop for an early refresh
	closed     atomic.Bool
	stop       context.CancelFunc
	wg         sync.WaitGroup
	closeOnce  sync.Once
}

// refreshTimeout bounds one refresh of the cluster view.
const refreshTimeout = 5 * time.Second

// minRefreshGap is the least time between two refreshes, so that a burst of errors
// asks the cluster only once.
const minRefreshGap = 200 * time.Millisecond

// New returns a Client for the cluster that opts.Seeds belong to. It reads the
// members from the first seed that answers, so that the client is ready to route when
// New returns; it fails if no seed answers. Connections to the nodes are opened
// lazily, on first use.
func New(ctx context.Context, opts Options) (*Client, error) {
	opts = opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		opts:       opts,
		hc:         &http.Client{Timeout: refreshTimeout},
		pools:      map[string]*pool{},
		refreshNow: make(chan struct{}, 1),
	}
	if err := c.refresh(ctx); err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(bg)
	}()
	return c, nil
}

// Close stops the refresh loop and closes every connection. Requests in flight fail;
// later ones return ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.stop()
		c.wg.Wait()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.pools {
			p.rdb.Close()
		}
		c.pools = nil
	})
	return nil
}

// Get returns the value of key, or an error wrapping ErrNotFound if it has none.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	var val []byte
	err := c.do(ctx, key, func(ctx context.Context, rdb *redis.Client) error {
		v, err := rdb.Get(ctx, key).Bytes()
		val = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return val, nil
}

// Set stores value under key. A positive ttl makes the value expire after it (in
// whole milliseconds); 0 keeps it until it is overwritten or deleted.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("client: negative ttl %s", ttl)
	}
	return c.do(ctx, key, func(ctx context.Context, rdb *redis.Client) error {
		return rdb.Set(ctx, key, value, ttl).Err()
	})
}

// Do sends one command to a replica of key, as the other methods do, and returns its
// reply as go-redis decodes it: a string, an int64, a []any (an array), or an error
// wrapping ErrNotFound for a null reply. It serves the commands the Client has no
// method for, such as INCR, SADD, SMEMBERS, GETSIBLINGS and SETCTX:
//
//	n, err := c.Do(ctx, "hits", "INCR", "hits")
//
// args is the whole command; key, the key it addresses, only routes it.
func (c *Client) Do(ctx context.Context, key string, args ...any) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("client: Do needs a command")
	}
	var val any
	err := c.do(ctx, key, func(ctx context.Context, rdb *redis.Client) error {
		v, err := rdb.Do(ctx, args...).Result()
		val = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return val, nil
}

// Del deletes keys and returns how many of them had a value. Each key is sent to a
// replica of its own; if some fail, Del returns the count of those that succeeded and
// the first error.
func (c *Client) Del(ctx context.Context, keys ...string) (int64, error) {
	return c.count(ctx, keys, (*Pipeline).Del, func(ctx context.Context, rdb *redis.Client, key string) *redis.IntCmd {
		return rdb.Del(ctx, key)
	})
}

// Exists returns how many of keys have a value, each key asked of a replica of its
// own (a key given twice counts twice, as in Redis).
func (c *Client) Exists(ctx context.Context, keys ...string) (int64, error) {
	return c.count(ctx, keys, (*Pipeline).Exists, func(ctx context.Context, rdb *redis.Client, key string) *redis.IntCmd {
		return rdb.Exists(ctx, key)
	})
}

// count runs a one-key counting command (DEL, EXISTS) for each key and sums the
// answers: one request for one key, a pipeline for several.
func (c *Client) count(ctx context.Context, keys []string,
	queue func(*Pipeline, string) *CountResult,
	one func(context.Context, *redis.Client, string) *redis.IntCmd,
) (int64, error) {
	switch len(keys) {
	case 0:
		return 0, nil
	case 1:
		var n int64
		err := c.do(ctx, keys[0], func(ctx context.Context, rdb *redis.Client) error {
			v, err := one(ctx, rdb, keys[0]).Result()
			n = v
			return err
		})
		return n, err
	}
	p := c.Pipeline()
	rs := make([]*CountResult, len(keys))
	for i, k := range keys {
		rs[i] = queue(p, k)
	}
	err := p.Exec(ctx)
	var total int64
	for _, r := range rs {
		if n, err := r.Result(); err == nil {
			total += n
		}
	}
	return total, err
}

// Members returns the members of the cluster as the client last saw them, sorted by
// id.
func (c *Client) Members() []Member {
	return slices.Clone(c.topo.Load().members)
}

// Replicas returns the ids of the replicas of key, primary first: the key's
// preference list on the client's ring, which is the servers' ring.
func (c *Client) Replicas(key string) []string {
	t := c.topo.Load()
	return t.ring.PreferenceList(ring.KeyHash(c.opts.Keyspace, key), t.rf)
}

// Coordinator returns the id of the node a request for key would be sent to now:
// the first replica that is alive and reachable, or another node if none is. It
// returns "" if the client knows no node it could try.
func (c *Client) Coordinator(key string) string {
	if n := c.topo.Load().first(ring.KeyHash(c.opts.Keyspace, key), nil); n != nil {
		return n.ID
	}
	return ""
}

// do runs one request for key on the best node for it, and on the next best when a
// node cannot be reached, until one answers or none is left.
func (c *Client) do(ctx context.Context, key string, req func(context.Context, *redis.Client) error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	t := c.topo.Load()
	hash := ring.KeyHash(c.opts.Keyspace, key)
	var skipBuf [4]*node
	skip := skipBuf[:0]
	var lastErr error
	for {
		n := t.first(hash, skip)
		if n == nil {
			return noNodes(lastErr)
		}
		out, err := classify(ctx, n.ID, req(ctx, n.rdb))
		if out == done {
			if errors.Is(err, ErrUnavailable) {
				c.requestRefresh()
			}
			return err
		}
		c.nodeFailed(n)
		if c.closed.Load() {
			return ErrClosed
		}
		skip, lastErr = append(skip, n), err
	}
}

// nodeFailed notes that n could not be reached.
func (c *Client) nodeFailed(n *node) {
	n.markDown()
	c.requestRefresh()
}

func noNodes(last error) error {
	if last == nil {
		return ErrNoNodes
	}
	return fmt.Errorf("%w (last: %w)", ErrNoNodes, last)
}

// requestRefresh asks the refresh loop to refresh soon. It does not block.
func (c *Client) requestRefresh() {
	select {
	case c.refreshNow <- struct{}{}:
	default:
	}
}

// run refreshes the cluster view every RefreshInterval and when asked, until ctx ends.
func (c *Client) run(ctx context.Context) {
	var tick <-chan time.Time
	if c.opts.RefreshInterval > 0 {
		t := time.NewTicker(c.opts.RefreshInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-c.refreshNow:
		}
		rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		_ = c.refresh(rctx) // on failure the old view stays; errors will ask again
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(minRefreshGap):
		}
	}
}

// refresh reads the cluster view from a member (or a seed) and installs it.
func (c *Client) refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pools == nil {
		return ErrClosed
	}
	v, err := fetchView(ctx, c.hc, c.viewSources())
	if err != nil {
		return err
	}
	t, stale, err := c.build(v)
	if err != nil {
		return err
	}
	c.topo.Store(t)
	for _, p := range stale {
		p.rdb.Close()
	}
	return nil
}

// viewSources lists the HTTP addresses to ask for the cluster view: the live members
// first, then the seeds.
func (c *Client) viewSources() []string {
	var addrs []string
	if t := c.topo.Load(); t != nil {
		for _, n := range t.order {
			if n.HTTPAddr != "" && n.live() {
				addrs = append(addrs, n.HTTPAddr)
			}
		}
	}
	for _, s := range c.opts.Seeds {
		if s = strings.TrimSpace(s); !slices.Contains(addrs, s) {
			addrs = append(addrs, s)
		}
	}
	return addrs
}

// build makes the topology of a view, reusing the pools of members whose RESP address
// is unchanged, and returns the pools no longer needed. c.mu must be held.
func (c *Client) build(v *api.ClusterView) (*topology, []*pool, error) {
	ms := viewMembers(v)
	t := &topology{rf: v.ReplicationFactor, members: ms, nodes: make(map[string]*node, len(ms))}
	rms := make([]ring.Member, len(ms))
	pools := make(map[string]*pool, len(ms))
	for i, m := range ms {
		rms[i] = ring.Member{ID: m.ID, Zone: m.Zone}
		if m.RESPAddr == "" {
			continue
		}
		p := c.pools[m.ID]
		if p == nil || p.addr != m.RESPAddr {
			p = c.newPool(m.RESPAddr)
		}
		pools[m.ID] = p
		n := &node{Member: m, pool: p}
		t.nodes[m.ID] = n
		t.order = append(t.order, n)
	}
	if len(t.order) == 0 {
		return nil, nil, fmt.Errorf("%w: node %s reports no member with a RESP address", ErrNoNodes, v.Node)
	}
	if t.rf <= 0 {
		t.rf = min(3, len(ms))
	}
	slices.SortFunc(t.order, func(a, b *node) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(t.members, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	t.ring = ring.New(rms, ring.DefaultVnodes)
	var stale []*pool
	for id, p := range c.pools {
		if pools[id] != p {
			stale = append(stale, p)
		}
	}
	c.pools = pools
	return t, stale, nil
}

// newPool returns a connection pool to a node's RESP address. Connections are opened
// on demand and set to the client's levels and keyspace before their first request.
func (c *Client) newPool(addr string) *pool {
	return &pool{addr: addr, rdb: redis.NewClient(&redis.Options{
		Addr:                     addr,
		Protocol:                 2, // Chorus speaks RESP2
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		PoolSize:                 c.opts.PoolSize,
		PipelinePoolSize:         c.opts.PoolSize,
		MaxRetries:               -1, // the client fails over to another replica instead
		DialerRetries:            1,  // likewise: a node that refuses is skipped at once
		DialTimeout:              c.opts.Timeout,
		ReadTimeout:              c.opts.Timeout,
		WriteTimeout:             c.opts.Timeout,
		ContextTimeoutEnabled:    true,
		OnConnect:                c.onConnect,
	})}
}

// onConnect sets a new connection's consistency levels and keyspace, in one round
// trip.
func (c *Client) onConnect(ctx context.Context, cn *redis.Conn) error {
	o := c.opts
	if o.ReadLevel == "" && o.WriteLevel == "" && o.Keyspace == DefaultKeyspace {
		return nil
	}
	_, err := cn.Pipelined(ctx, func(p redis.Pipeliner) error {
		if o.ReadLevel != "" {
			p.Do(ctx, "CONSISTENCY", "READ", o.ReadLevel)
		}
		if o.WriteLevel != "" {
			p.Do(ctx, "CONSISTENCY", "WRITE", o.WriteLevel)
		}
		if o.Keyspace != DefaultKeyspace {
			p.Do(ctx, "KEYSPACE", o.Keyspace)
		}
		return nil
	})
	return err
}
