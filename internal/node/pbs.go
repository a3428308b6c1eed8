package node

import (
	"math/rand/v2"
)

// This file is the WARS model of Probabilistically Bounded Staleness (Bailis,
// Venkataraman, Franklin, Hellerstein, Stoica: "Probabilistically Bounded Staleness for
// Practical Partial Quorums", VLDB 2012), simulated by Monte Carlo.
//
// A write is sent to all N replicas; replica i receives it after W_i and its
// acknowledgement reaches the coordinator A_i later. The write commits when W
// acknowledgements have arrived: at the W-th smallest W_i+A_i. A read starts t after
// the commit and is sent to all N replicas; replica i receives it after R_i and its
// answer reaches the coordinator S_i later. The read returns the R first answers, and
// it is consistent (returns the write) if one of those replicas had received the write
// when the read request arrived: W_i <= commit + t + R_i. Chorus's default read asks
// only R replicas (see readPlan); the condition is the same over those R.

// warsDraw draws one trial's latencies of replica i (milliseconds).
type warsDraw func(rng *rand.Rand, i int) (w, a, r, s float64)

// readPlan is which replicas a read asks (core.Config.ReadFanout). With all, it asks
// all N and returns the R first answers (the model of the paper). Otherwise it asks R
// replicas and waits for them: replica first when that is not -1 (the coordinator's
// own copy), then the others in an order that has nothing to do with their latencies
// (the key's preference list), drawn at random per trial.
type readPlan struct {
	all   bool
	first int
}

// predictWARS simulates trials writes, each followed by reads at every t of tMs, and
// returns p[r-1][w-1][ti]: the fraction of trials in which a read at level r, started
// tMs[ti] after a write at level w committed, was consistent. n must be at least 1;
// plan says which replicas the reads ask.
// Every (r, w, t) is evaluated on the same draws, so the curves are monotone in t and
// in r and w, as the true probabilities are.
func predictWARS(n int, draw warsDraw, tMs []float64, trials int, rng *rand.Rand, plan readPlan) [][][]float64 {
	nt := len(tMs)
	// first[w-1][ti][k] counts the trials whose earliest consistent answer was the
	// k-th to arrive, or from the k-th replica asked (k = n: none was).
	first := make([][][]int, n)
	for w := range first {
		first[w] = make([][]int, nt)
		for ti := range first[w] {
			first[w][ti] = make([]int, n+1)
		}
	}
	W, A, R, S := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	commit := make([]float64, n) // sorted W_i+A_i
	order := make([]int, n)      // replicas by arrival of their read answer, or as asked
	for range trials {
		for i := range n {
			W[i], A[i], R[i], S[i] = draw(rng, i)
			commit[i] = W[i] + A[i]
			order[i] = i
		}
		insertionSort(commit, func(x, y float64) bool { return x < y })
		if plan.all {
			insertionSort(order, func(x, y int) bool { return R[x]+S[x] < R[y]+S[y] })
		} else {
			rest := order
			if plan.first >= 0 && plan.first < n {
				order[0], order[plan.first] = plan.first, 0
				rest = order[1:]
			}
			rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		}
		for w := range n {
			for ti, t := range tMs {
				start := commit[w] + t
				k := 0
				for k < n && W[order[k]] > start+R[order[k]] {
					k++
				}
				first[w][ti][k]++
			}
		}
	}
	p := make([][][]float64, n)
	for r := range n {
		p[r] = make([][]float64, n)
		for w := range n {
			p[r][w] = make([]float64, nt)
			for ti := range nt {
				ok := 0
				for k := 0; k <= r; k++ {
					ok += first[w][ti][k]
				}
				if trials > 0 {
					p[r][w][ti] = float64(ok) / float64(trials)
				}
			}
		}
	}
	return p
}

// insertionSort sorts a short slice in place, stably, without allocating.
func insertionSort[T any](s []T, less func(x, y T) bool) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && less(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
