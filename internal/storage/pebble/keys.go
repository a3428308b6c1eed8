package pebble

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/storage"
)

// Key layout. Every Pebble key starts with one byte saying what it holds:
//
//	'o' keyspace 0x00 key       → object.Encode(object)
//	'm' name                    → metadata value
//	'h' target 0x00 id(8, BE)   → appendHint(hint)
//	'i' id(8, BE)               → target (index: delete a hint by id alone)
//	'r' seq(8, BE)              → appendRepair(repair)
//
// Keyspaces and hint targets never contain 0x00 (storage.ValidateBatch), so the first
// 0x00 after the prefix ends them, and because 0x00 is the smallest byte, key order is
// (keyspace, key) and (target, id) order. Keys may contain any byte: a keyspace's
// objects are exactly the keys in ['o' ks 0x00, 'o' ks 0x01). Numbers are big-endian so
// that byte order is numeric order.
const (
	prefixObject    = 'o'
	prefixMeta      = 'm'
	prefixHint      = 'h'
	prefixHintIndex = 'i'
	prefixRepair    = 'r'
)

// objectKey returns the Pebble key of an object.
func objectKey(k object.Key) []byte {
	b := make([]byte, 0, 2+len(k.Keyspace)+len(k.Key))
	b = append(b, prefixObject)
	b = append(b, k.Keyspace...)
	b = append(b, 0)
	return append(b, k.Key...)
}

// keyspaceBounds returns the bounds of keyspace ks's objects with key >= start.
func keyspaceBounds(ks, start string) (lower, upper []byte) {
	lower = objectKey(object.Key{Keyspace: ks, Key: start})
	upper = make([]byte, 0, 2+len(ks))
	upper = append(upper, prefixObject)
	upper = append(upper, ks...)
	return lower, append(upper, 1)
}

// parseObjectKey splits an object's Pebble key.
func parseObjectKey(k []byte) (object.Key, error) {
	if len(k) == 0 || k[0] != prefixObject {
		return object.Key{}, fmt.Errorf("%w: %q is not an object key", storage.ErrCorrupt, k)
	}
	i := bytes.IndexByte(k[1:], 0)
	if i < 0 {
		return object.Key{}, fmt.Errorf("%w: object key %q has no keyspace end", storage.ErrCorrupt, k)
	}
	return object.Key{Keyspace: string(k[1 : 1+i]), Key: string(k[2+i:])}, nil
}

// metaKey returns the Pebble key of a metadata value.
func metaKey(name string) []byte {
	return append([]byte{prefixMeta}, name...)
}

// hintKey returns the Pebble key of a hint.
func hintKey(target string, id uint64) []byte {
	b := make([]byte, 0, 10+len(target))
	b = append(b, prefixHint)
	b = append(b, target...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, id)
}

// hintBounds returns the bounds of target's hints, or of every hint for target "".
func hintBounds(target string) (lower, upper []byte) {
	if target == "" {
		return []byte{prefixHint}, []byte{prefixHint + 1}
	}
	lower = append(append([]byte{prefixHint}, target...), 0)
	upper = append(append([]byte{prefixHint}, target...), 1)
	return lower, upper
}

// parseHintKey splits a hint's Pebble key.
func parseHintKey(k []byte) (target string, id uint64, err error) {
	if len(k) < 10 || k[0] != prefixHint || k[len(k)-9] != 0 {
		return "", 0, fmt.Errorf("%w: %q is not a hint key", storage.ErrCorrupt, k)
	}
	return string(k[1 : len(k)-9]), binary.BigEndian.Uint64(k[len(k)-8:]), nil
}

// hintIndexKey returns the Pebble key of the id → target index entry of a hint.
func hintIndexKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixHintIndex}, id)
}

// repairKey returns the Pebble key of the read-repair log entry with sequence seq.
func repairKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixRepair}, seq)
}

// parseRepairKey returns a repair log key's sequence number.
func parseRepairKey(k []byte) (uint64, error) {
	if len(k) != 9 || k[0] != prefixRepair {
		return 0, fmt.Errorf("%w: %q is not a repair log key", storage.ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// prefixEnd returns the smallest key greater than every key that starts with p, or nil
// (no upper bound) if p is all 0xff bytes.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
