package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrClosed is returned by Join and Leave after Close.
var ErrClosed = errors.New("membership: gossip closed")

// Gossip is the production View: this node's membership in the cluster through
// hashicorp/memberlist (SWIM gossip with Lifeguard). It tracks every member it has
// ever seen, with its status, zone and addresses:
//
//   - Alive: memberlist considers the member alive.
//   - Suspect: a probe of the member by this node went unanswered and the member
//     has not answered since. memberlist v0.7.0 does not report suspicion to its
//     delegates, so this is observed from this node's own failed probes (and
//     cleared by a later successful ping); a member may therefore go from Alive to
//     Dead directly when another node's suspicion wins first.
//   - Dead: memberlist declared the member failed (or it is only remembered from
//     Known). It stays in the view, so the ring keeps it.
//   - Left: the member left gracefully with Leave.
//
// All methods are safe for concurrent use. A member that restarts under the same
// id is seen alive again: it refutes its death with a higher incarnation once it
// reaches any member, and Gossip keeps trying to reach members it sees dead.
type Gossip struct {
	cfg    GossipConfig
	timing Timing
	log    *slog.Logger
	ml     *memberlist.Memberlist
	self   selfAddrs

	mu      sync.Mutex
	members map[string]*memberState // every member ever seen, self included
	meta    []byte                  // local metadata handed to memberlist
	leaving bool
	stopped bool // Close was called: the view no longer changes
	subs    []func()
	metrics *metrics

	changed    chan struct{} // capacity 1: a pending "view changed" for notifyLoop
	broadcasts *memberlist.TransmitLimitedQueue

	lifeMu sync.Mutex // serialises Leave and Close
	closed atomic.Bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// memberState is a Member plus what Gossip needs to reach it.
type memberState struct {
	Member
	mlAddr string // memberlist's ip:port for the member; empty if only Known
}

var _ View = (*Gossip)(nil)

// NewGossip starts gossip on cfg.BindAddr and joins cfg.Join. It fails if the
// configuration is invalid (see GossipConfig.Validate), the metadata is too large
// (ErrMetaTooLarge) or the address cannot be bound (a taken port wraps
// syscall.EADDRINUSE and names the address). It does not fail when nobody in
// cfg.Join answers: the node starts alone and keeps retrying in the background.
func NewGossip(cfg GossipConfig) (*Gossip, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("membership: invalid gossip config: %w", err)
	}
	host, port, _ := splitBindAddr(cfg.BindAddr)
	ip, err := resolveBindIP(host)
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	if cfg.Addrs.Gossip == "" && port != 0 && !net.ParseIP(ip).IsUnspecified() {
		cfg.Addrs.Gossip = net.JoinHostPort(ip, strconv.Itoa(port))
	}
	advertiseBound := cfg.Addrs.Gossip == "" // only known once bound
	g := &Gossip{
		cfg:     cfg,
		timing:  cfg.timing(),
		log:     cfg.Logger,
		members: make(map[string]*memberState),
		changed: make(chan struct{}, 1),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.log = g.log.With("component", "membership")
	if g.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	g.initMembers(cfg)
	d := &delegate{g: g}
	logOut := &memberlistLog{log: g.log, onSuspect: g.observeSuspect}
	// memberlist serves packets as soon as Create has bound its sockets, before it
	// returns: everything its delegate reads must exist first. The broadcast queue
	// asks for the member count through an atomic pointer set once Create returns.
	var created atomic.Pointer[memberlist.Memberlist]
	g.broadcasts = &memberlist.TransmitLimitedQueue{
		NumNodes: func() int {
			if ml := created.Load(); ml != nil {
				return ml.NumMembers()
			}
			return 1
		},
		RetransmitMult: g.timing.RetransmitMult,
	}
	ml, err := memberlist.Create(memberlistConfig(cfg, g.timing, ip, port, d, logOut))
	if err != nil {
		g.metrics.unregister()
		return nil, bindError(cfg.BindAddr, err)
	}
	created.Store(ml)
	g.ml = ml
	if advertiseBound {
		g.advertiseBoundAddr()
	}
	g.self = newSelfAddrs(cfg.NodeID, ml.LocalNode(), cfg.BindAddr, g.Local().Addrs.Gossip)
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.wg.Add(3)
	go g.notifyLoop()
	go g.suspectLoop()
	go g.rejoinLoop()
	if targets := g.self.filter(cfg.Join); len(targets) > 0 {
		if n := g.joinEach(targets); n == 0 {
			g.log.Info("no member to join answered; starting alone and retrying in the background", "join", targets)
		}
	}
	return g, nil
}

// bindError turns memberlist's error for a failed listen into one that names the
// address; a taken port wraps syscall.EADDRINUSE.
func bindError(addr string, err error) error {
	if strings.Contains(err.Error(), "address already in use") {
		return fmt.Errorf("membership: gossip address %s is already in use: %w", addr, syscall.EADDRINUSE)
	}
	return fmt.Errorf("membership: start gossip on %s: %w", addr, err)
}

// initMembers seeds the view with the Known members (dead, or left) and self.
func (g *Gossip) initMembers(cfg GossipConfig) {
	for _, m := range cfg.Known {
		if m.ID == cfg.NodeID {
			continue
		}
		if m.Status != Left {
			m.Status = Dead
		}
		g.members[m.ID] = &memberState{Member: m}
	}
	g.members[cfg.NodeID] = &memberState{Member: Member{ID: cfg.NodeID, Zone: cfg.Zone, Status: Alive, Addrs: cfg.Addrs}}
	g.meta = encodeMeta(nodeMeta{Zone: cfg.Zone, Addrs: cfg.Addrs})
	g.metrics.set(g.countsLocked())
}

// advertiseBoundAddr advertises the address memberlist bound to when Addrs.Gossip
// could not be known in advance (port 0 or an unspecified host).
func (g *Gossip) advertiseBoundAddr() {
	addr := g.ml.LocalNode().Address()
	g.mu.Lock()
	self := g.members[g.cfg.NodeID]
	self.Addrs.Gossip = addr
	g.meta = encodeMeta(nodeMeta{Zone: self.Zone, Addrs: self.Addrs})
	g.mu.Unlock()
	if err := g.ml.UpdateNode(g.timing.TCPTimeout); err != nil {
		g.log.Debug("advertising the bound gossip address", "err", err)
	}
}

// Broadcast spreads a state update (for GossipConfig.State) to every member by
// gossip; members that miss it still get the whole state at the next push/pull.
func (g *Gossip) Broadcast(update []byte) {
	if g.closed.Load() || len(update) == 0 {
		return
	}
	g.broadcasts.QueueBroadcast(stateBroadcast(append([]byte(nil), update...)))
}

// stateBroadcast is one queued state update.
type stateBroadcast []byte

func (b stateBroadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b stateBroadcast) Message() []byte                       { return b }
func (b stateBroadcast) Finished()                             {}

// Local returns this node as a member: Alive, or Left after Leave.
func (g *Gossip) Local() Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.members[g.cfg.NodeID].Member
}

