package core

import (
	"fmt"
	"strconv"

	"github.com/chorusdb/chorus/internal/merkle"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/ring"
	"github.com/chorusdb/chorus/internal/version"
	"github.com/chorusdb/chorus/internal/wire"
)

// Store is the read side of a node's storage that the core calls directly. It may be
// called only from the goroutine that steps the core. Writes never go through it: they
// leave the core as a record.Batch in Ready.
type Store interface {
	Get(key object.Key) (obj object.Object, found bool, err error)
	// Keyspaces lists the keyspaces holding objects, sorted.
	Keyspaces() ([]string, error)
	// ScanObjects visits the objects of a keyspace in key order from start.
	ScanObjects(ks string, start string, fn func(key object.Key, obj object.Object) bool) error
}

// View is the membership a core works with: the ring of members and which are up.
// The driver builds it from the membership layer and hands the same immutable value to
// every shard.
type View struct {
	Ring *ring.Ring
	// Up lists the members that are alive; a member missing from it is down.
	Up map[string]bool
}

// Ready is what a core asks the driver to do, in order: make Batch durable, then send
// Messages and give Replies. Nothing in Messages or Replies may leave the node before
// Batch is durable: a replica's acknowledgement means the write is on disk.
type Ready struct {
	Batch    record.Batch
	Messages []wire.Message
	Replies  []Reply
}

// Empty reports whether there is nothing to do.
func (r *Ready) Empty() bool {
	return r.Batch.Empty() && len(r.Messages) == 0 && len(r.Replies) == 0
}

// hlcWindowMs is how far ahead of the clock the core persists its HLC high-water mark;
// a restarted node resumes above it, so it never issues a timestamp (or dot) twice.
const hlcWindowMs = 2000

// Core is one shard of a node's logic. See the package documentation.
type Core struct {
	cfg   Config
	store Store
	view  View

	hlc      version.HLC
	hlcBound int64 // physical ms up to which the HLC is persisted

	nextID uint64
	writes map[uint64]*writeOp
	// freeWrites are finished writeOps kept for reuse (see newWriteOp)
	freeWrites []*writeOp
	reads      map[uint64]*readOp
	timeouts   []deadline // in deadline order: every op gets the same timeout
	// speculative: reads that asked fewer than every up replica, by when they ask the
	// rest if still short (in deadline order too)
	speculative []deadline

	// pending holds objects written since the last Advance, not yet durable, so that a
	// second write to the same key within one Ready merges with the first.
	pending map[object.Key]object.Object

	keyspaces map[string]KeyspaceSettings
	stats     Stats

	hints       map[string]*hintQueue // by target
	hintTargets []string              // sorted keys of hints
	hintCapHit  []string

	trees      map[int]*merkle.Tree // by ring range, for this shard's keys
	epoch      uint64               // identity of the ring the trees were built for
	lastSync   map[syncKey]int64    // (range, peer) → start of the last exchange that left them equal
	sessions   map[uint64]*syncSession
	syncWanted []syncTarget
	nextSyncAt int64
	aeTokens   int64 // anti-entropy byte budget (may go negative: debt)
	budgetAt   int64

	filling    bool         // empty-disk start: see fill.go
	filled     map[int]bool // ranges filled so far
	nextFillAt int64

	fwds          map[uint64]*fwdOp  // requests forwarded to a replica, by id
	fwdSeen       map[fwdKey]int64   // forwarded requests taken, until when a duplicate may come
	proxied       map[uint64]proxyOp // forwarded requests being coordinated here
	nextFwdExpiry int64
	inspects      map[uint64]*inspectOp // key inspections in progress
	offsets       map[string]int64      // peer clock minus ours, ms, from its last message
	wallMs        int64                 // the time of the step being processed

	rd Ready
}

type deadline struct {
	at int64
	id uint64
}

