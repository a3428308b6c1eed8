// Package apitest provides an in-memory api.Backend for tests of the client-facing
// servers: a map from key to object, one replica, last-write-wins, with injectable
// errors and a record of every request it was asked to run.
package apitest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// Backend is a fake api.Backend holding objects in a map. It is safe for concurrent
// use; Do never blocks except on its own mutex.
type Backend struct {
	id string

	mu       sync.Mutex
	objects  map[object.Key]object.Object
	requests []core.Request
	fail     func(core.Request) error
	members  []api.MemberInfo
	rf       int
	counter  uint64
	delay    time.Duration
}

var _ api.Backend = (*Backend)(nil)

// NewBackend returns an empty fake whose node id is nodeID, replication factor 3 and
// member list the local node alone (alive, owning the whole ring).
func NewBackend(nodeID string) *Backend {
	return &Backend{
		id:      nodeID,
		objects: make(map[object.Key]object.Object),
		rf:      3,
		members: []api.MemberInfo{{
			Member:    membership.Member{ID: nodeID, Status: membership.Alive},
			Ownership: 1,
		}},
	}
}

// NodeID returns the id given to NewBackend.
func (b *Backend) NodeID() string { return b.id }

// ReplicationFactor returns the value set by SetCluster (3 by default).
func (b *Backend) ReplicationFactor() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rf
}

// Members returns the members set by SetCluster.
func (b *Backend) Members() []api.MemberInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]api.MemberInfo(nil), b.members...)
}

// SetCluster replaces the member list and replication factor.
func (b *Backend) SetCluster(members []api.MemberInfo, rf int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.members = append([]api.MemberInfo(nil), members...)
	b.rf = rf
}

// SetFailure makes Do answer every later request with fn's error when fn returns one
// (nothing is applied then). A nil fn removes the failure.
func (b *Backend) SetFailure(fn func(core.Request) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = fn
}

// SetDelay makes Do wait d (or until its context is done, replying with a TIMEOUT
// error) before it answers.
func (b *Backend) SetDelay(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delay = d
}

// SetObject stores obj under key as is, e.g. an object with several siblings.
func (b *Backend) SetObject(key object.Key, obj object.Object) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[key] = obj
}

// Object returns what is stored under key.
func (b *Backend) Object(key object.Key) (object.Object, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[key]
	return o, ok
}

// Len returns how many keys hold an object (tombstones included).
func (b *Backend) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.objects)
}

// Requests returns a copy of every request Do received, in order.
func (b *Backend) Requests() []core.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]core.Request(nil), b.requests...)
}

// ResetRequests forgets the recorded requests.
func (b *Backend) ResetRequests() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests = nil
}

// Do records req and applies it to the map: a put replaces the object with one sibling,
// a delete with a tombstone, a get returns the stored object. The stored value is a
// copy, so a caller that reuses req.Value's buffer is caught by the tests that read it
// back.
func (b *Backend) Do(ctx context.Context, req core.Request) core.Reply {
	b.mu.Lock()
	req.Value = bytes.Clone(req.Value)
	b.requests = append(b.requests, req)
	delay, fail := b.delay, b.fail
	b.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return core.Reply{ID: req.ID, Err: fmt.Errorf("%w %v", core.ErrTimeout, ctx.Err())}
		}
	}
	if err := ctx.Err(); err != nil {
		return core.Reply{ID: req.ID, Err: fmt.Errorf("%w %v", core.ErrTimeout, err)}
	}
	if fail != nil {
		if err := fail(req); err != nil {
			return core.Reply{ID: req.ID, Err: err}
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	nowMs := time.Now().UnixMilli()
	old := b.objects[req.Key]
	winner, ok := old.Winner()
	live := ok && winner.Live(nowMs)
	switch req.Op {
	case core.OpGet:
		rep := core.Reply{ID: req.ID, Obj: old, Acks: 1}
		if live {
			rep.Found, rep.Value = true, winner.Value
		}
		return rep
	case core.OpPut, core.OpDelete:
		b.counter++
		s := object.Sibling{
			Dot:       version.Dot{Actor: b.id, Counter: b.counter},
			Timestamp: version.MakeTimestamp(nowMs, uint16(b.counter)),
			Tombstone: req.Op == core.OpDelete,
			Value:     req.Value,
		}
		if req.TTLMs > 0 {
			s.ExpiresAt = nowMs + req.TTLMs
		}
		obj := object.Object{Kind: old.Kind, Siblings: []object.Sibling{s}, Context: old.Context.Add(s.Dot)}
		b.objects[req.Key] = obj
		return core.Reply{ID: req.ID, Found: req.Op == core.OpDelete && live, Obj: obj, Acks: 1}
	}
	return core.Reply{ID: req.ID, Err: fmt.Errorf("%w unknown operation %d", core.ErrBadRequest, req.Op)}
}
