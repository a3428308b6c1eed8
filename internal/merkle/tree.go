package merkle

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// Shape of every tree.
const (
	Fanout = 16
	Leaves = Fanout * Fanout
)

// ItemHash is the hash of one (key, version digest) pair as a leaf sums it. A
// tombstone or an expiry changes the object's digest, so it changes the item too.
func ItemHash(keyspace, key string, digest uint64) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(keyspace)
	d.Write([]byte{0})
	d.WriteString(key)
	var b [9]byte
	binary.LittleEndian.PutUint64(b[1:], digest)
	d.Write(b[:])
	return d.Sum64()
}

// Bucket returns the leaf bucket of a key from its ring hash. Keys of one ring range
// share the hash's high bits, so the bucket is taken from a multiplicative mix of all
// of them.
func Bucket(keyHash uint64) int {
	return int((keyHash * 0x9E3779B97F4A7C15) >> 56)
}

// Tree is the hash tree of one range. The zero Tree is an empty tree, ready to use.
// A Tree is not safe for concurrent use.
type Tree struct {
	leaves [Leaves]uint64
	inner  [Fanout]uint64
	root   uint64
	dirty  [Fanout]bool
	stale  bool // root needs recomputing
	fresh  bool // inner/root have been computed at least once
	items  int
}

// Add adds an item (see ItemHash) to bucket b.
func (t *Tree) Add(b int, item uint64) {
	t.leaves[b] += item
	t.items++
	t.touch(b)
}

// Remove removes an item previously added to bucket b.
func (t *Tree) Remove(b int, item uint64) {
	t.leaves[b] -= item
	t.items--
	t.touch(b)
}

// Replace swaps an item for another in bucket b (a key's new version).
func (t *Tree) Replace(b int, old, item uint64) {
	t.leaves[b] += item - old
	t.touch(b)
}

// Items returns how many items the tree holds.
func (t *Tree) Items() int { return t.items }

func (t *Tree) touch(b int) {
	t.dirty[b/Fanout] = true
	t.stale = true
}

// Root returns the root hash. Two trees holding the same items have the same root.
func (t *Tree) Root() uint64 {
	t.refresh()
	return t.root
}

// Inner returns the 16 inner hashes (the root's children).
func (t *Tree) Inner() [Fanout]uint64 {
	t.refresh()
	return t.inner
}

// LeavesOf returns the 16 leaf hashes under inner node i.
func (t *Tree) LeavesOf(i int) [Fanout]uint64 {
	var out [Fanout]uint64
	copy(out[:], t.leaves[i*Fanout:(i+1)*Fanout])
	return out
}

func (t *Tree) refresh() {
	if !t.fresh {
		for i := range t.dirty {
			t.dirty[i] = true
		}
		t.fresh, t.stale = true, true
	}
	if !t.stale {
		return
	}
	for i, d := range t.dirty {
		if d {
			t.inner[i] = hashChildren(t.leaves[i*Fanout : (i+1)*Fanout])
			t.dirty[i] = false
		}
	}
	t.root = hashChildren(t.inner[:])
	t.stale = false
}

func hashChildren(c []uint64) uint64 {
	var buf [Fanout * 8]byte
	for i, v := range c {
		binary.LittleEndian.PutUint64(buf[i*8:], v)
	}
	return xxhash.Sum64(buf[:len(c)*8])
}

// Differing returns the indices at which two sets of 16 child hashes differ.
func Differing(mine, theirs [Fanout]uint64) []int {
	var out []int
	for i := range mine {
		if mine[i] != theirs[i] {
			out = append(out, i)
		}
	}
	return out
}

// SetLeaf overwrites bucket b's leaf with a value recomputed from storage (the sum of
// its items); anti-entropy uses it to heal a tree that drifted from what is stored.
func (t *Tree) SetLeaf(b int, sum uint64) {
	if t.leaves[b] != sum {
		t.leaves[b] = sum
		t.touch(b)
	}
}
