package crdt

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// history is an oracle that knows nothing of dots or contexts: it records every
// operation as an event together with its causal past (the events its replica had
// seen), and each replica's causal history. The semantics of each type is then
// stated directly over histories and compared with the implementation.
type history struct {
	events []event
	seen   []uint64 // per replica: bitset of the events it has seen
}

type event struct {
	replica int
	kind    string // "add", "rm", "inc", "rmkey", "set", "clear"
	key     string
	elem    string
	delta   int64
	carried int64  // inc in a map: the actor's running total after it
	past    uint64 // events seen by the replica before this one
}

const maxEvents = 64

func newHistory(replicas int) *history { return &history{seen: make([]uint64, replicas)} }

func (h *history) record(e event) {
	id := len(h.events)
	e.past = h.seen[e.replica]
	h.events = append(h.events, e)
	h.seen[e.replica] |= 1 << id
}

func (h *history) deliver(to, from int) { h.seen[to] |= h.seen[from] }

func (h *history) full(t *rapid.T) bool { return len(h.events) >= maxEvents }

// each calls fn for the events in the set seen.
func (h *history) each(seen uint64, fn func(id int, e event)) {
	for id, e := range h.events {
		if seen&(1<<id) != 0 {
			fn(id, e)
		}
	}
}

// observed reports whether event id is in the causal past of an event of H that
// matches.
func (h *history) observed(seen uint64, id int, match func(event) bool) bool {
	found := false
	h.each(seen, func(_ int, e event) {
		if !found && match(e) && e.past&(1<<id) != 0 {
			found = true
		}
	})
	return found
}

// orsetElements: e is present iff some add(e) has not been observed by a remove(e).
func (h *history) orsetElements(seen uint64) []string {
	var out []string
	h.each(seen, func(id int, e event) {
		if e.kind == "add" && !slices.Contains(out, e.elem) &&
			!h.observed(seen, id, func(r event) bool { return r.kind == "rm" && r.elem == e.elem }) {
			out = append(out, e.elem)
		}
	})
	slices.Sort(out)
	return out
}

func TestORSetMatchesCausalOracle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := newHistory(len(actors))
		rs := []*ORSet{NewORSet(), NewORSet(), NewORSet()}
		for !h.full(t) && rapid.IntRange(0, 20).Draw(t, "more") > 0 {
			i := rapid.IntRange(0, len(rs)-1).Draw(t, "replica")
			e := rapid.SampledFrom(elems).Draw(t, "elem")
			switch rapid.IntRange(0, 2).Draw(t, "what") {
			case 0:
				rs[i].Add(actors[i], e)
				h.record(event{replica: i, kind: "add", elem: e})
			case 1:
				rs[i].Remove(e)
				h.record(event{replica: i, kind: "rm", elem: e})
			case 2:
				j := rapid.IntRange(0, len(rs)-1).Draw(t, "from")
				rs[i] = rs[i].Join(rs[j])
				h.deliver(i, j)
			}
			for k, r := range rs {
				if got, want := r.Elements(), h.orsetElements(h.seen[k]); !slices.Equal(got, want) {
					t.Fatalf("replica %d holds %q, the oracle says %q", k, got, want)
				}
			}
		}
	})
}

// mvValues: a write is current iff no write or clear has observed it.
func (h *history) mvValues(seen uint64) []string {
	var out []string
	h.each(seen, func(id int, e event) {
		if e.kind == "set" && !slices.Contains(out, e.elem) &&
			!h.observed(seen, id, func(w event) bool { return w.kind == "set" || w.kind == "clear" }) {
			out = append(out, e.elem)
		}
	})
	slices.Sort(out)
	return out
}

func TestMVRegisterMatchesCausalOracle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := newHistory(len(actors))
		rs := []*MVRegister{NewMVRegister(), NewMVRegister(), NewMVRegister()}
		for !h.full(t) && rapid.IntRange(0, 20).Draw(t, "more") > 0 {
			i := rapid.IntRange(0, len(rs)-1).Draw(t, "replica")
			switch rapid.IntRange(0, 4).Draw(t, "what") {
			case 0, 1:
				v := rapid.SampledFrom(elems).Draw(t, "value")
				rs[i].Set(actors[i], []byte(v))
				h.record(event{replica: i, kind: "set", elem: v})
			case 2:
				rs[i].Clear()
				h.record(event{replica: i, kind: "clear"})
			default:
				j := rapid.IntRange(0, len(rs)-1).Draw(t, "from")
				rs[i] = rs[i].Join(rs[j])
				h.deliver(i, j)
			}
			for k, r := range rs {
				var got []string
				for _, v := range r.Values() {
					got = append(got, string(v))
				}
				if want := h.mvValues(h.seen[k]); !slices.Equal(got, want) {
					t.Fatalf("replica %d holds %q, the oracle says %q", k, got, want)
				}
			}
		}
	})
}

