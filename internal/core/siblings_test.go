package core_test

import (
	"errors"
	"testing"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// do submits one request through node and delivers everything until it is answered.
func (h *harness) do(node string, req core.Request) core.Reply {
	h.t.Helper()
	h.nextReq++
	req.ID = h.nextReq
	var got *core.Reply
	h.cores[node].Submit(h.nowOf(node), req)
	for round := 0; round < 100 && got == nil; round++ {
		got = h.collect(node, req.ID)
		inbox := h.inbox
		h.inbox = nil
		for _, m := range inbox {
			h.cores[m.To].Receive(h.nowOf(m.To), m)
			if r := h.collect(m.To, req.ID); r != nil && m.To == node {
				got = r
			}
		}
	}
	if got == nil {
		h.t.Fatalf("no reply to %+v", req)
	}
	return *got
}

// collect flushes a node and returns its reply to request id, if it gave one.
func (h *harness) collect(node string, id uint64) *core.Reply {
	var found *core.Reply
	for _, r := range h.cores[node].Ready().Replies {
		if r.ID == id {
			r := r
			found = &r
		}
	}
	h.flush(node)
	return found
}

// TestSiblingsBoundedByWriters is Riak's sibling explosion: two clients each loop
// read → write-with-context through different coordinators, interleaved so that
// each write is concurrent with the other client's last one. With dotted version
// vectors the key never holds more siblings than there are writers; retries of one
// value add none.
func TestSiblingsBoundedByWriters(t *testing.T) {
	h := newHarness(t, []string{"a", "b", "c"}, 3)
	for _, c := range h.cores {
		c.SetKeyspaces(map[string]core.KeyspaceSettings{"default": {Resolution: core.ResolutionSiblings}})
	}
	key := object.Key{Keyspace: "default", Key: "cart"}
	read := func(node string) version.Vector {
		r := h.do(node, core.Request{Op: core.OpGet, Key: key, Level: core.All})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if n := len(r.Obj.Live(h.now)); n > 2 {
			t.Fatalf("read through %s found %d siblings with 2 writers", node, n)
		}
		return r.Obj.FullContext()
	}
	ctxA, ctxB := read("a"), read("b")
	for i := range 50 {
		h.now += 10
		for _, w := range []struct {
			node string
			ctx  *version.Vector
		}{{"a", &ctxA}, {"b", &ctxB}} {
			r := h.do(w.node, core.Request{Op: core.OpPut, Key: key, Level: core.Quorum, Context: *w.ctx, Value: []byte{byte('a' + i%26)}})
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			*w.ctx = read(w.node)
		}
		// A client retrying its write (same value, same stale context) adds nothing.
		for range 3 {
			if r := h.do("c", core.Request{Op: core.OpPut, Key: key, Level: core.Quorum, Value: []byte("retry")}); r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		r := h.do("c", core.Request{Op: core.OpGet, Key: key, Level: core.All})
		if n := len(r.Obj.Live(h.now)); n > 3 {
			t.Fatalf("round %d: %d siblings with 2 writers and one retrying client", i, n)
		}
		if r := h.do("c", core.Request{Op: core.OpDelete, Key: key, Level: core.All, Context: r.Obj.FullContext()}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
}

func TestMadeUpContextRefused(t *testing.T) {
	h := newHarness(t, []string{"a", "b", "c"}, 3)
	for _, c := range h.cores {
		c.SetKeyspaces(map[string]core.KeyspaceSettings{"default": {Resolution: core.ResolutionSiblings}})
	}
	future := version.Vector{{Actor: "a", Counter: uint64(version.MakeTimestamp(h.now+3_600_000, 0))}}
	r := h.do("a", core.Request{Op: core.OpPut, Key: object.Key{Keyspace: "default", Key: "k"}, Value: []byte("v"), Context: future})
	if !errors.Is(r.Err, core.ErrBadRequest) {
		t.Fatalf("a context an hour ahead: err = %v, want ErrBadRequest", r.Err)
	}
	if len(h.stores["a"]) != 0 {
		t.Fatal("a refused write stored something")
	}
}
