package core

import (
	"slices"
	"sort"

	"github.com/cespare/xxhash/v2"

	"github.com/chorusdb/chorus/internal/merkle"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/ring"
	"github.com/chorusdb/chorus/internal/wire"
)

// Anti-entropy. Each core keeps one merkle.Tree per ring range for the keys of its
// shard, updated on every local write (apply) in O(depth). Every AntiEntropyIntervalMs
// (and on demand: StartRepair, or a hint that expired) the core, as initiator, picks
// for each range it replicates the peer replica synced longest ago, and runs one
// exchange per peer with the same shard of that peer:
//
//	I→R roots of the ranges → R→I inner hashes of differing ranges (equal ones listed)
//	I→R leaf hashes under differing inner nodes → R→I (key, digest) of differing buckets
//	I→R objects R lacks or holds differently, and the keys I wants → R→I those objects
//
// Both sides merge what they receive, so both end with the join of their copies. Bytes
// sent grow with the number of differing keys, not with the data. Leaves of the buckets
// scanned in an exchange are recomputed from storage, so a tree that drifted (a failed
// commit) heals itself.

type syncTarget struct {
	rng  int
	peer string
}

type syncKey struct {
	rng  int
	peer string
}

// syncSession is an exchange this core initiated.
type syncSession struct {
	id       uint64
	peer     string
	started  int64
	ranges   []int
	keyspace string // only this keyspace's keys are exchanged; "" for all
}

// keyHash is a key's position on the ring.
func keyHash(k object.Key) uint64 { return ring.KeyHash(k.Keyspace, k.Key) }

// ownKey reports whether a key belongs to this core's shard.
func (c *Core) ownKey(h uint64) bool {
	return c.cfg.Shards <= 1 || h%uint64(c.cfg.Shards) == uint64(c.cfg.Shard)
}

// ringEpoch identifies a ring by its members and zones; two nodes whose epochs differ
// do not compare trees (their range indices differ).
func ringEpoch(r *ring.Ring) uint64 {
	if r == nil {
		return 0
	}
	var d xxhash.Digest
	d.Reset()
	for _, m := range r.Members() {
		d.WriteString(m.ID)
		d.Write([]byte{0})
		d.WriteString(m.Zone)
		d.Write([]byte{0})
	}
	return d.Sum64()
}

func itemOf(key object.Key, obj object.Object) uint64 {
	return merkle.ItemHash(key.Keyspace, key.Key, object.Digest(obj))
}

// updateTree moves a key's item in its range's tree from its old to its new version.
func (c *Core) updateTree(key object.Key, before, after object.Object) {
	if c.view.Ring == nil || c.view.Ring.Len() == 0 {
		return
	}
	h := keyHash(key)
	t := c.tree(c.view.Ring.RangeOf(h))
	b := merkle.Bucket(h)
	switch {
	case before.IsZero() && after.IsZero():
	case before.IsZero():
		t.Add(b, itemOf(key, after))
	case after.IsZero():
		t.Remove(b, itemOf(key, before))
	default:
		t.Replace(b, itemOf(key, before), itemOf(key, after))
	}
}

func (c *Core) tree(r int) *merkle.Tree {
	t, ok := c.trees[r]
	if !ok {
		t = &merkle.Tree{}
		c.trees[r] = t
	}
	return t
}

// rebuildTrees recomputes every tree from storage (and the not yet durable writes);
// called when the ring changes, since range boundaries move.
func (c *Core) rebuildTrees() {
	c.trees = map[int]*merkle.Tree{}
	c.epoch = ringEpoch(c.view.Ring) ^ uint64(c.cfg.Shards)
	c.resetFill()
	if c.view.Ring == nil || c.view.Ring.Len() == 0 {
		return
	}
	c.scanOwn(func(key object.Key, obj object.Object, h uint64) {
		c.tree(c.view.Ring.RangeOf(h)).Add(merkle.Bucket(h), itemOf(key, obj))
	})
}

// scanOwn visits every object of this shard: stored ones, with writes not yet durable
// taking precedence.
func (c *Core) scanOwn(fn func(key object.Key, obj object.Object, h uint64)) {
	kss, err := c.store.Keyspaces()
	if err != nil {
		c.stats.StorageErrors++
		return
	}
	for _, ks := range kss {
		err := c.store.ScanObjects(ks, "", func(key object.Key, obj object.Object) bool {
			if _, ok := c.pending[key]; ok {
				return true
			}
			if h := keyHash(key); c.ownKey(h) {
				fn(key, obj, h)
			}
			return true
		})
		if err != nil {
			c.stats.StorageErrors++
		}
	}
	keys := make([]object.Key, 0, len(c.pending))
	for k := range c.pending {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for _, k := range keys {
		if o := c.pending[k]; !o.IsZero() {
			fn(k, o, keyHash(k))
		}
	}
}

func sortKeys(keys []object.Key) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Keyspace != keys[j].Keyspace {
			return keys[i].Keyspace < keys[j].Keyspace
		}
		return keys[i].Key < keys[j].Key
	})
}

