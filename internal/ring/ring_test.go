package ring

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
	"pgregory.net/rapid"
)

// tokenHash returns a token hash that places tokens exactly as the table says and fails
// the test on a token the table does not name.
func tokenHash(t *testing.T, table map[string]uint64) func(string) uint64 {
	return func(s string) uint64 {
		h, ok := table[s]
		if !ok {
			t.Fatalf("token %q not in the table", s)
		}
		return h
	}
}

// Ring order of the fixture: 10 A, 20 B, 30 C, 40 D, 50 A, 60 B, 70 C, 80 D.
var fixtureTokens = map[string]uint64{
	"A#0": 10, "A#1": 50,
	"B#0": 20, "B#1": 60,
	"C#0": 30, "C#1": 70,
	"D#0": 40, "D#1": 80,
}

func TestPreferenceList(t *testing.T) {
	noZones := []Member{{ID: "A"}, {ID: "B"}, {ID: "C"}, {ID: "D"}}
	threeZones := []Member{{"A", "z1"}, {"B", "z1"}, {"C", "z2"}, {"D", "z3"}}
	twoZones := []Member{{"A", "z1"}, {"B", "z1"}, {"C", "z1"}, {"D", "z2"}}
	tests := []struct {
		name    string
		members []Member
		hash    uint64
		n       int
		want    []string
	}{
		{"before first token", noZones, 0, 3, []string{"A", "B", "C"}},
		{"on a token", noZones, 10, 3, []string{"A", "B", "C"}},
		{"between tokens", noZones, 15, 3, []string{"B", "C", "D"}},
		{"wraps past the last token", noZones, 75, 3, []string{"D", "A", "B"}},
		{"after last token", noZones, 81, 3, []string{"A", "B", "C"}},
		{"max hash", noZones, math.MaxUint64, 2, []string{"A", "B"}},
		{"n=1 is the primary", noZones, 41, 1, []string{"A"}},
		{"n equal to members", noZones, 55, 4, []string{"B", "C", "D", "A"}},
		{"more n than members", noZones, 55, 7, []string{"B", "C", "D", "A"}},
		{"n=0", noZones, 55, 0, nil},
		{"zones skip a used zone", threeZones, 5, 3, []string{"A", "C", "D"}},
		{"zones then the skipped member", threeZones, 5, 4, []string{"A", "C", "D", "B"}},
		{"zones from second token", threeZones, 15, 3, []string{"B", "C", "D"}},
		{"zones from second lap", threeZones, 45, 3, []string{"A", "C", "D"}},
		{"zones wrap", threeZones, 65, 3, []string{"C", "D", "A"}},
		{"two zones fill in ring order", twoZones, 5, 3, []string{"A", "D", "B"}},
		{"two zones n=2", twoZones, 5, 2, []string{"A", "D"}},
		{"two zones all", twoZones, 5, 4, []string{"A", "D", "B", "C"}},
		{"two zones starting on the lone zone", twoZones, 35, 3, []string{"D", "A", "B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewWithHash(tt.members, 2, tokenHash(t, fixtureTokens))
			if got := r.PreferenceList(tt.hash, tt.n); !slices.Equal(got, tt.want) {
				t.Errorf("PreferenceList(%d, %d) = %v, want %v", tt.hash, tt.n, got, tt.want)
			}
			prefix := []string{"prefix"}
			got := r.AppendPreferenceList(prefix, tt.hash, tt.n)
			if !slices.Equal(got, append([]string{"prefix"}, tt.want...)) {
				t.Errorf("AppendPreferenceList(%d, %d) = %v, want prefix + %v", tt.hash, tt.n, got, tt.want)
			}
		})
	}
}

func TestTokenCollision(t *testing.T) {
	// Equal tokens are ordered by member id, whatever the input order.
	table := map[string]uint64{"A#0": 10, "B#0": 10, "C#0": 5}
	for _, ms := range [][]Member{
		{{ID: "A"}, {ID: "B"}, {ID: "C"}},
		{{ID: "C"}, {ID: "B"}, {ID: "A"}},
	} {
		r := NewWithHash(ms, 1, tokenHash(t, table))
		if got, want := r.PreferenceList(6, 3), []string{"A", "B", "C"}; !slices.Equal(got, want) {
			t.Errorf("PreferenceList(6, 3) = %v, want %v", got, want)
		}
		if got, want := r.Ranges(), []Range{{10, 5}, {5, 10}}; !slices.Equal(got, want) {
			t.Errorf("Ranges() = %v, want %v", got, want)
		}
	}
}

