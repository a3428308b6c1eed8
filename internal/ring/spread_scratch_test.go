package ring

import (
	"fmt"
	"math"
	"testing"
)

func TestScratchSpread(t *testing.T) {
	worstAll := 0.0
	for _, n := range []int{1, 3} {
		for N := 3; N <= 100; N++ {
			ms := make([]Member, N)
			for i := range ms {
				ms[i] = Member{ID: fmt.Sprintf("node-%d", i)}
			}
			r := New(ms, 128)
			own := r.Ownership(n)
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, v := range own {
				rel := v * float64(N) / float64(min(n, N))
				lo, hi = min(lo, rel), max(hi, rel)
			}
			worst := max(1-lo, hi-1)
			if n == 1 {
				worstAll = max(worstAll, worst)
			}
			if N <= 10 || N%10 == 0 {
				fmt.Printf("n=%d N=%d min=%.3f max=%.3f\n", n, N, lo, hi)
			}
		}
	}
	fmt.Println("worst n=1", worstAll)
}