// peersOf returns the other replicas of range r.
func (c *Core) peersOf(r int) []string {
	var out []string
	for _, p := range c.view.Ring.RangePreferenceList(r, c.cfg.ReplicationFactor) {
		if p != c.cfg.NodeID {
			out = append(out, p)
		}
	}
	return out
}

// replicatedRanges lists the ranges this node is a replica of, in order.
func (c *Core) replicatedRanges() []int {
	var out []int
	if c.view.Ring == nil {
		return out
	}
	for r := range c.view.Ring.Ranges() {
		if indexOf(c.view.Ring.RangePreferenceList(r, c.cfg.ReplicationFactor), c.cfg.NodeID) >= 0 {
			out = append(out, r)
		}
	}
	return out
}

// StartRepair starts a full exchange of every replicated range now, whatever the
// interval and budget, of one keyspace's keys (or all, with ""); it returns how many
// exchanges (one per peer) it started.
func (c *Core) StartRepair(nowMs int64, keyspace string) int {
	return c.syncRound(nowMs, keyspace)
}

// antiEntropyTick runs the periodic round, targeted exchanges, and tombstone purge.
func (c *Core) antiEntropyTick(nowMs int64) {
	c.refillBudget(nowMs)
	if c.cfg.AntiEntropyIntervalMs <= 0 {
		c.syncWanted = nil
		return
	}
	c.expireSessions(nowMs)
	if c.nextSyncAt == 0 { // at start: let the cluster settle one interval first
		c.nextSyncAt = nowMs + c.cfg.AntiEntropyIntervalMs
	}
	if nowMs >= c.nextSyncAt && c.aeTokens >= 0 {
		c.syncRound(nowMs, "")
		c.purgeTombstones(nowMs)
		c.nextSyncAt = nowMs + c.cfg.AntiEntropyIntervalMs
	}
	c.syncTargeted(nowMs)
}

// syncRound picks for each replicated range the up peer synced longest ago and starts
// one exchange per chosen peer.
func (c *Core) syncRound(nowMs int64, keyspace string) int {
	byPeer := map[string][]int{}
	for _, r := range c.replicatedRanges() {
		best, bestAt := "", int64(0)
		peers := c.peersOf(r)
		for j := range peers {
			p := peers[(j+r)%len(peers)] // spread ties over the peers
			if !c.view.Up[p] {
				continue
			}
			at := c.lastSync[syncKey{r, p}]
			if best == "" || at < bestAt {
				best, bestAt = p, at
			}
		}
		if best != "" {
			byPeer[best] = append(byPeer[best], r)
		}
	}
	return c.startSessions(nowMs, byPeer, keyspace)
}

func (c *Core) syncTargeted(nowMs int64) {
	if len(c.syncWanted) == 0 {
		return
	}
	byPeer := map[string][]int{}
	for _, t := range c.syncWanted {
		if c.view.Up[t.peer] && !slices.Contains(byPeer[t.peer], t.rng) && slices.Contains(c.peersOf(t.rng), t.peer) {
			byPeer[t.peer] = append(byPeer[t.peer], t.rng)
		}
	}
	c.syncWanted = nil
	c.startSessions(nowMs, byPeer, "")
}

func (c *Core) startSessions(nowMs int64, byPeer map[string][]int, keyspace string) int {
	peers := make([]string, 0, len(byPeer))
	for p := range byPeer {
		peers = append(peers, p)
	}
	sort.Strings(peers)
	for _, p := range peers {
		ranges := byPeer[p]
		sort.Ints(ranges)
		s := &syncSession{id: c.newID(), peer: p, started: nowMs, ranges: ranges, keyspace: keyspace}
		c.sessions[s.id] = s
		msg := &wire.Sync{Step: wire.SyncRoots}
		for _, r := range ranges {
			msg.Ranges = append(msg.Ranges, uint32(r))
			msg.Hashes = append(msg.Hashes, c.tree(r).Root())
		}
		c.sendSync(wire.SyncReq, p, s.id, msg)
	}
	return len(peers)
}