func TestEmptyRing(t *testing.T) {
	for _, r := range []*Ring{New(nil, 0), {}} {
		if got := r.PreferenceList(1, 3); got != nil {
			t.Errorf("PreferenceList = %v, want nil", got)
		}
		if got := r.AppendPreferenceList(nil, 1, 3); got != nil {
			t.Errorf("AppendPreferenceList = %v, want nil", got)
		}
		if r.Len() != 0 || len(r.Members()) != 0 || len(r.Ranges()) != 0 || len(r.Ownership(3)) != 0 {
			t.Errorf("empty ring: Len %d, Members %v, Ranges %v, Ownership %v",
				r.Len(), r.Members(), r.Ranges(), r.Ownership(3))
		}
		if got := r.RangeOf(1); got != -1 {
			t.Errorf("RangeOf = %d, want -1", got)
		}
	}
}

func TestFewerMembersThanN(t *testing.T) {
	r := New([]Member{{ID: "a", Zone: "z"}, {ID: "b", Zone: "z"}}, 0)
	for h := uint64(0); h < 1000; h++ {
		got := r.PreferenceList(xxhash.Sum64String(fmt.Sprint(h)), 3)
		if len(got) != 2 || got[0] == got[1] {
			t.Fatalf("PreferenceList = %v, want both members", got)
		}
	}
}

func TestRanges(t *testing.T) {
	r := NewWithHash([]Member{{ID: "A"}, {ID: "B"}, {ID: "C"}}, 1,
		tokenHash(t, map[string]uint64{"A#0": 10, "B#0": 20, "C#0": 30}))
	want := []Range{{30, 10}, {10, 20}, {20, 30}}
	if got := r.Ranges(); !slices.Equal(got, want) {
		t.Fatalf("Ranges() = %v, want %v", got, want)
	}
	for _, tt := range []struct {
		hash uint64
		want int
	}{{0, 0}, {10, 0}, {11, 1}, {20, 1}, {29, 2}, {30, 2}, {31, 0}, {math.MaxUint64, 0}} {
		if got := r.RangeOf(tt.hash); got != tt.want {
			t.Errorf("RangeOf(%d) = %d, want %d", tt.hash, got, tt.want)
		}
		for i, rg := range want {
			if rg.Contains(tt.hash) != (i == tt.want) {
				t.Errorf("%v.Contains(%d) = %v", rg, tt.hash, rg.Contains(tt.hash))
			}
		}
	}
	if got, want := r.RangePreferenceList(0, 2), []string{"A", "B"}; !slices.Equal(got, want) {
		t.Errorf("RangePreferenceList(0, 2) = %v, want %v", got, want)
	}
	if got, want := r.RangePreferenceList(2, 2), []string{"C", "A"}; !slices.Equal(got, want) {
		t.Errorf("RangePreferenceList(2, 2) = %v, want %v", got, want)
	}
}

func TestSingleTokenRange(t *testing.T) {
	r := NewWithHash([]Member{{ID: "A"}}, 1, tokenHash(t, map[string]uint64{"A#0": 7}))
	rg := r.Ranges()
	if len(rg) != 1 || rg[0] != (Range{7, 7}) {
		t.Fatalf("Ranges() = %v, want [{7 7}]", rg)
	}
	for _, h := range []uint64{0, 6, 7, 8, math.MaxUint64} {
		if !rg[0].Contains(h) || r.RangeOf(h) != 0 {
			t.Errorf("hash %d: Contains %v, RangeOf %d", h, rg[0].Contains(h), r.RangeOf(h))
		}
	}
	if got := r.Ownership(3); got["A"] != 1 {
		t.Errorf("Ownership(3) = %v, want A: 1", got)
	}
}

