package membership

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/hashicorp/memberlist"
)

// ErrMetaTooLarge is returned (wrapped, by NewGossip and GossipConfig.Validate) when
// a node's zone and addresses do not fit in memberlist's per-node metadata limit
// (memberlist.MetaMaxSize, 512 bytes). Its text has no package prefix because it
// always comes wrapped in one.
var ErrMetaTooLarge = errors.New("node metadata too large")

// nodeMeta is what a node advertises about itself in memberlist's node metadata,
// encoded as compact JSON.
type nodeMeta struct {
	Zone  string `json:"zone,omitempty"`
	Addrs Addrs  `json:"addrs"`
	// Leaving is set just before a graceful leave, so that the others can tell a
	// member that left from one that died: memberlist v0.7.0 does not expose the
	// left state to its event delegate (Node.State is never filled in).
	Leaving bool `json:"leaving,omitempty"`
}

// encodeMeta returns m as compact JSON.
func encodeMeta(m nodeMeta) []byte {
	b, err := json.Marshal(m)
	if err != nil { // cannot happen: only strings and a bool
		panic(err)
	}
	return b
}

// decodeMeta parses metadata written by encodeMeta. Empty metadata decodes to the
// zero nodeMeta.
func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nodeMeta{}, fmt.Errorf("membership: bad node metadata %q: %w", b, err)
	}
	return m, nil
}

// worstGossipAddr stands in for a gossip address only known after binding, when
// checking the metadata size ahead of time.
var worstGossipAddr = net.JoinHostPort("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "65535")

// checkMetaSize reports ErrMetaTooLarge if the largest metadata this node may
// advertise (with the leaving flag set) exceeds memberlist's limit.
func checkMetaSize(zone string, a Addrs) error {
	if a.Gossip == "" {
		a.Gossip = worstGossipAddr
	}
	n := len(encodeMeta(nodeMeta{Zone: zone, Addrs: a, Leaving: true}))
	if n > memberlist.MetaMaxSize {
		return fmt.Errorf("%w: zone and addresses encode to %d bytes, memberlist allows %d", ErrMetaTooLarge, n, memberlist.MetaMaxSize)
	}
	return nil
}
