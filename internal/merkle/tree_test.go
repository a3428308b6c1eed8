package merkle

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

type item struct {
	key    string
	digest uint64
}

func build(items []item) *Tree {
	t := &Tree{}
	for _, it := range items {
		t.Add(Bucket(hashKey(it.key)), ItemHash("ks", it.key, it.digest))
	}
	return t
}

func hashKey(k string) uint64 { return ItemHash("", k, 0) }

func TestOrderIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 200).Draw(t, "n")
		var items []item
		for i := 0; i < n; i++ {
			items = append(items, item{fmt.Sprintf("k%d", i), rapid.Uint64().Draw(t, "d")})
		}
		perm := rapid.Permutation(items).Draw(t, "perm")
		a, b := build(items), build(perm)
		if a.Root() != b.Root() {
			t.Fatalf("same items in another order give another root")
		}
	})
}

func TestUpdateMatchesRebuild(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 100).Draw(t, "n")
		items := make([]item, n)
		for i := range items {
			items[i] = item{fmt.Sprintf("k%d", i), rapid.Uint64().Draw(t, "d")}
		}
		tree := build(items)
		_ = tree.Root()
		// Change some digests in place, remove some keys.
		steps := rapid.IntRange(1, 50).Draw(t, "steps")
		for s := 0; s < steps; s++ {
			i := rapid.IntRange(0, n-1).Draw(t, "i")
			b := Bucket(hashKey(items[i].key))
			old := ItemHash("ks", items[i].key, items[i].digest)
			items[i].digest = rapid.Uint64().Draw(t, "nd")
			tree.Replace(b, old, ItemHash("ks", items[i].key, items[i].digest))
			if s%7 == 0 {
				_ = tree.Root()
			}
		}
		if tree.Root() != build(items).Root() {
			t.Fatal("incremental updates disagree with a rebuild")
		}
	})
}

func TestDiffFindsExactlyTheChangedBuckets(t *testing.T) {
	var items []item
	for i := 0; i < 10000; i++ {
		items = append(items, item{fmt.Sprintf("key-%d", i), uint64(i)})
	}
	a, b := build(items), build(items)
	if a.Root() != b.Root() {
		t.Fatal("equal trees differ")
	}
	changed := map[int]bool{}
	for _, i := range []int{3, 500, 9999} {
		bk := Bucket(hashKey(items[i].key))
		changed[bk] = true
		b.Replace(bk, ItemHash("ks", items[i].key, items[i].digest), ItemHash("ks", items[i].key, 12345))
	}
	if a.Root() == b.Root() {
		t.Fatal("changed trees have equal roots")
	}
	found := map[int]bool{}
	for _, in := range Differing(a.Inner(), b.Inner()) {
		for _, l := range Differing(a.LeavesOf(in), b.LeavesOf(in)) {
			found[in*Fanout+l] = true
		}
	}
	if len(found) != len(changed) {
		t.Fatalf("found buckets %v, changed %v", found, changed)
	}
	for bk := range changed {
		if !found[bk] {
			t.Fatalf("bucket %d changed but not found", bk)
		}
	}
}

func TestRemoveRestoresEmptyRoot(t *testing.T) {
	var empty Tree
	tr := &Tree{}
	tr.Add(7, 42)
	if tr.Root() == empty.Root() {
		t.Fatal("adding an item did not change the root")
	}
	tr.Remove(7, 42)
	if tr.Root() != empty.Root() || tr.Items() != 0 {
		t.Fatal("removing the item did not restore the empty tree")
	}
}

func TestBucketSpreadsARange(t *testing.T) {
	// Keys of one narrow ring range (same high bits) must still spread over buckets.
	seen := map[int]bool{}
	base := uint64(0xABCD) << 48
	for i := uint64(0); i < 4096; i++ {
		seen[Bucket(base|i*0x1_0000_0001)] = true
	}
	if len(seen) < Leaves*3/4 {
		t.Fatalf("a range's keys fall in only %d of %d buckets", len(seen), Leaves)
	}
}

func BenchmarkReplace(b *testing.B) {
	tr := &Tree{}
	for i := 0; i < b.N; i++ {
		bk := i & (Leaves - 1)
		tr.Replace(bk, uint64(i), uint64(i+1))
		if i%64 == 0 {
			_ = tr.Root()
		}
	}
}