func TestDeterminism(t *testing.T) {
	ms := []Member{{"n1", "a"}, {"n2", "b"}, {"n3", "c"}, {"n4", "a"}, {"n5", "b"}, {"n2", "a"}}
	want := New(ms, 16)
	if got := want.Members(); !slices.Equal(got, []Member{{"n1", "a"}, {"n2", "a"}, {"n3", "c"}, {"n4", "a"}, {"n5", "b"}}) {
		t.Fatalf("Members() = %v: want sorted, duplicate n2 keeping the smallest zone", got)
	}
	rapid.Check(t, func(t *rapid.T) {
		perm := rapid.Permutation(ms).Draw(t, "members")
		if got := New(perm, 16); !reflect.DeepEqual(got, want) {
			t.Fatalf("ring of %v differs from ring of %v", perm, ms)
		}
	})
}

func TestTokensDerivedFromID(t *testing.T) {
	r := New([]Member{{ID: "n1"}}, 3)
	want := []uint64{
		xxhash.Sum64String("n1#0"), xxhash.Sum64String("n1#1"), xxhash.Sum64String("n1#2"),
	}
	slices.Sort(want)
	if !slices.Equal(r.tokens, want) {
		t.Errorf("tokens = %v, want %v", r.tokens, want)
	}
	if got := New([]Member{{ID: "n1"}}, 0); len(got.tokens) != DefaultVnodes {
		t.Errorf("vnodes 0 made %d tokens, want %d", len(got.tokens), DefaultVnodes)
	}
}

func TestKeyHash(t *testing.T) {
	long := string(make([]byte, 300))
	for _, tt := range [][2]string{{"", ""}, {"users", "alice"}, {"ks", long}, {long, "k"}, {long, long}} {
		if got, want := KeyHash(tt[0], tt[1]), xxhash.Sum64String(tt[0]+"\x00"+tt[1]); got != want {
			t.Errorf("KeyHash(%d bytes, %d bytes) = %x, want %x", len(tt[0]), len(tt[1]), got, want)
		}
	}
	if KeyHash("a", "bc") == KeyHash("ab", "c") {
		t.Error("the separator does not separate keyspace from key")
	}
}

func TestNoAllocations(t *testing.T) {
	r := New(members(10, 3), DefaultVnodes)
	dst := make([]string, 0, 5)
	long := string(make([]byte, 300))
	allocs := testing.AllocsPerRun(100, func() {
		h := KeyHash("users", "alice") ^ KeyHash("users", long)
		dst = r.AppendPreferenceList(dst[:0], h, 5)
	})
	if allocs != 0 {
		t.Errorf("KeyHash + AppendPreferenceList made %v allocations, want 0", allocs)
	}
}

// members returns n members named node-0… spread round-robin over the given number
// of zones.
func members(n, zones int) []Member {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = Member{ID: fmt.Sprintf("node-%d", i), Zone: fmt.Sprintf("zone-%d", i%zones)}
	}
	return ms
}

// sampleHashes returns n well-spread key hashes, the same on every run.
func sampleHashes(n int) []uint64 {
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = KeyHash("sample", fmt.Sprint(i))
	}
	return hs
}

// TestOwnershipBalance checks how evenly 128 tokens per member spread the primary
// ownership. Measured with members node-0…node-(N-1): the largest deviation of one
// member's share from 1/N is 18.7% for N ≤ 10 and 26.9% for N ≤ 100 (relative standard
// deviation ≈ 1/√128 ≈ 9%, and the extreme of N members grows with N).
func TestOwnershipBalance(t *testing.T) {
	worst := map[bool]float64{}
	for n := 3; n <= 100; n++ {
		r := New(members(n, 1), DefaultVnodes)
		own := r.Ownership(1)
		sum := 0.0
		for id, o := range own {
			sum += o
			dev := math.Abs(o*float64(n) - 1)
			worst[n <= 10] = max(worst[n <= 10], dev)
			bound := 0.30
			if n <= 10 {
				bound = 0.25
			}
			if dev > bound {
				t.Errorf("N=%d: %s owns %.4f, more than %.0f%% off 1/N = %.4f", n, id, o, bound*100, 1/float64(n))
			}
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("N=%d: ownership sums to %v, want 1", n, sum)
		}
	}
	t.Logf("largest deviation from 1/N: %.1f%% for N ≤ 10, %.1f%% for 10 < N ≤ 100",
		worst[true]*100, worst[false]*100)
}

