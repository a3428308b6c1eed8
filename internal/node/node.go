package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/ring"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/transport"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// Metadata names the node keeps in storage.
const (
	metaNodeID  = "node_id"
	metaMembers = "members"
	metaActor   = "actor"
)

// ErrStopped is returned by requests made after Close.
var ErrStopped = errors.New("node: stopped")

// Node is one running Chorus node. See the package documentation.
type Node struct {
	cfg       Config
	id        string
	log       *slog.Logger
	engine    storage.Engine
	transport transport.Transport
	view      membership.View
	gossip    *membership.Gossip // nil when Config.View is set
	shards    []*shard
	metrics   *metrics
	keyspaces *keyspaceState

	viewMu       sync.RWMutex
	ring         *ring.Ring
	up           map[string]bool
	capMu        sync.Mutex
	capLogged    map[string]time.Time // hint-cap log lines, by target
	changeMu     sync.Mutex           // serializes membershipChanged
	savedMembers string               // JSON of the member list last persisted; under changeMu

	requests sync.Pool // of *request, reused once answered (see submit and recycle)

	fresh    bool           // the data directory was empty at start
	bg       sync.WaitGroup // background goroutines other than shards
	healthy  atomic.Bool
	stopping chan struct{}
	closed   sync.Once
	closeErr error
}

var (
	_ api.Backend       = (*Node)(nil)
	_ api.Operator      = (*Node)(nil)
	_ api.KeyspaceAdmin = (*Node)(nil)
)

// Start opens storage, starts the shards, the RPC transport and gossip, and joins the
// cluster. It returns once the node serves requests (it may still be alone).
func Start(cfg Config) (n *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Mergers == nil {
		cfg.Mergers = Mergers()
	}
	if cfg.MaxClockSkew <= 0 {
		cfg.MaxClockSkew = DefaultConfig().MaxClockSkew
	}
	n = &Node{cfg: cfg, log: cfg.Logger, stopping: make(chan struct{}), up: map[string]bool{}}
	n.healthy.Store(true)
	started := n // the named result is nil by the time a failed return's defer runs
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	if n.engine, err = openEngine(cfg); err != nil {
		return nil, err
	}
	if n.id, n.fresh, err = resolveNodeID(n.engine, cfg); err != nil {
		return nil, err
	}
	n.log = n.log.With("node", n.id)
	n.metrics = newMetrics(cfg.Registry, n)
	if err = n.loadKeyspaces(); err != nil {
		return nil, err
	}
	if err = n.startShards(); err != nil {
		return nil, err
	}
	if cfg.Durability == "periodic" {
		n.bg.Add(1)
		go func() {
			defer n.bg.Done()
			n.syncPeriodically()
		}()
	}
	if err = n.startTransport(); err != nil {
		return nil, err
	}
	if err = n.startMembership(); err != nil {
		return nil, err
	}
	n.view.Subscribe(n.membershipChanged)
	n.membershipChanged()
	n.log.Info("node started", "rpc", cfg.RPCAddr, "gossip", cfg.GossipAddr, "storage", cfg.Storage, "shards", cfg.Shards)
	return n, nil
}