// New returns a core ready to step. restoredHLC is the highest HLC high-water mark
// persisted by any shard of this node (0 for a new node); see HLCMetaPrefix.
func New(cfg Config, store Store, restoredHLC version.Timestamp) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Core{
		cfg:      cfg,
		store:    store,
		nextID:   cfg.IDBase,
		writes:   make(map[uint64]*writeOp),
		reads:    make(map[uint64]*readOp),
		pending:  make(map[object.Key]object.Object),
		hints:    make(map[string]*hintQueue),
		trees:    make(map[int]*merkle.Tree),
		lastSync: make(map[syncKey]int64),
		sessions: make(map[uint64]*syncSession),
		filling:  cfg.Filling,
		filled:   make(map[int]bool),
	}
	if cfg.Filling {
		c.rd.Batch.Meta = append(c.rd.Batch.Meta, record.MetaWrite{Name: c.fillMetaName(), Value: []byte("pending")})
	}
	c.hlc.Restore(restoredHLC)
	c.hlcBound = restoredHLC.Physical()
	return c, nil
}

// HLCMetaPrefix prefixes the metadata names under which shards persist their HLC
// high-water marks; the driver restores the maximum of them at start.
const HLCMetaPrefix = "hlc/"

// SetView installs a new membership view.
// When the ring itself changed (members joined or left, not just went up or down), the
// Merkle trees are rebuilt from storage, since range boundaries moved.
func (c *Core) SetView(v View) {
	prev := c.view.Up
	c.view = v
	c.hintTargetsUp(prev)
	if ringEpoch(v.Ring)^uint64(c.cfg.Shards) != c.epoch {
		c.rebuildTrees()
	}
}

// Ready returns the effects accumulated since the last Advance. The returned value is
// valid until Advance.
func (c *Core) Ready() *Ready { return &c.rd }

// Advance tells the core that the driver has acted on the last Ready (its batch is
// durable, or failed and was reported through the replies). It must be called after
// every Ready.
func (c *Core) Advance() {
	c.rd.Batch.Reset()
	clear(c.rd.Messages)
	clear(c.rd.Replies)
	c.rd.Messages = c.rd.Messages[:0]
	c.rd.Replies = c.rd.Replies[:0]
	clear(c.pending)
}

// now stamps a new timestamp and makes sure the HLC high-water mark covering it is in
// the batch.
func (c *Core) now(nowMs int64) version.Timestamp {
	ts := c.hlc.Now(nowMs)
	c.persistHLC()
	return ts
}

func (c *Core) persistHLC() {
	last := c.hlc.Last().Physical()
	if last < c.hlcBound {
		return
	}
	c.hlcBound = last + hlcWindowMs
	c.rd.Batch.Meta = append(c.rd.Batch.Meta, record.MetaWrite{
		Name:  HLCMetaPrefix + strconv.Itoa(c.cfg.Shard),
		Value: strconv.AppendInt(nil, c.hlcBound, 10),
	})
}

// ParseHLCMeta decodes a persisted HLC high-water mark.
func ParseHLCMeta(v []byte) (version.Timestamp, error) {
	ms, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("core: bad HLC high-water mark %q: %w", v, err)
	}
	return version.MakeTimestamp(ms, 0), nil
}

// load returns the local copy of key: the pending one if written since Advance, else
// the stored one.
func (c *Core) load(key object.Key) (object.Object, error) {
	if o, ok := c.pending[key]; ok {
		return o, nil
	}
	o, _, err := c.store.Get(key)
	return o, err
}

// apply merges obj into the local copy of key and queues the result for durability.
// It returns the copy held before the write.
func (c *Core) apply(key object.Key, obj object.Object) (before object.Object, err error) {
	before, err = c.load(key)
	if err != nil {
		return before, err
	}
	return before, c.applyTo(key, before, obj)
}

// applyTo is apply for a caller that has loaded the local copy (before) already.
func (c *Core) applyTo(key object.Key, before, obj object.Object) error {
	merged, err := object.Merge(before, obj)
	if err != nil {
		return err
	}
	if object.Equal(merged, before) {
		return nil
	}
	c.updateTree(key, before, merged)
	c.pending[key] = merged
	c.rd.Batch.Objects = append(c.rd.Batch.Objects, record.ObjectWrite{Key: key, Object: merged})
	return nil
}