// Members returns every member this node has seen or was told about in
// GossipConfig.Known, self included, sorted by id.
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	out := make([]Member, 0, len(g.members))
	for _, ms := range g.members {
		out = append(out, ms.Member)
	}
	g.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Subscribe registers fn to be called after the view changes (a member appears,
// changes status, zone or addresses). Calls come from one goroutine, in
// registration order, never concurrently with each other; several changes in quick
// succession may be reported by one call, so fn should read Members. fn must not
// block for long (it delays every later notification) and must not call Close.
func (g *Gossip) Subscribe(fn func()) {
	g.mu.Lock()
	g.subs = append(g.subs, fn)
	g.mu.Unlock()
}

// Join contacts the given gossip addresses (host:port; this node's own address is
// skipped) and merges state with them. It returns how many answered; the error is
// non-nil only if none did. It blocks for up to the TCP timeout per address that
// does not answer.
func (g *Gossip) Join(addrs []string) (int, error) {
	if g.closed.Load() {
		return 0, ErrClosed
	}
	targets := g.self.filter(addrs)
	if len(targets) == 0 {
		return 0, nil
	}
	n, err := g.ml.Join(targets)
	if n > 0 {
		err = nil
	}
	return n, err
}

// Leave leaves the cluster gracefully: the others see this node as Left (not
// Dead), so a ring may hand its ranges over. It is not part of an ordinary
// shutdown, after which the node must be seen as dead and kept in the ring: for
// that call Close alone. timeout bounds the whole call (0: no bound); on timeout
// some members may see this node as dead rather than left. Gossip keeps running
// until Close. A second Leave returns nil at once; Leave after Close returns
// ErrClosed.
func (g *Gossip) Leave(timeout time.Duration) error {
	g.lifeMu.Lock()
	defer g.lifeMu.Unlock()
	if g.closed.Load() {
		return ErrClosed
	}
	if g.isLeaving() {
		return nil
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	g.mu.Lock()
	g.leaving = true
	self := g.members[g.cfg.NodeID]
	g.meta = encodeMeta(nodeMeta{Zone: self.Zone, Addrs: self.Addrs, Leaving: true})
	g.mu.Unlock()
	if err := g.ml.UpdateNode(timeout); err != nil {
		g.log.Warn("leave: announcing the leave in metadata", "err", err)
	}
	rest := time.Duration(0)
	if timeout > 0 {
		rest = max(time.Until(deadline), time.Millisecond)
	}
	err := g.ml.Leave(rest)
	g.update(g.cfg.NodeID, func(ms *memberState, _ bool) bool {
		ms.Status = Left
		return true
	})
	if err != nil {
		return fmt.Errorf("membership: leave: %w", err)
	}
	return nil
}

// Close stops gossip without leaving: the others will see this node as dead. It
// waits for Gossip's goroutines to stop (at most about one TCPTimeout, for a join
// in progress), unregisters the metrics and is idempotent. After Close the view
// no longer changes and no callback is called.
func (g *Gossip) Close() error {
	g.lifeMu.Lock()
	defer g.lifeMu.Unlock()
	if g.closed.Load() {
		return nil
	}
	g.closed.Store(true)
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	g.cancel()
	err := g.ml.Shutdown()
	g.wg.Wait()
	g.metrics.unregister()
	if err != nil {
		return fmt.Errorf("membership: close: %w", err)
	}
	return nil
}

// update applies f to member id's state under the lock (f gets a fresh state with
// only the id set, and isNew, for a member not yet seen; returning false discards
// it) and notifies subscribers if the member changed.
func (g *Gossip) update(id string, f func(ms *memberState, isNew bool) bool) {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return
	}
	ms, ok := g.members[id]
	var before Member
	if ok {
		before = ms.Member
	} else {
		ms = &memberState{Member: Member{ID: id}}
	}
	if !f(ms, !ok) {
		g.mu.Unlock()
		return
	}
	if !ok {
		g.members[id] = ms
	}
	after := ms.Member
	changed := !ok || after != before
	if changed {
		g.metrics.set(g.countsLocked())
	}
	g.mu.Unlock()
	if !changed {
		return
	}
	switch {
	case !ok:
		g.log.Info("member discovered", "member", id, "status", after.Status, "zone", after.Zone, "gossip", after.Addrs.Gossip)
	case before.Status != after.Status:
		g.log.Info("member status changed", "member", id, "from", before.Status, "to", after.Status)
	default:
		g.log.Debug("member metadata changed", "member", id, "zone", after.Zone, "addrs", after.Addrs)
	}
	g.signal()
}

// countsLocked counts members by status. g.mu must be held.
func (g *Gossip) countsLocked() [4]int {
	var c [4]int
	for _, ms := range g.members {
		if int(ms.Status) < len(c) {
			c[ms.Status]++
		}
	}
	return c
}

// signal wakes notifyLoop without blocking; pending signals coalesce.
func (g *Gossip) signal() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// notifyLoop calls the Subscribe callbacks after each change, one call at a time.
func (g *Gossip) notifyLoop() {
	defer g.wg.Done()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-g.changed:
		}
		g.mu.Lock()
		subs := slices.Clone(g.subs)
		g.mu.Unlock()
		for _, fn := range subs {
			fn()
		}
	}
}

// isLeaving reports whether Leave was called.
func (g *Gossip) isLeaving() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leaving
}