func (n *Node) startShards() error {
	hw, err := restoreHLC(n.engine)
	if err != nil {
		return err
	}
	hints, err := loadHints(n.engine, n.cfg.Shards)
	if err != nil {
		return err
	}
	idBase := uint64(time.Now().UnixNano())
	actor, err := n.resolveActor()
	if err != nil {
		return err
	}
	for i := 0; i < n.cfg.Shards; i++ {
		cc := core.DefaultConfig(n.id)
		cc.Shard, cc.Shards = i, n.cfg.Shards
		cc.ReplicationFactor = n.cfg.ReplicationFactor
		cc.RequestTimeoutMs = n.cfg.RequestTimeout.Milliseconds()
		cc.MaxKeyBytes, cc.MaxValueBytes = n.cfg.MaxKeyBytes, n.cfg.MaxValueBytes
		cc.HintTTLMs = n.cfg.HintTTL.Milliseconds()
		cc.HintCapBytes = max(1, n.cfg.HintCapBytes/int64(n.cfg.Shards))
		cc.AntiEntropyIntervalMs = n.cfg.AntiEntropyInterval.Milliseconds()
		cc.AntiEntropyBytesPerSec = n.cfg.AntiEntropyBytesPerSec
		cc.TombstoneGraceMs = n.cfg.TombstoneGrace.Milliseconds()
		cc.ReadRepair = n.cfg.ReadRepair
		cc.ReadFanout, cc.SpeculativeReadMs = n.cfg.ReadFanout, max(1, n.cfg.SpeculativeRead.Milliseconds())
		cc.IDBase = idBase
		cc.Actor = actor
		cc.Mergers = n.cfg.Mergers
		cc.MaxClockSkewMs = n.cfg.MaxClockSkew.Milliseconds()
		cc.NaiveWallClock = n.cfg.NaiveClock
		if cc.Filling, err = n.startsFilling(i); err != nil {
			return err
		}
		c, err := core.New(cc, n.engine, hw)
		if err != nil {
			return err
		}
		c.LoadHints(hints[i])
		c.SetKeyspaces(n.coreKeyspaces())
		s := &shard{n: n, core: c, inbox: make(chan event, 4096), waiting: map[uint64]*request{}, done: make(chan struct{})}
		s.filling.Store(cc.Filling)
		s.publish() // counters of the loaded hints, before the first tick
		n.shards = append(n.shards, s)
		go s.run()
	}
	return nil
}

func (n *Node) startTransport() (err error) {
	if n.cfg.NewTransport != nil {
		n.transport, err = n.cfg.NewTransport(n.id, n.receive)
		return err
	}
	tc := transport.Config{
		Protocol: n.cfg.Transport,
		NodeID:   n.id, ListenAddr: n.cfg.RPCAddr, Handler: n.receive, Logger: n.log, Registerer: n.cfg.Registry,
	}
	if n.cfg.PeerTLS != nil {
		tc.ServerTLS, tc.ClientTLS = n.cfg.PeerTLS.PeerServer(), n.cfg.PeerTLS.PeerClient()
	}
	n.transport, err = transport.New(tc)
	if err != nil {
		return fmt.Errorf("rpc: %w", err)
	}
	return nil
}

func (n *Node) startMembership() (err error) {
	if n.cfg.View != nil {
		n.view = n.cfg.View
		return nil
	}
	known, err := loadMembers(n.engine)
	if err != nil {
		return err
	}
	n.gossip, err = membership.NewGossip(membership.GossipConfig{
		NodeID: n.id, BindAddr: n.cfg.GossipAddr, Zone: n.cfg.Zone, Join: n.cfg.Join, Known: known,
		Addrs:  membership.Addrs{RESP: n.cfg.RESPAddr, HTTP: n.cfg.HTTPAddr, Gossip: n.cfg.GossipAddr, RPC: n.cfg.RPCAddr},
		Logger: n.log, Registerer: n.cfg.Registry, Fast: n.cfg.FastGossip, State: n.keyspaces,
		Cluster: n.cfg.ClusterName, Keys: n.cfg.GossipKeys,
	})
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	n.view = n.gossip
	return nil
}

// loadHints reads the hints this node holds, split by the shard owning each key.
func loadHints(e storage.Engine, shards int) ([][]record.Hint, error) {
	out := make([][]record.Hint, shards)
	err := e.ScanHints("", func(h record.Hint) bool {
		i := ring.KeyHash(h.Key.Keyspace, h.Key.Key) % uint64(shards)
		out[i] = append(out[i], h)
		return true
	})
	return out, err
}

// restoreHLC returns the highest HLC high-water mark any shard persisted.
func restoreHLC(e storage.Engine) (version.Timestamp, error) {
	var hw version.Timestamp
	var perr error
	err := e.ScanMeta(core.HLCMetaPrefix, func(name string, v []byte) bool {
		ts, err := core.ParseHLCMeta(v)
		if err != nil {
			perr = err
			return false
		}
		hw = max(hw, ts)
		return true
	})
	return hw, errors.Join(err, perr)
}