func TestOwnershipSums(t *testing.T) {
	for _, tt := range []struct{ members, zones, n int }{
		{1, 1, 3}, {2, 1, 3}, {3, 3, 3}, {5, 2, 3}, {9, 3, 3}, {20, 4, 5}, {20, 1, 1},
	} {
		r := New(members(tt.members, tt.zones), 32)
		sum := 0.0
		for _, o := range r.Ownership(tt.n) {
			sum += o
		}
		if want := float64(min(tt.n, tt.members)); math.Abs(sum-want) > 1e-9 {
			t.Errorf("%+v: ownership sums to %v, want %v", tt, sum, want)
		}
	}
}

func TestOwnershipMatchesSampling(t *testing.T) {
	r := New(members(7, 3), 16)
	hs := sampleHashes(100_000)
	count := map[string]int{}
	for _, h := range hs {
		for _, id := range r.PreferenceList(h, 3) {
			count[id]++
		}
	}
	for id, o := range r.Ownership(3) {
		if got := float64(count[id]) / float64(len(hs)); math.Abs(got-o) > 0.01 {
			t.Errorf("%s: in %.4f of sampled lists, Ownership says %.4f", id, got, o)
		}
	}
}

// TestJoinMovesOnlyWhatTheNewMemberTakes adds one member to rings of N and checks that
// a key's primary changes only to the new member, for about 1/(N+1) of the keys (exactly
// the new member's ownership, up to sampling error), and that a key's replica set
// changes only if the new member joins it.
func TestJoinMovesOnlyWhatTheNewMemberTakes(t *testing.T) {
	hs := sampleHashes(100_000)
	for _, tt := range []struct{ n, zones int }{{3, 1}, {5, 1}, {9, 3}, {10, 1}, {20, 4}, {50, 1}} {
		ms := members(tt.n+1, tt.zones)
		newcomer := ms[tt.n].ID
		before, after := New(ms[:tt.n], DefaultVnodes), New(ms, DefaultVnodes)
		moved := 0
		var lb, la []string
		for _, h := range hs {
			lb, la = before.AppendPreferenceList(lb[:0], h, 3), after.AppendPreferenceList(la[:0], h, 3)
			if lb[0] != la[0] {
				moved++
				if la[0] != newcomer {
					t.Fatalf("N=%d: primary of %x moved from %s to %s, not to the newcomer", tt.n, h, lb[0], la[0])
				}
			}
			if !slices.Equal(lb, la) && !slices.Contains(la, newcomer) {
				t.Fatalf("N=%d: replicas of %x changed from %v to %v without the newcomer", tt.n, h, lb, la)
			}
		}
		frac := float64(moved) / float64(len(hs))
		if own := after.Ownership(1)[newcomer]; math.Abs(frac-own) > 0.005 {
			t.Errorf("N=%d: %.4f of keys moved, newcomer owns %.4f", tt.n, frac, own)
		}
		if ideal := 1 / float64(tt.n+1); math.Abs(frac-ideal) > 0.30*ideal {
			t.Errorf("N=%d: %.4f of keys moved, want about 1/(N+1) = %.4f", tt.n, frac, ideal)
		}
	}
}

func TestZonesAlwaysDistinct(t *testing.T) {
	r := New(members(9, 3), DefaultVnodes)
	zone := map[string]string{}
	for _, m := range r.Members() {
		zone[m.ID] = m.Zone
	}
	for _, h := range sampleHashes(20_000) {
		list := r.PreferenceList(h, 3)
		if zs := []string{zone[list[0]], zone[list[1]], zone[list[2]]}; zs[0] == zs[1] || zs[1] == zs[2] || zs[0] == zs[2] {
			t.Fatalf("PreferenceList(%x, 3) = %v in zones %v", h, list, zs)
		}
	}
}

// referencePreferenceList is the preference list as specified, computed the slow way:
// the distinct members in ring order from hash; first, in that order, the first member
// met of each zone; then the rest in that order.
func referencePreferenceList(r *Ring, hash uint64, n int) []string {
	var order []int32
	start := r.search(hash)
	for k := range r.tokens {
		m := r.owners[(start+k)%len(r.tokens)]
		if !slices.Contains(order, m) {
			order = append(order, m)
		}
	}
	var first, rest []string
	zones := map[string]bool{}
	for _, m := range order {
		if mem := r.members[m]; !zones[mem.Zone] {
			zones[mem.Zone] = true
			first = append(first, mem.ID)
		} else {
			rest = append(rest, mem.ID)
		}
	}
	list := append(first, rest...)
	return list[:min(n, len(list))]
}

func TestPreferenceListProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ms := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Member {
			return Member{
				ID:   rapid.StringMatching(`[a-h]{1,2}`).Draw(t, "id"),
				Zone: rapid.StringMatching(`z[0-3]?`).Draw(t, "zone"),
			}
		}), 0, 12).Draw(t, "members")
		vnodes := rapid.IntRange(1, 8).Draw(t, "vnodes")
		var hash func(string) uint64 // nil: xxhash
		if rapid.Bool().Draw(t, "crowded") {
			// Few token values, so that tokens collide.
			hash = func(s string) uint64 { return xxhash.Sum64String(s) % 8 }
		}
		r := NewWithHash(ms, vnodes, hash)
		h := rapid.Uint64().Draw(t, "hash")
		if hash != nil {
			h %= 10
		}
		n := rapid.IntRange(0, 14).Draw(t, "n")

		list := r.PreferenceList(h, n)
		if want := min(n, r.Len()); len(list) != want {
			t.Fatalf("len(PreferenceList) = %d, want %d: %v", len(list), want, list)
		}
		zone := map[string]string{}
		zones := map[string]bool{}
		for _, m := range r.Members() {
			zone[m.ID] = m.Zone
			zones[m.Zone] = true
		}
		seen, seenZones := map[string]bool{}, map[string]bool{}
		for _, id := range list {
			if seen[id] {
				t.Fatalf("%s twice in %v", id, list)
			}
			seen[id] = true
			seenZones[zone[id]] = true
		}
		if want := min(n, len(zones)); len(seenZones) != want {
			t.Fatalf("%v spans %d zones, want %d", list, len(seenZones), want)
		}
		if want := referencePreferenceList(r, h, n); !slices.Equal(list, want) {
			t.Fatalf("PreferenceList(%d, %d) = %v, reference says %v", h, n, list, want)
		}
		if longer := r.PreferenceList(h, n+1); len(list) > 0 && !slices.Equal(longer[:len(list)], list) {
			t.Fatalf("PreferenceList(n=%d) = %v is not a prefix of PreferenceList(n+1) = %v", n, list, longer)
		}
		if r.Len() > 0 {
			i := r.RangeOf(h)
			ranges := r.Ranges()
			if !ranges[i].Contains(h) {
				t.Fatalf("RangeOf(%d) = %d, but %v does not contain it", h, i, ranges[i])
			}
			for j, rg := range ranges {
				if j != i && rg.Contains(h) {
					t.Fatalf("ranges %d and %d both contain %d", i, j, h)
				}
			}
			if got := r.RangePreferenceList(i, n); !slices.Equal(got, list) {
				t.Fatalf("RangePreferenceList(%d, %d) = %v, PreferenceList = %v", i, n, got, list)
			}
		}
	})
}

func BenchmarkKeyHash(b *testing.B) {
	for _, size := range []int{16, 1000} {
		key := string(make([]byte, size))
		b.Run(fmt.Sprintf("key=%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				KeyHash("users", key)
			}
		})
	}
}

func BenchmarkAppendPreferenceList(b *testing.B) {
	for _, tt := range []struct{ members, zones, n int }{{5, 1, 3}, {10, 3, 3}, {100, 1, 3}, {100, 3, 3}, {100, 4, 5}} {
		r := New(members(tt.members, tt.zones), DefaultVnodes)
		hs := sampleHashes(1024)
		dst := make([]string, 0, tt.n)
		b.Run(fmt.Sprintf("members=%d/zones=%d/n=%d", tt.members, tt.zones, tt.n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				dst = r.AppendPreferenceList(dst[:0], hs[i&1023], tt.n)
				i++
			}
		})
	}
}

func BenchmarkPreferenceList(b *testing.B) {
	r := New(members(10, 3), DefaultVnodes)
	hs := sampleHashes(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.PreferenceList(hs[i&1023], 3)
		i++
	}
}

func BenchmarkNew(b *testing.B) {
	ms := members(100, 3)
	b.ReportAllocs()
	for b.Loop() {
		New(ms, DefaultVnodes)
	}
}