func TestCountersEqualTheSumOfIncrementsSeen(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := newHistory(len(actors))
		pn := []*PNCounter{NewPNCounter(), NewPNCounter(), NewPNCounter()}
		g := []*GCounter{NewGCounter(), NewGCounter(), NewGCounter()}
		for !h.full(t) && rapid.IntRange(0, 20).Draw(t, "more") > 0 {
			i := rapid.IntRange(0, len(pn)-1).Draw(t, "replica")
			if rapid.Bool().Draw(t, "deliver") {
				j := rapid.IntRange(0, len(pn)-1).Draw(t, "from")
				times := rapid.IntRange(1, 3).Draw(t, "times") // duplicated delivery
				for range times {
					pn[i], g[i] = pn[i].Join(pn[j]), g[i].Join(g[j])
				}
				h.deliver(i, j)
				continue
			}
			d := rapid.Int64Range(-1000, 1000).Draw(t, "delta")
			must(t, pn[i].Increment(actors[i], d))
			must(t, g[i].Increment(actors[i], absInt(d)))
			h.record(event{replica: i, kind: "inc", delta: d})
		}
		for k := range pn {
			var sum int64
			var gsum uint64
			h.each(h.seen[k], func(_ int, e event) { sum += e.delta; gsum += absInt(e.delta) })
			if pn[k].Value() != sum || g[k].Value() != gsum {
				t.Fatalf("replica %d: PN %d G %d, increments seen sum to %d and %d", k, pn[k].Value(), g[k].Value(), sum, gsum)
			}
		}
		all := pn[0].Join(pn[1]).Join(pn[2])
		var total int64
		h.each(^uint64(0), func(_ int, e event) { total += e.delta })
		if all.Value() != total {
			t.Fatalf("merged counter %d, increments sum to %d", all.Value(), total)
		}
	})
}

// mapCounter: each actor contributes the running total carried by its latest
// increment of the key, unless a removal of the key has observed that increment.
func (h *history) mapCounter(seen uint64, actor int, key string) (int64, bool) {
	latest := -1
	h.each(seen, func(id int, e event) {
		if e.kind == "inc" && e.replica == actor && e.key == key {
			latest = id
		}
	})
	if latest < 0 || h.observed(seen, latest, func(r event) bool { return r.kind == "rmkey" && r.key == key }) {
		return 0, false
	}
	return h.events[latest].carried, true
}

func (h *history) mapCounterValue(seen uint64, key string) (int64, bool) {
	var sum int64
	present := false
	for a := range h.seen {
		if v, ok := h.mapCounter(seen, a, key); ok {
			sum, present = sum+v, true
		}
	}
	return sum, present
}

// mapSet: an element is present iff some add has been observed neither by a
// removal of the element nor by a removal of the key.
func (h *history) mapSet(seen uint64, key string) []string {
	var out []string
	h.each(seen, func(id int, e event) {
		if e.kind == "add" && e.key == key && !slices.Contains(out, e.elem) &&
			!h.observed(seen, id, func(r event) bool {
				return r.key == key && (r.kind == "rmkey" || r.kind == "rm" && r.elem == e.elem)
			}) {
			out = append(out, e.elem)
		}
	})
	slices.Sort(out)
	return out
}

func TestMapMatchesCausalOracle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := newHistory(len(actors))
		rs := []*Map{NewMap(), NewMap(), NewMap()}
		for !h.full(t) && rapid.IntRange(0, 20).Draw(t, "more") > 0 {
			i := rapid.IntRange(0, len(rs)-1).Draw(t, "replica")
			key := rapid.SampledFrom(keys[:2]).Draw(t, "key")
			elem := rapid.SampledFrom(elems[:2]).Draw(t, "elem")
			switch rapid.IntRange(0, 5).Draw(t, "what") {
			case 0:
				d := rapid.Int64Range(-3, 5).Draw(t, "delta")
				own, _ := h.mapCounter(h.seen[i], i, key)
				must(t, rs[i].Increment(actors[i], key, d))
				h.record(event{replica: i, kind: "inc", key: key, delta: d, carried: own + d})
			case 1:
				rs[i].AddToSet(actors[i], key, elem)
				h.record(event{replica: i, kind: "add", key: key, elem: elem})
			case 2:
				rs[i].RemoveFromSet(key, elem)
				h.record(event{replica: i, kind: "rm", key: key, elem: elem})
			case 3:
				rs[i].Remove(key)
				h.record(event{replica: i, kind: "rmkey", key: key})
			default:
				j := rapid.IntRange(0, len(rs)-1).Draw(t, "from")
				rs[i] = rs[i].Join(rs[j])
				h.deliver(i, j)
			}
			for k, r := range rs {
				for _, key := range keys[:2] {
					got, ok := r.Counter(key)
					want, wantOK := h.mapCounterValue(h.seen[k], key)
					if got != want || ok != wantOK {
						t.Fatalf("replica %d: counter %q = %d,%v; the oracle says %d,%v", k, key, got, ok, want, wantOK)
					}
					elems, _ := r.SetElements(key)
					if want := h.mapSet(h.seen[k], key); !slices.Equal(elems, want) {
						t.Fatalf("replica %d: set %q = %q; the oracle says %q", k, key, elems, want)
					}
				}
			}
		}
	})
}