// resolveNodeID reconciles the configured id with the one stored in the data
// directory; fresh reports that the directory held no id (an empty disk).
func resolveNodeID(e storage.Engine, cfg Config) (id string, fresh bool, err error) {
	stored, found, err := e.GetMeta(metaNodeID)
	if err != nil {
		return "", false, err
	}
	id = cfg.NodeID
	switch {
	case found && id != "" && id != string(stored):
		return "", false, fmt.Errorf("data directory belongs to node %q, not %q", stored, id)
	case found:
		return string(stored), false, nil
	case id == "":
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(cfg.RPCAddr)
		id = strings.ToLower(host) + "-" + port
	}
	b := &record.Batch{Meta: []record.MetaWrite{{Name: metaNodeID, Value: []byte(id)}}}
	return id, true, e.Commit(b)
}

// resolveActor returns the actor id this node writes CRDT entries under: its id and
// the incarnation of its data directory (made when the directory was created), so
// that a node whose disk was wiped never continues an old incarnation's entries.
func (n *Node) resolveActor() (string, error) {
	v, found, err := n.engine.GetMeta(metaActor)
	if err != nil {
		return "", err
	}
	if found {
		return string(v), nil
	}
	actor := n.id + "~" + strconv.FormatInt(time.Now().UnixMilli(), 36)
	b := &record.Batch{Meta: []record.MetaWrite{{Name: metaActor, Value: []byte(actor)}}}
	return actor, n.engine.Commit(b)
}

// startsFilling reports whether shard i must fill before it counts: its data directory
// was empty at this start, or a previous start's fill did not finish. Anti-entropy off
// means no filling (nothing would ever fill it).
func (n *Node) startsFilling(i int) (bool, error) {
	if n.cfg.AntiEntropyInterval <= 0 {
		return false, nil
	}
	if n.fresh {
		return true, nil
	}
	v, found, err := n.engine.GetMeta(core.FillMetaPrefix + strconv.Itoa(i))
	return found && string(v) == "pending", err
}

// Filling reports whether any shard is still filling after an empty-disk start.
func (n *Node) Filling() bool {
	for _, s := range n.shards {
		if s.snapshot().FillingRanges > 0 || s.filling.Load() {
			return true
		}
	}
	return false
}

func loadMembers(e storage.Engine) ([]membership.Member, error) {
	v, found, err := e.GetMeta(metaMembers)
	if err != nil || !found {
		return nil, err
	}
	var ms []membership.Member
	if err := json.Unmarshal(v, &ms); err != nil {
		return nil, fmt.Errorf("%w: members: %v", storage.ErrCorrupt, err)
	}
	return ms, nil
}

// membershipChanged rebuilds the ring and the set of up members, tells the transport
// where peers are, remembers the members durably and hands the view to every shard.
func (n *Node) membershipChanged() {
	n.changeMu.Lock()
	defer n.changeMu.Unlock()
	members := n.view.Members()
	var rm []ring.Member
	up := make(map[string]bool, len(members))
	addrs := make(map[string]string, len(members))
	var keep []membership.Member
	for _, m := range members {
		if m.Status == membership.Left {
			continue
		}
		keep = append(keep, m)
		rm = append(rm, ring.Member{ID: m.ID, Zone: m.Zone})
		// A suspect member still counts as up: suspicion is often false (a slow ack under
		// load), and a member is only down once gossip declares it dead. Requests to a
		// suspect that really failed time out and leave hints; once it is dead, levels
		// it would be needed for fail at once with UNAVAILABLE.
		if m.Status != membership.Alive && m.Status != membership.Suspect {
			continue
		}
		up[m.ID] = true
		// Only live peers get a connection: a peer that comes back is re-added with a
		// fresh one at once, instead of waiting out a reconnect backoff.
		if m.ID != n.id && m.Addrs.RPC != "" {
			addrs[m.ID] = m.Addrs.RPC
		}
	}
	r := ring.New(rm, ring.DefaultVnodes)
	n.transport.SetPeers(addrs)
	n.viewMu.Lock()
	n.ring, n.up = r, up
	n.viewMu.Unlock()
	n.saveMembers(keep)
	v := &core.View{Ring: r, Up: up}
	for _, s := range n.shards {
		select {
		case s.inbox <- event{view: v}:
		case <-n.stopping:
			return
		}
	}
}