// sessionTimeoutMs bounds an exchange; one that does not finish (a message lost) is
// dropped, and the next round tries again.
const sessionTimeoutMs = 30_000

func (c *Core) expireSessions(nowMs int64) {
	for id, s := range c.sessions {
		if nowMs-s.started > sessionTimeoutMs {
			delete(c.sessions, id)
		}
	}
}

func (c *Core) sendSync(t wire.Type, to string, id uint64, s *wire.Sync) {
	s.Epoch, s.Shard = c.epoch, uint32(c.cfg.Shard)
	n := syncBytes(s)
	c.stats.AEBytesSent += uint64(n)
	c.aeTokens -= int64(n)
	c.send(wire.Message{Type: t, To: to, ID: id, Sync: s, Key: object.Key{Keyspace: syncRouteKeyspace, Key: ""}})
}

// syncRouteKeyspace marks anti-entropy messages; the driver routes them by Sync.Shard,
// not by key.
const syncRouteKeyspace = "\x00sync"

// IsSyncMessage reports whether a message is an anti-entropy step, which the driver
// routes to shard m.Sync.Shard instead of by key.
func IsSyncMessage(m wire.Message) bool { return m.Sync != nil }

// syncBytes estimates the encoded size of an anti-entropy payload.
func syncBytes(s *wire.Sync) int {
	n := 16 + 4*(len(s.Ranges)+len(s.Nodes)+len(s.Equal)) + 8*(len(s.Hashes)+len(s.Digests))
	for _, k := range s.Keys {
		n += len(k.Keyspace) + len(k.Key) + 2
	}
	for _, k := range s.Pull {
		n += len(k.Keyspace) + len(k.Key) + 2
	}
	for _, o := range s.Objects {
		n += 8
		for _, sib := range o.Siblings {
			n += len(sib.Value) + 24 + len(sib.Dot.Actor)
		}
	}
	return n
}

// receiveSync handles one anti-entropy step from a peer.
func (c *Core) receiveSync(nowMs int64, m wire.Message) {
	s := m.Sync
	if s.Epoch != c.epoch {
		if m.Type == wire.SyncReq {
			c.send(wire.Message{Type: wire.SyncResp, To: m.From, ID: m.ID, Err: "ring differs", Sync: &wire.Sync{Step: s.Step}, Key: object.Key{Keyspace: syncRouteKeyspace}})
		} else {
			delete(c.sessions, m.ID)
		}
		return
	}
	if m.Type == wire.SyncResp && m.Err != "" {
		delete(c.sessions, m.ID)
		return
	}
	switch {
	case m.Type == wire.SyncReq && s.Step == wire.SyncRoots:
		c.syncCompareRoots(nowMs, m)
	case m.Type == wire.SyncResp && s.Step == wire.SyncInner:
		c.syncCompareInner(nowMs, m)
	case m.Type == wire.SyncReq && s.Step == wire.SyncLeaves:
		c.syncCompareLeaves(m)
	case m.Type == wire.SyncResp && s.Step == wire.SyncKeys:
		c.syncCompareKeys(nowMs, m)
	case s.Step == wire.SyncPush:
		c.syncMerge(nowMs, m)
	}
}

// syncCompareRoots (responder): list equal ranges, send inner hashes of differing ones.
func (c *Core) syncCompareRoots(nowMs int64, m wire.Message) {
	in := m.Sync
	out := &wire.Sync{Step: wire.SyncInner}
	for i, r32 := range in.Ranges {
		if i >= len(in.Hashes) {
			break
		}
		r := int(r32)
		t := c.tree(r)
		if t.Root() == in.Hashes[i] {
			out.Equal = append(out.Equal, r32)
			c.lastSync[syncKey{r, m.From}] = nowMs
			continue
		}
		out.Ranges = append(out.Ranges, r32)
		inner := t.Inner()
		out.Hashes = append(out.Hashes, inner[:]...)
	}
	c.sendSync(wire.SyncResp, m.From, m.ID, out)
}

