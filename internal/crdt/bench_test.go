package crdt

import (
	"fmt"
	"testing"
)

// benchORSets returns two replicas of a set of n elements that have diverged: each
// has added and removed a tenth of the elements since they last synchronised.
func benchORSets(n int) (*ORSet, *ORSet) {
	a := NewORSet()
	for i := range n {
		a.Add(fmt.Sprintf("node-%d", i%3), fmt.Sprintf("element-%06d", i))
	}
	b := a.Clone()
	for i := range n / 10 {
		a.Add("node-0", fmt.Sprintf("new-a-%06d", i))
		a.Remove(fmt.Sprintf("element-%06d", i))
		b.Add("node-1", fmt.Sprintf("new-b-%06d", i))
		b.Remove(fmt.Sprintf("element-%06d", n-1-i))
	}
	return a, b
}

func BenchmarkMerge(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("ORSet/%d", n), func(b *testing.B) {
			x, y := benchORSets(n)
			b.ReportAllocs()
			for b.Loop() {
				x.Join(y)
			}
		})
	}
	for _, actors := range []int{3, 64} {
		b.Run(fmt.Sprintf("PNCounter/%d-actors", actors), func(b *testing.B) {
			x, y := NewPNCounter(), NewPNCounter()
			for i := range actors {
				_ = x.Increment(fmt.Sprintf("node-%d", i), int64(i+1))
				_ = y.Increment(fmt.Sprintf("node-%d", i), -int64(i+2))
			}
			b.ReportAllocs()
			for b.Loop() {
				x.Join(y)
			}
		})
	}
	b.Run("Map/cart-100-items", func(b *testing.B) {
		cartA := NewMap()
		for i := range 100 {
			_ = cartA.Increment("node-0", fmt.Sprintf("item-%03d", i), 1)
		}
		cartB := cartA.Clone()
		for i := range 10 {
			_ = cartA.Increment("node-0", fmt.Sprintf("item-%03d", i), 1)
			_ = cartB.Increment("node-1", fmt.Sprintf("item-%03d", 99-i), 2)
		}
		b.ReportAllocs()
		for b.Loop() {
			cartA.Join(cartB)
		}
	})
}

func BenchmarkCodec(b *testing.B) {
	x, _ := benchORSets(1000)
	enc := Encode(x)
	b.Run("ORSet-1000/Append", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		buf := make([]byte, 0, len(enc))
		for b.Loop() {
			buf = x.Append(buf[:0])
		}
	})
	b.Run("ORSet-1000/Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, err := Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
