package pebble

import (
	"container/list"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// recentShards is how many independently locked parts the recent-objects cache has.
const recentShards = 16

// recentEntryOverhead approximates the memory of one cached entry beyond its key and
// value bytes (map slot, list element, entry), for the cache's byte budget.
const recentEntryOverhead = 160

// recentObjects keeps the encoded form of the objects that recent commits wrote (or
// the fact that they purged them), so that a Get of a key written recently — the
// read-before-write of its next write, or a read soon after — is answered without a
// Pebble lookup. Whenever it answers for a key, it answers what Pebble holds now:
//
//   - Only Commit fills it. Before applying a batch, Commit pins an entry for each key
//     the batch writes (begin); while a key is pinned by any commit in progress, Get
//     of it goes to Pebble, which may already show the batch. After the batch is
//     applied, Commit records what it wrote and unpins the keys (end).
//   - Each recorded write carries its Pebble sequence number, and an entry only ever
//     takes a write with a higher one, so commits of one key that overlap in time
//     leave the latest, as Pebble does. Once the last commit in progress of a key has
//     ended, every write of it is recorded, so the entry holds Pebble's version.
//   - A pinned entry is never evicted. Get never adds entries.
//
// Eviction is least-recently-written first, within a byte budget. It is safe for
// concurrent use.
type recentObjects struct {
	shards [recentShards]recentShard
}

type recentShard struct {
	mu       sync.Mutex
	entries  map[string]*list.Element // of *recentEntry, by Pebble key
	order    list.List                // front: most recently written
	bytes    int64
	maxBytes int64
}

type recentEntry struct {
	key    string
	pinned int    // commits in progress that write the key
	known  bool   // a write is recorded: value (nil: purged) and seq are valid
	seq    uint64 // Pebble sequence number of the recorded write
	value  []byte // the encoded object; nil if the write purged it
}

func (e *recentEntry) size() int64 {
	return int64(len(e.key) + len(e.value) + recentEntryOverhead)
}

// newRecentObjects returns a cache of at most about maxBytes (pinned entries may
// exceed it for a moment), or nil (no cache) if maxBytes is not positive.
func newRecentObjects(maxBytes int64) *recentObjects {
	if maxBytes <= 0 {
		return nil
	}
	r := &recentObjects{}
	for i := range r.shards {
		r.shards[i].entries = make(map[string]*list.Element)
		r.shards[i].maxBytes = max(1, maxBytes/recentShards)
	}
	return r
}

func (r *recentObjects) shard(key []byte) *recentShard {
	return &r.shards[xxhash.Sum64(key)%recentShards]
}

// get returns what the cache knows of the object under Pebble key key: known reports
// that it knows Pebble's current version, found whether that is an object (and value
// its encoding, which the caller must not modify) rather than nothing.
func (r *recentObjects) get(key []byte) (value []byte, found, known bool) {
	s := r.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.entries[string(key)]
	if !ok {
		return nil, false, false
	}
	e := el.Value.(*recentEntry)
	if e.pinned > 0 || !e.known {
		return nil, false, false
	}
	return e.value, e.value != nil, true
}

// begin pins key for a commit about to write it. Every begin is followed by one end.
func (r *recentObjects) begin(key []byte) {
	s := r.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.entries[string(key)]; ok {
		el.Value.(*recentEntry).pinned++
		return
	}
	e := &recentEntry{key: string(key), pinned: 1}
	s.entries[e.key] = s.order.PushFront(e)
	s.bytes += e.size()
}

// end unpins key after its commit. If the commit was applied (applied), it stored
// value under key (nil: purged it) as the write with sequence number seq; value must
// not be modified afterwards.
func (r *recentObjects) end(key []byte, applied bool, seq uint64, value []byte) {
	s := r.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	el := s.entries[string(key)]
	e := el.Value.(*recentEntry)
	e.pinned--
	if applied && (!e.known || e.seq < seq) {
		s.bytes -= e.size()
		e.known, e.seq, e.value = true, seq, value
		s.bytes += e.size()
		s.order.MoveToFront(el)
	}
	if e.pinned == 0 && !e.known {
		s.remove(el)
	}
	s.evict()
}

// evict drops the least recently written unpinned entries until the shard is within
// its budget.
func (s *recentShard) evict() {
	for el := s.order.Back(); el != nil && s.bytes > s.maxBytes; {
		prev := el.Prev()
		if el.Value.(*recentEntry).pinned == 0 {
			s.remove(el)
		}
		el = prev
	}
}

func (s *recentShard) remove(el *list.Element) {
	e := s.order.Remove(el).(*recentEntry)
	delete(s.entries, e.key)
	s.bytes -= e.size()
}
