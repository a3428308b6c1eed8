package ring

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// DefaultVnodes is the number of tokens per member that New uses when given vnodes ≤ 0.
// More tokens spread ownership more evenly (the spread of one member's share shrinks
// as 1/√vnodes) at the cost of memory and of more, smaller anti-entropy ranges.
const DefaultVnodes = 128

// Member is a node that owns tokens on the ring. ID names it and seeds its tokens;
// Zone is its failure domain (rack, availability zone); members with the same Zone,
// including the empty one, share a failure domain.
type Member struct {
	ID, Zone string
}

// Range is the arc of the hash ring between two consecutive tokens: the hashes h with
// Start < h ≤ End, going clockwise. The first range of a ring wraps past zero
// (Start > End). A ring with a single distinct token has one range with Start == End,
// which covers every hash.
type Range struct {
	Start, End uint64
}

// Contains reports whether hash lies in the range.
func (rg Range) Contains(hash uint64) bool {
	if rg.Start < rg.End {
		return rg.Start < hash && hash <= rg.End
	}
	return hash > rg.Start || hash <= rg.End
}

// Ring maps key hashes to members. It is immutable and safe for concurrent use; the
// zero Ring is an empty ring.
type Ring struct {
	members []Member // sorted by ID, ids distinct
	zoneOf  []int32  // zoneOf[m] is the zone index of members[m]
	zones   int      // number of distinct zones
	tokens  []uint64 // ascending; equal tokens ordered by owner id
	owners  []int32  // owners[i] is the member index owning tokens[i]
	ends    []uint64 // distinct token values, ascending: the ends of the ranges
}

// New builds a ring in which each member owns vnodes tokens (DefaultVnodes if vnodes ≤
// 0); token i of member id is xxhash of the string id + "#" + decimal i. The order of
// members does not matter. Of several members with the same ID, the one with the
// smallest Zone is kept, so that the result does not depend on their order either.
func New(members []Member, vnodes int) *Ring {
	return NewWithHash(members, vnodes, nil)
}

// NewWithHash is New with the token hash replaced: token i of member id is
// hash(id + "#" + decimal i). Tests use it to place tokens exactly. A nil hash means
// xxhash.Sum64String, as in New.
func NewWithHash(members []Member, vnodes int, hash func(string) uint64) *Ring {
	if vnodes <= 0 {
		vnodes = DefaultVnodes
	}
	if hash == nil {
		hash = xxhash.Sum64String
	}
	r := &Ring{members: uniqueMembers(members)}
	r.zoneOf, r.zones = zoneIndexes(r.members)
	r.placeTokens(vnodes, hash)
	return r
}

// uniqueMembers returns a sorted copy of members with one member per ID.
func uniqueMembers(members []Member) []Member {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Zone, b.Zone)
	})
	return slices.CompactFunc(ms, func(a, b Member) bool { return a.ID == b.ID })
}

func zoneIndexes(members []Member) (zoneOf []int32, zones int) {
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.Zone
	}
	slices.Sort(names)
	names = slices.Compact(names)
	zoneOf = make([]int32, len(members))
	for i, m := range members {
		z, _ := slices.BinarySearch(names, m.Zone)
		zoneOf[i] = int32(z)
	}
	return zoneOf, len(names)
}

func (r *Ring) placeTokens(vnodes int, hash func(string) uint64) {
	type token struct {
		hash  uint64
		owner int32
	}
	ts := make([]token, 0, len(r.members)*vnodes)
	for m, mem := range r.members {
		for i := 0; i < vnodes; i++ {
			ts = append(ts, token{hash(mem.ID + "#" + strconv.Itoa(i)), int32(m)})
		}
	}
	slices.SortFunc(ts, func(a, b token) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return int(a.owner - b.owner)
	})
	r.tokens = make([]uint64, len(ts))
	r.owners = make([]int32, len(ts))
	for i, t := range ts {
		r.tokens[i] = t.hash
		r.owners[i] = t.owner
	}
	r.ends = slices.Compact(slices.Clone(r.tokens))
}

// KeyHash returns the ring position of a key: xxhash of keyspace + "\x00" + key. It
// does not allocate.
func KeyHash(keyspace, key string) uint64 {
	const stackMax = 128
	if len(keyspace)+1+len(key) <= stackMax {
		var buf [stackMax]byte
		b := append(buf[:0], keyspace...)
		b = append(b, 0)
		b = append(b, key...)
		return xxhash.Sum64(b)
	}
	var d xxhash.Digest
	d.Reset()
	d.WriteString(keyspace)
	d.WriteString("\x00")
	d.WriteString(key)
	return d.Sum64()
}

// Len returns the number of members.
func (r *Ring) Len() int { return len(r.members) }

// Members returns the ring's members sorted by ID. The caller may modify the result.
func (r *Ring) Members() []Member { return slices.Clone(r.members) }