// syncCompareInner (initiator): mark equal ranges synced; send leaves of differing
// inner nodes.
func (c *Core) syncCompareInner(nowMs int64, m wire.Message) {
	sess, ok := c.sessions[m.ID]
	if !ok {
		return
	}
	in := m.Sync
	c.stats.AERangesCompared += uint64(len(in.Equal) + len(in.Ranges))
	c.stats.AERangesDiffering += uint64(len(in.Ranges))
	for _, r := range in.Equal {
		c.lastSync[syncKey{int(r), sess.peer}] = sess.started
	}
	out := &wire.Sync{Step: wire.SyncLeaves}
	for i, r32 := range in.Ranges {
		if len(in.Hashes) < (i+1)*merkle.Fanout {
			break
		}
		var theirs [merkle.Fanout]uint64
		copy(theirs[:], in.Hashes[i*merkle.Fanout:])
		t := c.tree(int(r32))
		for _, node := range merkle.Differing(t.Inner(), theirs) {
			leaves := t.LeavesOf(node)
			out.Ranges = append(out.Ranges, r32)
			out.Nodes = append(out.Nodes, uint32(node))
			out.Hashes = append(out.Hashes, leaves[:]...)
		}
	}
	if len(out.Ranges) == 0 {
		c.finishSession(sess)
		return
	}
	c.sendSync(wire.SyncReq, sess.peer, sess.id, out)
}

type bucketID struct {
	rng    int
	bucket int
}

// syncCompareLeaves (responder): find differing buckets and send the keys and digests
// it holds in them.
func (c *Core) syncCompareLeaves(m wire.Message) {
	in := m.Sync
	want := map[bucketID]bool{}
	var order []bucketID
	for i := range in.Ranges {
		if i >= len(in.Nodes) || len(in.Hashes) < (i+1)*merkle.Fanout || int(in.Nodes[i]) >= merkle.Fanout {
			break
		}
		var theirs [merkle.Fanout]uint64
		copy(theirs[:], in.Hashes[i*merkle.Fanout:])
		node := int(in.Nodes[i])
		for _, l := range merkle.Differing(c.tree(int(in.Ranges[i])).LeavesOf(node), theirs) {
			b := bucketID{int(in.Ranges[i]), node*merkle.Fanout + l}
			if !want[b] {
				want[b] = true
				order = append(order, b)
			}
		}
	}
	out := &wire.Sync{Step: wire.SyncKeys}
	for _, b := range order {
		out.Ranges = append(out.Ranges, uint32(b.rng))
		out.Nodes = append(out.Nodes, uint32(b.bucket))
	}
	for _, e := range c.scanBuckets(want) {
		out.Keys = append(out.Keys, e.key)
		out.Digests = append(out.Digests, e.digest)
	}
	c.sendSync(wire.SyncResp, m.From, m.ID, out)
}

type bucketEntry struct {
	key    object.Key
	obj    object.Object
	digest uint64
}

// scanBuckets returns this shard's objects in the given buckets, sorted by key, and
// resets those leaves to what storage holds (healing drift).
func (c *Core) scanBuckets(want map[bucketID]bool) []bucketEntry {
	var out []bucketEntry
	leaf := map[bucketID]uint64{}
	c.scanOwn(func(key object.Key, obj object.Object, h uint64) {
		b := bucketID{c.view.Ring.RangeOf(h), merkle.Bucket(h)}
		if !want[b] {
			return
		}
		d := object.Digest(obj)
		out = append(out, bucketEntry{key: key, obj: obj, digest: d})
		leaf[b] += merkle.ItemHash(key.Keyspace, key.Key, d)
	})
	for b := range want {
		c.tree(b.rng).SetLeaf(b.bucket, leaf[b])
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].key.Keyspace != out[j].key.Keyspace {
			return out[i].key.Keyspace < out[j].key.Keyspace
		}
		return out[i].key.Key < out[j].key.Key
	})
	return out
}

// syncCompareKeys (initiator): push what the responder lacks or holds differently, and
// pull what it holds that this side lacks or holds differently.
func (c *Core) syncCompareKeys(nowMs int64, m wire.Message) {
	sess, ok := c.sessions[m.ID]
	if !ok {
		return
	}
	in := m.Sync
	want := map[bucketID]bool{}
	for i := range in.Ranges {
		if i < len(in.Nodes) {
			want[bucketID{int(in.Ranges[i]), int(in.Nodes[i])}] = true
		}
	}
	theirs := make(map[object.Key]uint64, len(in.Keys))
	for i, k := range in.Keys {
		if i < len(in.Digests) {
			theirs[k] = in.Digests[i]
		}
	}
	if sess.keyspace != "" {
		for k := range theirs {
			if k.Keyspace != sess.keyspace {
				delete(theirs, k)
			}
		}
	}
	push := &wire.Sync{Step: wire.SyncPush}
	for _, e := range c.scanBuckets(want) {
		if sess.keyspace != "" && e.key.Keyspace != sess.keyspace {
			continue
		}
		d, has := theirs[e.key]
		if has && d == e.digest {
			delete(theirs, e.key)
			continue
		}
		push.Keys = append(push.Keys, e.key)
		push.Objects = append(push.Objects, e.obj)
		if has {
			push.Pull = append(push.Pull, e.key)
			delete(theirs, e.key)
		}
	}
	for _, k := range in.Keys { // theirs alone, in their order
		if _, ok := theirs[k]; ok {
			push.Pull = append(push.Pull, k)
		}
	}
	c.stats.AEKeysRepaired += uint64(len(push.Keys))
	if len(push.Keys) == 0 && len(push.Pull) == 0 {
		c.finishSession(sess)
		return
	}
	c.sendSync(wire.SyncReq, sess.peer, sess.id, push)
}

