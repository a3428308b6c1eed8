package pebble

import (
	"bytes"
	"errors"
	"math"
	"sort"
	"testing"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
	"github.com/chorusdb/chorus/internal/version"
)

func sampleHints() []record.Hint {
	return []record.Hint{
		{},
		{ID: 1, Target: "n1"},
		{
			ID: math.MaxUint64, Target: "node-\xff", Key: object.Key{Keyspace: "carts", Key: "\x00user\xff"},
			Object: object.Object{
				Kind: object.KindSet,
				Siblings: []object.Sibling{
					{Value: []byte("a"), Dot: version.Dot{Actor: "n1", Counter: 2}, Timestamp: 99, ExpiresAt: -5},
					{Dot: version.Dot{Actor: "n2", Counter: 1}, Timestamp: 100, Tombstone: true},
				},
				Context: version.Vector{{Actor: "n1", Counter: 2}, {Actor: "n2", Counter: 1}},
			},
			CreatedAt: -1, ExpiresAt: math.MaxInt64,
		},
	}
}

func TestHintCodecRoundTrip(t *testing.T) {
	for _, h := range sampleHints() {
		enc := appendHint([]byte("prefix"), h)
		got, err := decodeHint(enc[len("prefix"):])
		if err != nil {
			t.Fatalf("decodeHint(%+v): %v", h, err)
		}
		if got.ID != h.ID || got.Target != h.Target || got.Key != h.Key || got.CreatedAt != h.CreatedAt ||
			got.ExpiresAt != h.ExpiresAt || !object.Equal(got.Object, h.Object) {
			t.Fatalf("round trip: got %+v, want %+v", got, h)
		}
	}
}

func TestRepairCodecRoundTrip(t *testing.T) {
	for _, r := range []record.Repair{
		{},
		{Key: object.Key{Keyspace: "ks", Key: "\x00k\xff"}, StaleNode: "n3", RepairedAt: 1_700_000_000_000},
		{RepairedAt: math.MinInt64},
	} {
		got, err := decodeRepair(appendRepair(nil, r))
		if err != nil || got != r {
			t.Fatalf("round trip of %+v: %+v, %v", r, got, err)
		}
	}
}

// TestCodecTruncated checks that every strict prefix, and a few corruptions, of an
// encoding is rejected with ErrCorrupt and no panic.
func TestCodecTruncated(t *testing.T) {
	hint := appendHint(nil, sampleHints()[2])
	repair := appendRepair(nil, record.Repair{Key: object.Key{Keyspace: "ks", Key: "k"}, StaleNode: "n", RepairedAt: 7})
	for n := range len(hint) {
		if _, err := decodeHint(hint[:n]); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("decodeHint of %d of %d bytes: %v", n, len(hint), err)
		}
	}
	for n := range len(repair) {
		if _, err := decodeRepair(repair[:n]); !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("decodeRepair of %d of %d bytes: %v", n, len(repair), err)
		}
	}
	if _, err := decodeRepair(append(bytes.Clone(repair), 0)); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("decodeRepair with a trailing byte: %v", err)
	}
	bad := bytes.Clone(hint)
	bad[0] = 2
	if _, err := decodeHint(bad); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("decodeHint of an unknown version: %v", err)
	}
	// A declared length far beyond the bytes present.
	huge := []byte{repairFormat, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, err := decodeRepair(huge); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("decodeRepair of a huge length: %v", err)
	}
}

func FuzzDecodeHint(f *testing.F) {
	for _, h := range sampleHints() {
		f.Add(appendHint(nil, h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeHint(data)
		if err != nil {
			if !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
			return
		}
		// What decodes re-encodes to something that decodes the same.
		again, err := decodeHint(appendHint(nil, h))
		if err != nil || again.ID != h.ID || again.Target != h.Target || !object.Equal(again.Object, h.Object) {
			t.Fatalf("re-decode: %+v, %v; want %+v", again, err, h)
		}
	})
}

func FuzzDecodeRepair(f *testing.F) {
	f.Add(appendRepair(nil, record.Repair{Key: object.Key{Keyspace: "ks", Key: "k"}, StaleNode: "n", RepairedAt: 7}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRepair(data)
		if err != nil {
			if !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
			return
		}
		if !bytes.Equal(appendRepair(nil, r), data) {
			// Varints have one canonical form each, so a decodable input re-encodes
			// exactly, except for non-minimal varints, which binary.Uvarint accepts.
			if again, err := decodeRepair(appendRepair(nil, r)); err != nil || again != r {
				t.Fatalf("re-decode: %+v, %v; want %+v", again, err, r)
			}
		}
	})
}

func TestKeyOrder(t *testing.T) {
	// Object keys sort by (keyspace, key), whatever bytes the keys hold.
	keys := []object.Key{
		{Keyspace: "", Key: "\xff"},
		{Keyspace: "a", Key: ""},
		{Keyspace: "a", Key: "\x00"},
		{Keyspace: "a", Key: "\x00\xff"},
		{Keyspace: "a", Key: "\x01"},
		{Keyspace: "a", Key: "\xff\xff"},
		{Keyspace: "a\x01", Key: ""},
		{Keyspace: "ab", Key: "\x00"},
		{Keyspace: "b\xff", Key: "a"},
	}
	enc := make([][]byte, len(keys))
	for i, k := range keys {
		enc[i] = objectKey(k)
		got, err := parseObjectKey(enc[i])
		if err != nil || got != k {
			t.Fatalf("parseObjectKey(objectKey(%q)) = %q, %v", k, got, err)
		}
		lo, hi := keyspaceBounds(k.Keyspace, "")
		if bytes.Compare(enc[i], lo) < 0 || bytes.Compare(enc[i], hi) >= 0 {
			t.Fatalf("%q outside its keyspace bounds", k)
		}
	}
	if !sort.SliceIsSorted(enc, func(i, j int) bool { return bytes.Compare(enc[i], enc[j]) < 0 }) {
		t.Fatal("object keys do not sort by (keyspace, key)")
	}

	// Hint keys sort by (target, id), ids numerically.
	hk := [][]byte{hintKey("a", 5), hintKey("a", 256), hintKey("a", math.MaxUint64), hintKey("a\x01", 0), hintKey("ab", 1)}
	if !sort.SliceIsSorted(hk, func(i, j int) bool { return bytes.Compare(hk[i], hk[j]) < 0 }) {
		t.Fatal("hint keys do not sort by (target, id)")
	}
	target, id, err := parseHintKey(hintKey("node\xff", 1<<40))
	if err != nil || target != "node\xff" || id != 1<<40 {
		t.Fatalf("parseHintKey = %q, %d, %v", target, id, err)
	}
	if seq, err := parseRepairKey(repairKey(12345)); err != nil || seq != 12345 {
		t.Fatalf("parseRepairKey = %d, %v", seq, err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"m", "n"},
		{"mab", "mac"},
		{"ma\xff", "mb"},
		{"m\xff\xff", "n"},
		{"\xff\xff", ""},
	} {
		got := prefixEnd([]byte(c.in))
		if string(got) != c.want || (c.want == "" && got != nil) {
			t.Errorf("prefixEnd(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