// PreferenceList returns the replicas of the key at hash: the first n distinct members
// clockwise from the first token ≥ hash (wrapping past the largest token), preferring
// members whose zone is not yet in the list. Once every zone is in the list, it fills up
// with the distinct members it passed over, then the next ones, in ring order. The first
// member is the owner of that first token (the key's primary). The list is shorter than
// n only when the ring has fewer than n members.
//
// For a given hash, PreferenceList(hash, n) is a prefix of PreferenceList(hash, n+1).
func (r *Ring) PreferenceList(hash uint64, n int) []string {
	if n <= 0 || len(r.members) == 0 {
		return nil
	}
	return r.AppendPreferenceList(make([]string, 0, min(n, len(r.members))), hash, n)
}

// maxStackList is the longest preference list AppendPreferenceList builds without
// allocating scratch space.
const maxStackList = 16

// AppendPreferenceList appends PreferenceList(hash, n) to dst and returns the extended
// slice. It does not allocate when dst has room and n ≤ 16.
func (r *Ring) AppendPreferenceList(dst []string, hash uint64, n int) []string {
	n = min(n, len(r.members))
	if n <= 0 {
		return dst
	}
	var pickedBuf, skippedBuf [maxStackList]int32
	picked, skipped := pickedBuf[:0], skippedBuf[:0]
	if n > maxStackList {
		picked, skipped = make([]int32, 0, n), make([]int32, 0, n)
	}
	picked = r.walk(picked, skipped, r.search(hash), n)
	for _, m := range picked {
		dst = append(dst, r.members[m].ID)
	}
	return dst
}

// walk visits the tokens clockwise from position start for at most one lap and returns
// the indexes of the first n members of the preference list, appended to picked. Until
// every zone is used, members of used zones are set aside in skipped (the first n of
// them suffice); once every zone is used, the set-aside ones come first, in ring order.
func (r *Ring) walk(picked, skipped []int32, start, n int) []int32 {
	usedZones := 0
	i := start
	for range r.tokens {
		if len(picked) == n {
			break
		}
		m := r.owners[i]
		if i++; i == len(r.tokens) {
			i = 0
		}
		if slices.Contains(picked, m) {
			continue
		}
		if usedZones == r.zones {
			picked = append(picked, m)
			continue
		}
		if r.zoneUsed(picked, m) {
			if len(skipped) < n && !slices.Contains(skipped, m) {
				skipped = append(skipped, m)
			}
			continue
		}
		picked = append(picked, m)
		if usedZones++; usedZones == r.zones {
			picked = append(picked, skipped[:min(len(skipped), n-len(picked))]...)
		}
	}
	return picked
}

func (r *Ring) zoneUsed(picked []int32, m int32) bool {
	z := r.zoneOf[m]
	for _, p := range picked {
		if r.zoneOf[p] == z {
			return true
		}
	}
	return false
}

// search returns the position of the first token ≥ hash, or 0 if there is none.
func (r *Ring) search(hash uint64) int {
	lo, hi := 0, len(r.tokens)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.tokens[mid] < hash {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(r.tokens) {
		return 0
	}
	return lo
}

// Ranges returns the ring's token ranges in token order: range i ends at the i-th
// distinct token and starts (exclusive) at the one before; range 0 wraps past zero. An
// empty ring has no ranges. The caller may modify the result.
func (r *Ring) Ranges() []Range {
	out := make([]Range, len(r.ends))
	for i, end := range r.ends {
		out[i] = Range{Start: r.ends[(i+len(r.ends)-1)%len(r.ends)], End: end}
	}
	return out
}

// RangeOf returns the index in Ranges of the range that contains hash, or -1 for an
// empty ring.
func (r *Ring) RangeOf(hash uint64) int {
	if len(r.ends) == 0 {
		return -1
	}
	i, _ := slices.BinarySearch(r.ends, hash)
	if i == len(r.ends) {
		return 0
	}
	return i
}

// RangePreferenceList returns the preference list of size n shared by every hash in
// range i (an index into Ranges). It panics if i is out of range.
func (r *Ring) RangePreferenceList(i, n int) []string {
	return r.PreferenceList(r.ends[i], n)
}

// Ownership returns, for each member, the fraction of the hash space whose preference
// list of size n includes it, computed exactly over the token ranges. Every member
// appears, possibly with 0. The fractions sum to min(n, Len()).
func (r *Ring) Ownership(n int) map[string]float64 {
	own := make(map[string]float64, len(r.members))
	for _, m := range r.members {
		own[m.ID] = 0
	}
	var list []string
	for i, rg := range r.Ranges() {
		frac := 1.0 // a single range covers the whole ring
		if len(r.ends) > 1 {
			frac = float64(rg.End-rg.Start) / (math.MaxUint64 + 1.0)
		}
		list = r.AppendPreferenceList(list[:0], r.ends[i], n)
		for _, id := range list {
			own[id] += frac
		}
	}
	return own
}