func (c *Core) send(m wire.Message) {
	m.From = c.cfg.NodeID
	m.Clock = c.hlc.Last()
	m.WallMs = c.wallMs
	c.rd.Messages = append(c.rd.Messages, m)
}

// reply answers a client, or the node that forwarded the request.
func (c *Core) reply(r Reply) {
	if r.ID&proxyIDBit != 0 {
		if p, ok := c.proxied[r.ID]; ok {
			delete(c.proxied, r.ID)
			m := wire.Message{Type: wire.FwdResp, To: p.from, ID: p.id, Key: p.key, Found: r.Found, Object: r.Obj,
				Fwd: &wire.Fwd{Acks: uint32(max(r.Acks, 0)), Before: r.Before}}
			if r.Err != nil {
				m.Err = r.Err.Error()
			}
			c.send(m)
			return
		}
	}
	c.rd.Replies = append(c.rd.Replies, r)
}

// observeClock records a peer's clock reading: the HLC takes it into account (so that
// anything this node stamps after hearing from the peer orders after what the peer had
// stamped), and the offset from this node's clock is tracked for the skew report.
func (c *Core) observeClock(nowMs int64, m wire.Message) {
	if m.Clock != 0 && !c.cfg.NaiveWallClock && !c.bug(BugWallclockLWW) {
		c.hlc.Observe(m.Clock, nowMs)
		c.persistHLC()
	}
	if m.WallMs == 0 || m.From == "" {
		return
	}
	off := m.WallMs - nowMs
	if c.offsets == nil {
		c.offsets = make(map[string]int64)
	}
	c.offsets[m.From] = off
	if off > c.cfg.MaxClockSkewMs || -off > c.cfg.MaxClockSkewMs {
		c.stats.SkewedMessages++
	}
}

// ClockOffsets returns, for each peer heard from, its clock minus this node's clock
// as of its last message, in milliseconds (including the message's transit time, so a
// peer behind looks slightly further behind). The map is a copy.
func (c *Core) ClockOffsets() map[string]int64 {
	out := make(map[string]int64, len(c.offsets))
	for p, o := range c.offsets {
		out[p] = o
	}
	return out
}

func (c *Core) newID() uint64 {
	c.nextID++
	return c.nextID
}

// liveReplicas returns the preference list of key and how many of its members are up.
func (c *Core) replicas(key object.Key, dst []string) (prefs []string, up int) {
	if c.view.Ring == nil {
		return dst[:0], 0
	}
	prefs = c.view.Ring.AppendPreferenceList(dst[:0], ring.KeyHash(key.Keyspace, key.Key), c.cfg.ReplicationFactor)
	for _, p := range prefs {
		if c.view.Up[p] {
			up++
		}
	}
	return prefs, up
}

// Receive steps one message from a peer.
func (c *Core) Receive(nowMs int64, m wire.Message) {
	c.wallMs = nowMs
	c.observeClock(nowMs, m)
	switch m.Type {
	case wire.PutReq:
		c.replicaPut(nowMs, m)
	case wire.GetReq:
		c.replicaGet(m)
	case wire.PutResp:
		c.writeAnswered(nowMs, m)
	case wire.GetResp:
		c.readAnswered(nowMs, m)
	case wire.HintReq:
		c.replicaHint(m)
	case wire.HintResp:
		c.hintAnswered(nowMs, m)
	case wire.SyncReq, wire.SyncResp:
		if m.Sync != nil {
			c.receiveSync(nowMs, m)
		}
	case wire.FwdReq:
		c.replicaForward(nowMs, m)
	case wire.FwdResp:
		c.forwardAnswered(m)
	}
}