// saveMembers remembers the members (ids, zones, addresses) durably when they changed,
// so that a restarted node knows the whole ring before anyone gossips to it.
func (n *Node) saveMembers(ms []membership.Member) {
	b, err := json.Marshal(ms)
	if err != nil || string(b) == n.savedMembers {
		return
	}
	if err = n.engine.Commit(&record.Batch{Meta: []record.MetaWrite{{Name: metaMembers, Value: b}}}); err != nil {
		n.log.Warn("could not persist the member list", "err", err)
		return
	}
	n.savedMembers = string(b)
}

// receive routes a message from a peer to the shard that owns its key.
func (n *Node) receive(m wire.Message) {
	if m.To != n.id {
		n.metrics.misrouted.Inc()
		return
	}
	n.metrics.staleness.received(&m) // times sampled replica round trips (staleness.go)
	s := n.shardOf(m.Key.Keyspace, m.Key.Key)
	if core.IsSyncMessage(m) {
		if int(m.Sync.Shard) >= len(n.shards) {
			n.metrics.misrouted.Inc()
			return
		}
		s = n.shards[m.Sync.Shard]
	}
	select {
	case s.inbox <- event{msg: m, hasMsg: true}:
	case <-n.stopping:
	}
}

func (n *Node) shardOf(keyspace, key string) *shard {
	return n.shards[ring.KeyHash(keyspace, key)%uint64(len(n.shards))]
}

// NodeID returns the node's id.
func (n *Node) NodeID() string { return n.id }

// ReplicationFactor returns N.
func (n *Node) ReplicationFactor() int { return n.cfg.ReplicationFactor }

// Do coordinates one request and waits for its reply or ctx.
func (n *Node) Do(ctx context.Context, req core.Request) core.Reply {
	return n.Start(ctx, req)()
}

// Start submits one request, as Do does, without waiting for its reply: the function
// it returns waits for the reply (or ctx) and returns it, and must be called once.
// Starting several requests before waiting lets the shards take them in one loop
// turn (the RESP server starts a connection's pipelined commands so).
func (n *Node) Start(ctx context.Context, req core.Request) (wait func() core.Reply) {
	start := time.Now()
	w, early := n.submit(ctx, req)
	if w == nil {
		n.metrics.observe(req, early, time.Since(start))
		r := early
		return func() core.Reply { return r }
	}
	return func() core.Reply {
		req := w.req // before wait, which recycles w
		r := n.wait(ctx, w)
		n.metrics.observe(req, r, time.Since(start))
		return r
	}
}

func (n *Node) do(ctx context.Context, req core.Request) core.Reply {
	w, early := n.submit(ctx, req)
	if w == nil {
		return early
	}
	return n.wait(ctx, w)
}

// submit hands req to the shard owning its key; if it cannot (the node stops, ctx is
// done), it returns nil and the reply to give instead.
func (n *Node) submit(ctx context.Context, req core.Request) (*request, core.Reply) {
	w, _ := n.requests.Get().(*request)
	if w == nil {
		w = &request{reply: make(chan core.Reply, 1)}
	}
	w.req = req
	s := n.shardOf(req.Key.Keyspace, req.Key.Key)
	select {
	case s.inbox <- event{req: w}:
		return w, core.Reply{}
	case <-n.stopping:
		n.recycle(w)
		return nil, core.Reply{Err: fmt.Errorf("%w node is shutting down", core.ErrUnavailable)}
	case <-ctx.Done():
		n.recycle(w)
		return nil, core.Reply{Err: fmt.Errorf("%w %v", core.ErrTimeout, ctx.Err())}
	}
}

// wait returns the reply to a submitted request, or a TIMEOUT once ctx is done.
func (n *Node) wait(ctx context.Context, w *request) core.Reply {
	select {
	case r := <-w.reply:
		n.recycle(w)
		return r
	case <-ctx.Done():
		// The shard may still answer w later: it is left to the garbage collector.
		return core.Reply{Err: fmt.Errorf("%w %v before replicas answered", core.ErrTimeout, ctx.Err())}
	}
}

// recycle keeps w for another request. Only a request no shard holds may be
// recycled: one never submitted, or one whose reply was received (a shard sends one
// reply per request, after it has let go of it).
func (n *Node) recycle(w *request) {
	w.req = core.Request{}
	n.requests.Put(w)
}