// syncMerge merges pushed objects; a request's Pull list is answered with this side's
// objects; the initiator's session ends when the answer is merged.
func (c *Core) syncMerge(nowMs int64, m wire.Message) {
	in := m.Sync
	for i, k := range in.Keys {
		if i < len(in.Objects) {
			if c.purgeable(nowMs, in.Objects[i]) {
				// A tombstone past its grace period is taken only by a replica that
				// still holds the key; one that already purged it (or never had it)
				// keeps it purged, or old tombstones would circle among the replicas
				// for ever, each purging its copy after handing it on.
				if local, err := c.load(k); err == nil && local.IsZero() {
					continue
				}
			}
			if _, err := c.apply(k, in.Objects[i]); err != nil {
				c.stats.StorageErrors++
			}
		}
	}
	if m.Type == wire.SyncResp {
		c.stats.AEKeysRepaired += uint64(len(in.Keys))
		if sess, ok := c.sessions[m.ID]; ok {
			c.finishSession(sess)
		}
		return
	}
	out := &wire.Sync{Step: wire.SyncPush}
	for _, k := range in.Pull {
		obj, err := c.load(k)
		if err != nil || obj.IsZero() {
			continue
		}
		out.Keys = append(out.Keys, k)
		out.Objects = append(out.Objects, obj)
	}
	c.sendSync(wire.SyncResp, m.From, m.ID, out)
}

func (c *Core) finishSession(s *syncSession) {
	for _, r := range s.ranges {
		c.lastSync[syncKey{r, s.peer}] = s.started
	}
	c.rangesSynced(s.ranges)
	c.stats.AESessionsFinished++
	delete(c.sessions, s.id)
}

// SyncInProgress reports how many exchanges this core started at or after sinceMs and
// has not finished.
func (c *Core) SyncInProgress(sinceMs int64) int {
	n := 0
	for _, s := range c.sessions {
		if s.started >= sinceMs {
			n++
		}
	}
	return n
}

// refillBudget adds the anti-entropy byte budget accrued since the last tick.
func (c *Core) refillBudget(nowMs int64) {
	if c.budgetAt != 0 && c.cfg.AntiEntropyBytesPerSec > 0 {
		c.aeTokens = min(c.aeTokens+(nowMs-c.budgetAt)*c.cfg.AntiEntropyBytesPerSec/1000, c.cfg.AntiEntropyBytesPerSec)
	}
	c.budgetAt = nowMs
}

// purgeable reports whether obj is a deletion (or expired value) older than the
// tombstone grace period: one that replicas may drop.
func (c *Core) purgeable(nowMs int64, obj object.Object) bool {
	dead, ok := obj.Dead(nowMs)
	return ok && nowMs-dead >= c.cfg.TombstoneGraceMs
}

// purgeTombstones removes tombstones (and values expired longer than the grace
// period) once every other replica of their range has synced with this node since the
// delete, and the grace period has passed.
func (c *Core) purgeTombstones(nowMs int64) {
	if c.view.Ring == nil {
		return
	}
	var purge []bucketEntry
	c.scanOwn(func(key object.Key, obj object.Object, h uint64) {
		dead, ok := obj.Dead(nowMs)
		if ok && c.bug(BugEarlyTombstoneGC) {
			purge = append(purge, bucketEntry{key: key, obj: obj})
			return
		}
		if !ok || nowMs-dead < c.cfg.TombstoneGraceMs {
			return
		}
		r := c.view.Ring.RangeOf(h)
		for _, p := range c.peersOf(r) {
			if c.lastSync[syncKey{r, p}] <= dead {
				return
			}
		}
		purge = append(purge, bucketEntry{key: key, obj: obj})
	})
	for _, e := range purge {
		c.updateTree(e.key, e.obj, object.Object{})
		c.pending[e.key] = object.Object{}
		c.rd.Batch.Objects = append(c.rd.Batch.Objects, record.ObjectWrite{Key: e.key, Purge: true})
		c.stats.TombstonesPurged++
	}
}