// Tick lets time pass: requests past their deadline are answered TIMEOUT.
func (c *Core) Tick(nowMs int64) {
	c.wallMs = nowMs
	for len(c.timeouts) > 0 && c.timeouts[0].at <= nowMs {
		id := c.timeouts[0].id
		c.timeouts = c.timeouts[1:]
		if w, ok := c.writes[id]; ok {
			c.writeTimedOut(nowMs, w)
		}
		if r, ok := c.reads[id]; ok {
			c.readTimedOut(nowMs, r)
		}
		if f, ok := c.fwds[id]; ok {
			c.forwardTimedOut(f)
		}
		if in, ok := c.inspects[id]; ok {
			c.finishInspect(in)
		}
	}
	for len(c.speculative) > 0 && c.speculative[0].at <= nowMs {
		id := c.speculative[0].id
		c.speculative = c.speculative[1:]
		if r, ok := c.reads[id]; ok {
			c.readSlow(r)
		}
	}
	c.expireForwards(nowMs)
	c.deliverHints(nowMs)
	c.antiEntropyTick(nowMs)
	c.fillTick(nowMs)
}

// Submit steps one client request with this node as coordinator.
func (c *Core) Submit(nowMs int64, req Request) {
	c.wallMs = nowMs
	if err := c.validate(nowMs, req); err != nil {
		c.reply(Reply{ID: req.ID, Err: err})
		return
	}
	switch req.Op {
	case OpGet:
		c.startRead(nowMs, req)
	case OpPut, OpDelete, OpUpdate:
		c.startWrite(nowMs, req, false)
	case OpInspect:
		c.startInspect(nowMs, req)
	default:
		c.reply(Reply{ID: req.ID, Err: fmt.Errorf("%w unknown operation %d", ErrBadRequest, req.Op)})
	}
}

func (c *Core) validate(nowMs int64, req Request) error {
	if len(req.Key.Key) > c.cfg.MaxKeyBytes {
		return fmt.Errorf("%w key of %d bytes exceeds the %d-byte limit", ErrTooLarge, len(req.Key.Key), c.cfg.MaxKeyBytes)
	}
	if len(req.Value) > c.cfg.MaxValueBytes {
		return fmt.Errorf("%w value of %d bytes exceeds the %d-byte limit", ErrTooLarge, len(req.Value), c.cfg.MaxValueBytes)
	}
	if err := ValidateKeyspace(req.Key.Keyspace); err != nil {
		return err
	}
	if req.Level > Any || (req.Level == Any && req.Op == OpGet) {
		return fmt.Errorf("%w level %s is not valid for %s", ErrBadRequest, req.Level, req.Op)
	}
	if req.TTLMs < 0 {
		return fmt.Errorf("%w negative expiry", ErrBadRequest)
	}
	if req.Op == OpUpdate {
		if err := req.CRDT.Validate(); err != nil {
			return fmt.Errorf("%w %v", ErrBadRequest, err)
		}
		n := len(req.CRDT.Field) + len(req.CRDT.Value)
		for _, e := range req.CRDT.Elems {
			n += len(e)
		}
		if n > c.cfg.MaxValueBytes {
			return fmt.Errorf("%w operation of %d bytes exceeds the %d-byte value limit", ErrTooLarge, n, c.cfg.MaxValueBytes)
		}
	}
	// A context names dots this cluster issued, whose counters are HLC timestamps: one
	// from the future (beyond the clock skew the cluster tolerates) cannot be genuine,
	// and would make later writes look already seen.
	limit := version.MakeTimestamp(nowMs+max(c.cfg.MaxClockSkewMs, 0)+hlcWindowMs, 0)
	for _, d := range req.Context {
		if version.Timestamp(d.Counter) > max(limit, c.hlc.Last()) {
			return fmt.Errorf("%w the context names a version from the future (%s:%d); was it made up?", ErrBadRequest, d.Actor, d.Counter)
		}
	}
	return nil
}

// checkAvailable returns ErrUnavailable when fewer replicas are up than the level needs.
func (c *Core) checkAvailable(level Level, need, up int) error {
	if need > c.cfg.ReplicationFactor {
		return fmt.Errorf("%w need %d replicas for %s, replication factor is %d", ErrUnavailable, need, level, c.cfg.ReplicationFactor)
	}
	if up < need {
		return fmt.Errorf("%w need %d replicas for %s, %d alive", ErrUnavailable, need, level, up)
	}
	return nil
}

func (c *Core) addDeadline(nowMs int64, id uint64) {
	c.timeouts = append(c.timeouts, deadline{at: nowMs + c.cfg.RequestTimeoutMs, id: id})
}