// Members returns the cluster as this node sees it, with each member's ownership.
func (n *Node) Members() []api.MemberInfo {
	n.viewMu.RLock()
	r := n.ring
	n.viewMu.RUnlock()
	own := r.Ownership(n.cfg.ReplicationFactor)
	offs := n.ClockOffsets()
	var out []api.MemberInfo
	for _, m := range n.view.Members() {
		mi := api.MemberInfo{Member: m, Ownership: own[m.ID]}
		if off, ok := offs[m.ID]; ok && m.ID != n.id {
			mi.ClockOffsetMs = &off
			mi.ClockSkewed = off > n.cfg.MaxClockSkew.Milliseconds() || -off > n.cfg.MaxClockSkew.Milliseconds()
		}
		out = append(out, mi)
	}
	return out
}

// ClockOffsets returns each peer's clock minus this node's, in milliseconds, as last
// measured by any shard (the one furthest from zero).
func (n *Node) ClockOffsets() map[string]int64 {
	out := map[string]int64{}
	for _, s := range n.shards {
		s.statsMu.Lock()
		for p, o := range s.offsets {
			if cur, ok := out[p]; !ok || abs(o) > abs(cur) {
				out[p] = o
			}
		}
		s.statsMu.Unlock()
	}
	return out
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// Inspect asks every replica of key for its copy (the key inspector).
func (n *Node) Inspect(ctx context.Context, key object.Key) ([]core.ReplicaCopy, error) {
	r := n.do(ctx, core.Request{Op: core.OpInspect, Key: key})
	return r.Copies, r.Err
}

// hintCapLog logs, at most once a minute per target, that a target's hint cap refused
// hints.
func (n *Node) hintCapLog(target string) {
	n.capMu.Lock()
	defer n.capMu.Unlock()
	if last, ok := n.capLogged[target]; ok && time.Since(last) < time.Minute {
		return
	}
	if n.capLogged == nil {
		n.capLogged = map[string]time.Time{}
	}
	n.capLogged[target] = time.Now()
	n.log.Warn("hint cap reached; writes for this replica are no longer hinted (anti-entropy will repair it)",
		"target", target, "cap_bytes", n.cfg.HintCapBytes)
}

// skewLog logs, at most once a minute per peer, that a peer's clock is off by more
// than --max-clock-skew.
func (n *Node) skewLog(peer string, offMs int64) {
	n.capMu.Lock()
	defer n.capMu.Unlock()
	key := "clock:" + peer
	if last, ok := n.capLogged[key]; ok && time.Since(last) < time.Minute {
		return
	}
	if n.capLogged == nil {
		n.capLogged = map[string]time.Time{}
	}
	n.capLogged[key] = time.Now()
	n.log.Warn("peer clock is skewed beyond --max-clock-skew; last-write-wins order between causally unrelated writes follows the faster clock",
		"peer", peer, "offset_ms", offMs, "max_skew_ms", n.cfg.MaxClockSkew.Milliseconds())
}

// Healthy reports whether storage is accepting writes (and, for an engine with a
// server, whether the server is reachable now).
func (n *Node) Healthy() bool {
	if h, ok := n.engine.(engineHealth); ok && !h.Healthy() {
		return false
	}
	return n.healthy.Load()
}

func (n *Node) storageFailed(err error) {
	if n.healthy.Swap(false) {
		n.log.Error("storage commit failed; writes are not acknowledged", "err", err)
	}
	n.metrics.storageErrors.Inc()
}

func (n *Node) storageRecovered() {
	if !n.healthy.Swap(true) {
		n.log.Info("storage commits succeed again")
	}
}

// Close stops the node: gossip (peers will see it dead, not left), shards, transport,
// then storage, flushed. It is idempotent.
func (n *Node) Close() error {
	n.closed.Do(func() {
		var errs []error
		if n.gossip != nil {
			errs = append(errs, n.gossip.Close())
		}
		close(n.stopping)
		for _, s := range n.shards {
			<-s.done
		}
		n.bg.Wait()
		if n.transport != nil {
			errs = append(errs, n.transport.Close())
		}
		if n.engine != nil {
			errs = append(errs, n.engine.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}
