package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/version"
)

// test is one conformance check, run on a fresh engine.
type test struct {
	name string
	fn   func(t *testing.T, e storage.Engine)
}

// Run runs the conformance suite against the engines open returns. open must return a
// new, empty engine each time it is called (typically in t.TempDir()); Run closes it.
func Run(t *testing.T, open func(t *testing.T) storage.Engine) {
	var tests []test
	tests = append(tests, objectTests...)
	tests = append(tests, metaTests...)
	tests = append(tests, hintTests...)
	tests = append(tests, repairTests...)
	tests = append(tests, batchTests...)
	tests = append(tests, concurrencyTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := open(t)
			defer func() {
				if err := e.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, e)
		})
	}
}

// commit commits b and fails the test on error.
func commit(t *testing.T, e storage.Engine, b *record.Batch) {
	t.Helper()
	if err := e.Commit(b); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// put commits one object write.
func put(t *testing.T, e storage.Engine, key object.Key, obj object.Object) {
	t.Helper()
	commit(t, e, &record.Batch{Objects: []record.ObjectWrite{{Key: key, Object: obj}}})
}

// purge commits the removal of key.
func purge(t *testing.T, e storage.Engine, key object.Key) {
	t.Helper()
	commit(t, e, &record.Batch{Objects: []record.ObjectWrite{{Key: key, Purge: true}}})
}

// mustGet returns the object under key and whether it was found, failing on error.
func mustGet(t *testing.T, e storage.Engine, key object.Key) (object.Object, bool) {
	t.Helper()
	obj, found, err := e.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !found && !obj.IsZero() {
		t.Fatalf("Get(%q): not found but returned %s", key, show(obj))
	}
	return obj, found
}

// wantObject checks that key holds want.
func wantObject(t *testing.T, e storage.Engine, key object.Key, want object.Object) {
	t.Helper()
	got, found := mustGet(t, e, key)
	if !found {
		t.Fatalf("Get(%q): not found, want %s", key, show(want))
	}
	if !object.Equal(got, want) {
		t.Fatalf("Get(%q) = %s, want %s", key, show(got), show(want))
	}
}

// wantMissing checks that key holds nothing.
func wantMissing(t *testing.T, e storage.Engine, key object.Key) {
	t.Helper()
	if got, found := mustGet(t, e, key); found {
		t.Fatalf("Get(%q) = %s, want not found", key, show(got))
	}
}

// wantErr checks that err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

// entry is one object seen by a scan.
type entry struct {
	key object.Key
	obj object.Object
}

// scan returns what ScanObjects(ks, start) visits.
func scan(t *testing.T, e storage.Engine, ks, start string) []entry {
	t.Helper()
	var out []entry
	if err := e.ScanObjects(ks, start, func(k object.Key, o object.Object) bool {
		out = append(out, entry{k, o})
		return true
	}); err != nil {
		t.Fatalf("ScanObjects(%q, %q): %v", ks, start, err)
	}
	return out
}

// scanKeys returns the keys ScanObjects(ks, start) visits.
func scanKeys(t *testing.T, e storage.Engine, ks, start string) []string {
	t.Helper()
	var keys []string
	for _, ent := range scan(t, e, ks, start) {
		if ent.key.Keyspace != ks {
			t.Fatalf("ScanObjects(%q) visited %q", ks, ent.key)
		}
		keys = append(keys, ent.key.Key)
	}
	return keys
}

// hints returns what ScanHints(target) visits.
func hints(t *testing.T, e storage.Engine, target string) []record.Hint {
	t.Helper()
	var out []record.Hint
	if err := e.ScanHints(target, func(h record.Hint) bool {
		out = append(out, h)
		return true
	}); err != nil {
		t.Fatalf("ScanHints(%q): %v", target, err)
	}
	return out
}

// repairs returns RecentRepairs(limit).
func repairs(t *testing.T, e storage.Engine, limit int) []record.Repair {
	t.Helper()
	rs, err := e.RecentRepairs(limit)
	if err != nil {
		t.Fatalf("RecentRepairs(%d): %v", limit, err)
	}
	return rs
}

// sameHint reports whether two hints are equal field by field.
func sameHint(a, b record.Hint) bool {
	return a.ID == b.ID && a.Target == b.Target && a.Key == b.Key &&
		a.CreatedAt == b.CreatedAt && a.ExpiresAt == b.ExpiresAt && object.Equal(a.Object, b.Object)
}

// wantHints checks that got holds exactly want, in order.
func wantHints(t *testing.T, what string, got, want []record.Hint) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hints %v, want %d %v", what, len(got), hintIDs(got), len(want), hintIDs(want))
	}
	for i := range got {
		if !sameHint(got[i], want[i]) {
			t.Fatalf("%s: hint %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func hintIDs(hs []record.Hint) []string {
	var out []string
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%s/%d", h.Target, h.ID))
	}
	return out
}

// show renders an object for failure messages.
func show(o object.Object) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{%s ctx=%s", o.Kind, o.Context)
	for _, s := range o.Siblings {
		fmt.Fprintf(&b, " [%q %s:%d ts=%s", s.Value, s.Dot.Actor, s.Dot.Counter, s.Timestamp)
		if s.Tombstone {
			b.WriteString(" tomb")
		}
		if s.ExpiresAt != 0 {
			fmt.Fprintf(&b, " exp=%d", s.ExpiresAt)
		}
		b.WriteString("]")
	}
	b.WriteString("}")
	return b.String()
}

// register returns a one-sibling register written by actor at counter, with value v.
func register(v string, actor string, counter uint64) object.Object {
	dot := version.Dot{Actor: actor, Counter: counter}
	return object.Object{
		Kind: object.KindRegister,
		Siblings: []object.Sibling{{
			Value:     []byte(v),
			Dot:       dot,
			Timestamp: version.MakeTimestamp(1_700_000_000_000+int64(counter), uint16(counter)),
		}},
		Context: version.Vector{dot},
	}
}

// fixtures are objects of every shape the encoding has to carry.
func fixtures() map[string]object.Object {
	ts := version.MakeTimestamp(1_700_000_000_123, 7)
	return map[string]object.Object{
		"register": register("hello", "n1", 1),
		"siblings": {
			Kind: object.KindRegister,
			Siblings: []object.Sibling{
				{Value: []byte("cart:a"), Dot: version.Dot{Actor: "n1", Counter: 3}, Timestamp: ts},
				{Value: []byte("cart:b"), Dot: version.Dot{Actor: "n2", Counter: 5}, Timestamp: ts + 1},
				{Value: []byte("cart:c"), Dot: version.Dot{Actor: "n3", Counter: 1}, Timestamp: ts - 1},
			},
			Context: version.Vector{{Actor: "n1", Counter: 4}, {Actor: "n2", Counter: 5}, {Actor: "n3", Counter: 1}},
		},
		"tombstone": {
			Kind:     object.KindRegister,
			Siblings: []object.Sibling{{Dot: version.Dot{Actor: "n2", Counter: 9}, Timestamp: ts, Tombstone: true}},
			Context:  version.Vector{{Actor: "n1", Counter: 2}, {Actor: "n2", Counter: 9}},
		},
		"expiring": {
			Kind: object.KindRegister,
			Siblings: []object.Sibling{{
				Value: []byte("session"), Dot: version.Dot{Actor: "n1", Counter: 2},
				Timestamp: ts, ExpiresAt: 1_700_000_060_000,
			}},
			Context: version.Vector{{Actor: "n1", Counter: 2}},
		},
		"tombstone+sibling": {
			Kind: object.KindRegister,
			Siblings: []object.Sibling{
				{Dot: version.Dot{Actor: "a", Counter: 1}, Timestamp: ts, Tombstone: true},
				{Value: []byte("still here"), Dot: version.Dot{Actor: "b", Counter: 1}, Timestamp: ts},
			},
			Context: version.Vector{{Actor: "a", Counter: 1}, {Actor: "b", Counter: 1}},
		},
		"counter": {
			Kind:     object.KindCounter,
			Siblings: []object.Sibling{{Value: []byte{0x01, 0x02, 0x00, 0xff}, Dot: version.Dot{Actor: "n1", Counter: 40}, Timestamp: ts}},
			Context:  version.Vector{{Actor: "n1", Counter: 40}},
		},
		"set": {
			Kind:     object.KindSet,
			Siblings: []object.Sibling{{Value: []byte("\x00set\x00"), Dot: version.Dot{Actor: "n3", Counter: 2}, Timestamp: ts}},
			Context:  version.Vector{{Actor: "n3", Counter: 2}},
		},
		"empty value":  register("", "n1", 5),
		"binary value": register("\x00\x01\xfe\xff", "n1", 6),
		"large value":  register(string(bytes.Repeat([]byte("0123456789abcdef"), 64<<10)), "n1", 7),
		"context only": {Kind: object.KindRegister, Context: version.Vector{{Actor: "n1", Counter: 3}}},
	}
}
