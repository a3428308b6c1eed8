package console

import (
	"fmt"
	"math"
	"net/http"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/ring"
)

// ringLayout is GET /ui/api/ring's body.
type ringLayout struct {
	Node              string       `json:"node"`
	ReplicationFactor int          `json:"replication_factor"`
	Vnodes            int          `json:"vnodes"`
	Members           []ringMember `json:"members"`
	// Arcs cover the ring clockwise from position 0 to 1 without gaps; consecutive
	// token ranges with the same primary are merged into one arc.
	Arcs []arc         `json:"arcs"`
	Key  *keyPlacement `json:"key,omitempty"`
}

// ringMember is a member on the ring: Primary is the share of the ring it owns as a
// key's first replica.
type ringMember struct {
	ID      string  `json:"id"`
	Zone    string  `json:"zone"`
	Vnodes  int     `json:"vnodes"`
	Primary float64 `json:"primary"`
}

// arc is a part of the ring, from Start to End as fractions of the hash space (0..1),
// whose keys have Owner as primary replica.
type arc struct {
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Owner string  `json:"owner"`
}

// keyPlacement is where a key lives: its ring position and its preference list.
type keyPlacement struct {
	Keyspace string   `json:"keyspace"`
	Key      string   `json:"key"`
	Position float64  `json:"position"`
	Replicas []string `json:"replicas"`
}

// serveRing: GET /ui/api/ring[?keyspace=K&key=KEY].
func serveRing(w http.ResponseWriter, r *http.Request, b api.Backend) {
	q := r.URL.Query()
	for name, vs := range q {
		if (name != "keyspace" && name != "key") || len(vs) > 1 {
			badRequest(w, fmt.Sprintf("unknown or repeated query parameter %q", name))
			return
		}
	}
	rg := ringOf(b.Members())
	out := layout(rg, b.NodeID(), b.ReplicationFactor())
	if q.Has("key") || q.Has("keyspace") {
		ks, key := q.Get("keyspace"), q.Get("key")
		if err := core.ValidateKeyspace(ks); err != nil {
			badRequest(w, err.Error())
			return
		}
		if len(key) > api.DefaultMaxKeyBytes {
			badRequest(w, fmt.Sprintf("key of %d bytes exceeds the %d-byte limit", len(key), api.DefaultMaxKeyBytes))
			return
		}
		h := ring.KeyHash(ks, key)
		out.Key = &keyPlacement{Keyspace: ks, Key: key, Position: fraction(h), Replicas: rg.PreferenceList(h, out.ReplicationFactor)}
	}
	writeJSON(w, http.StatusOK, out)
}

// ringOf builds the ring the node builds from the same members: every member not
// left, with ring.DefaultVnodes tokens (see node.membershipChanged).
func ringOf(members []api.MemberInfo) *ring.Ring {
	var rm []ring.Member
	for _, m := range members {
		if m.Status != membership.Left {
			rm = append(rm, ring.Member{ID: m.ID, Zone: m.Zone})
		}
	}
	return ring.New(rm, ring.DefaultVnodes)
}

// layout describes rg for drawing: its members and its arcs by primary owner.
func layout(rg *ring.Ring, node string, rf int) ringLayout {
	out := ringLayout{Node: node, ReplicationFactor: rf, Vnodes: ring.DefaultVnodes, Arcs: arcs(rg), Members: []ringMember{}}
	primary := make(map[string]float64)
	for _, a := range out.Arcs {
		primary[a.Owner] += a.End - a.Start
	}
	for _, m := range rg.Members() {
		out.Members = append(out.Members, ringMember{ID: m.ID, Zone: m.Zone, Vnodes: ring.DefaultVnodes, Primary: primary[m.ID]})
	}
	return out
}

// arcs lists rg's token ranges clockwise from position 0, each with its primary owner,
// merging neighbours with the same owner. Range 0 wraps past zero and is split in two.
func arcs(rg *ring.Ring) []arc {
	ranges := rg.Ranges()
	switch len(ranges) {
	case 0:
		return []arc{}
	case 1:
		return []arc{{Start: 0, End: 1, Owner: rg.RangePreferenceList(0, 1)[0]}}
	}
	var out []arc
	add := func(start, end float64, owner string) {
		if n := len(out); n > 0 && out[n-1].Owner == owner {
			out[n-1].End = end
			return
		}
		out = append(out, arc{Start: start, End: end, Owner: owner})
	}
	first := rg.RangePreferenceList(0, 1)[0]
	add(0, fraction(ranges[0].End), first)
	for i := 1; i < len(ranges); i++ {
		add(fraction(ranges[i].Start), fraction(ranges[i].End), rg.RangePreferenceList(i, 1)[0])
	}
	add(fraction(ranges[0].Start), 1, first)
	return out
}

// fraction maps a ring position to [0, 1].
func fraction(h uint64) float64 { return float64(h) / (math.MaxUint64 + 1.0) }
