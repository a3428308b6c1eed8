package membership

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"
)

// GossipConfig configures a Gossip member. NodeID and BindAddr are required; every
// other field has a usable zero value.
type GossipConfig struct {
	// State, if set, is cluster-wide metadata spread by gossip: memberlist's push/pull
	// exchanges LocalState with peers, and Gossip.Broadcast spreads an update at once.
	// Its merge must be a CRDT join (commutative, idempotent), since peers exchange
	// whole states in any order.
	State StateDelegate
	// NodeID names this node in the cluster. It must stay the same across restarts:
	// a node that comes back under the same id (and address) is recognised as the
	// same member and seen alive again.
	NodeID string
	// BindAddr is the host:port gossip listens on, over both TCP and UDP. Port 0
	// picks a free port (see Gossip.Local for the one chosen). A host name is
	// resolved once, at start.
	BindAddr string
	// Zone is this node's failure zone (rack, availability zone), advertised to the
	// others so that replicas can be spread across zones. Empty means no zone.
	Zone string
	// Addrs are the addresses this node serves on, advertised in its gossip
	// metadata. An empty Addrs.Gossip is filled in with the address gossip is bound
	// to. Encoded as compact JSON together with Zone, they must fit in memberlist's
	// 512-byte metadata limit (see ErrMetaTooLarge).
	Addrs Addrs
	// Join lists gossip addresses (host:port) of members to join at start. It may
	// include this node's own address, which is skipped, so every node of a cluster
	// can be given the same list. If nobody answers (this node is the first one up)
	// the node starts alone and keeps retrying in the background for as long as it
	// sees no other live member.
	Join []string
	// Known are members remembered from an earlier run (for example loaded from
	// disk). They start in the view as Dead (Left if their Status says Left) until
	// gossip says otherwise, so a restarted node knows the whole ring at once, and
	// their gossip addresses are retried like Join. An entry with this node's id is
	// ignored.
	Known []Member
	// Logger receives this package's logs, and memberlist's own (which are chatty)
	// at debug level. Nil discards them.
	Logger *slog.Logger
	// Registerer, if not nil, receives the chorus_members{status} gauge. It is
	// unregistered again by Close. To run several members against one registry,
	// wrap it with a distinguishing label (prometheus.WrapRegistererWith).
	Registerer prometheus.Registerer
	// Fast selects FastTiming instead of DefaultTiming as the base timing profile:
	// failures are detected in about a second, at the price of more traffic and of
	// false suspicions on a loaded machine. For tests and `chorus dev`.
	Fast bool
	// Timing overrides the failure-detection and gossip timing; each zero field
	// takes its value from the profile Fast selects.
	Timing Timing
	// Cluster, if not empty, labels every gossip packet and stream: a node of
	// another cluster (another label) is not heard.
	Cluster string
	// Keys, if not empty, encrypt and authenticate gossip (AES-GCM; keys of 16, 24 or
	// 32 bytes). The first encrypts; all of them are tried to decrypt, so a key can be
	// rotated without a partition: add the new key second on every node, then move it
	// first, then drop the old one. A node without a matching key cannot join.
	Keys [][]byte
}

// Timing holds the intervals that trade detection speed against traffic and false
// alarms. Fields map onto memberlist's Config fields of the same name unless said
// otherwise; durations are wall-clock time.
//
// How long a kill -9 takes to be seen: a member is probed by each other member in
// turn, one member per ProbeInterval; a probe that gets no answer within the
// interval (direct ping after ProbeTimeout, then indirect pings and a TCP ping)
// makes the prober suspect it. A suspect is declared dead after a suspicion timeout
// of SuspicionMult × max(1, log10(N)) × ProbeInterval when enough other members
// confirm the suspicion, and up to SuspicionMaxTimeoutMult times longer when they
// do not (Lifeguard). With DefaultTiming and fewer than 10 nodes: dead about
// 2.5–3.5 s after the kill; with FastTiming about 1–1.5 s.
type Timing struct {
	// ProbeInterval is the time between failure probes of one member by this node.
	// Shorter detects failures sooner but sends more packets (one probe per node
	// per interval, cluster-wide N probes per interval).
	ProbeInterval time.Duration
	// ProbeTimeout is how long to wait for the direct ack of a probe before asking
	// other members to probe indirectly. It must be shorter than ProbeInterval and
	// well above the round-trip time, or a slow but healthy node gets suspected.
	ProbeTimeout time.Duration
	// SuspicionMult scales the suspicion timeout (see Timing). Larger gives a
	// suspected but live node (GC pause, overloaded host) more time to refute,
	// and delays the detection of real failures by as much.
	SuspicionMult int
	// SuspicionMaxTimeoutMult bounds how much longer than the nominal timeout a
	// suspicion may last when no other member confirms it.
	SuspicionMaxTimeoutMult int
	// GossipInterval is the time between gossip rounds, each sending queued
	// broadcasts to GossipNodes random members. Shorter spreads news faster.
	GossipInterval time.Duration
	// GossipNodes is the number of members each gossip round sends to.
	GossipNodes int
	// PushPullInterval is the time between full state exchanges with one random
	// member (membership anti-entropy over TCP). Shorter repairs missed gossip
	// sooner; each exchange sends the whole member list.
	PushPullInterval time.Duration
	// GossipToTheDeadTime is how long memberlist keeps gossiping to a member after
	// it was declared dead, which lets a quickly restarted node hear about the
	// cluster without rejoining.
	GossipToTheDeadTime time.Duration
	// TCPTimeout bounds a TCP connection (push/pull, join, TCP ping). Long enough
	// for a full state exchange on the slowest link; a join of an unreachable
	// address blocks that long.
	TCPTimeout time.Duration
	// RetransmitMult sets how many times a broadcast is retransmitted:
	// RetransmitMult × ceil(log10(N+1)). Higher makes news (including leaving)
	// reach everyone more surely, at the cost of packets.
	RetransmitMult int
	// IndirectChecks is the number of members asked to probe a member that did not
	// answer a direct probe. More avoids blaming a member for one lossy path.
	IndirectChecks int
	// DeadNodeReclaimTime is how long a member must have been dead before its id
	// may come back from a different address. Shorter lets a node that moved (new
	// IP or port) rejoin sooner; a live node's address is never taken over.
	DeadNodeReclaimTime time.Duration
	// RejoinInterval is the first wait between background join attempts while this
	// node sees no other live member (Chorus's own, not memberlist's); it doubles on
	// each failure up to RejoinMaxInterval.
	RejoinInterval time.Duration
	// RejoinMaxInterval bounds the backoff of RejoinInterval.
	RejoinMaxInterval time.Duration
	// ReconnectInterval is the time between attempts to join the gossip addresses of
	// members seen dead (Chorus's own). This heals a partition that outlasted
	// GossipToTheDeadTime and finds restarted nodes that were not told whom to join.
	// Each attempt costs a TCP connect per dead member.
	ReconnectInterval time.Duration
}

// DefaultTiming returns the timing for real deployments on loopback or a LAN:
// memberlist's DefaultLocalConfig made quicker to declare a dead node, so that a
// kill -9 is seen as dead within about 3 s in a small cluster. Compared with
// memberlist's DefaultLANConfig (about 5–20 s) it sends twice the probes and gives a
// stalled node 2 s rather than 4 s to refute a suspicion.
func DefaultTiming() Timing {
	return Timing{
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            250 * time.Millisecond,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 3,
		GossipInterval:          100 * time.Millisecond,
		GossipNodes:             3,
		PushPullInterval:        15 * time.Second,
		GossipToTheDeadTime:     15 * time.Second,
		TCPTimeout:              2 * time.Second,
		RetransmitMult:          4,
		IndirectChecks:          3,
		DeadNodeReclaimTime:     10 * time.Second,
		RejoinInterval:          time.Second,
		RejoinMaxInterval:       5 * time.Second,
		ReconnectInterval:       10 * time.Second,
	}
}

// StateDelegate is cluster metadata carried by gossip. Its methods are called from
// memberlist's goroutines, possibly concurrently; they must be safe for concurrent use
// and must not block for long or call back into Gossip.
type StateDelegate interface {
	// LocalState returns the whole local state, encoded.
	LocalState() []byte
	// MergeRemoteState joins a state (or an update) received from a peer.
	MergeRemoteState(buf []byte)
}

// FastTiming returns the timing for tests and `chorus dev`: a kill is seen as dead
// within about 2–4 s. On a loaded machine (race detector, shared cores) it can
// suspect healthy members for a moment; they refute and come back alive.
func FastTiming() Timing {
	return Timing{
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            300 * time.Millisecond,
		SuspicionMult:           4,
		SuspicionMaxTimeoutMult: 3,
		GossipInterval:          50 * time.Millisecond,
		GossipNodes:             3,
		PushPullInterval:        2 * time.Second,
		GossipToTheDeadTime:     2 * time.Second,
		TCPTimeout:              time.Second,
		RetransmitMult:          4,
		IndirectChecks:          3,
		DeadNodeReclaimTime:     time.Second,
		RejoinInterval:          200 * time.Millisecond,
		RejoinMaxInterval:       time.Second,
		ReconnectInterval:       time.Second,
	}
}

// withDefaults returns t with every zero field taken from base.
func (t Timing) withDefaults(base Timing) Timing {
	setD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	setI := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setD(&t.ProbeInterval, base.ProbeInterval)
	setD(&t.ProbeTimeout, base.ProbeTimeout)
	setI(&t.SuspicionMult, base.SuspicionMult)
	setI(&t.SuspicionMaxTimeoutMult, base.SuspicionMaxTimeoutMult)
	setD(&t.GossipInterval, base.GossipInterval)
	setI(&t.GossipNodes, base.GossipNodes)
	setD(&t.PushPullInterval, base.PushPullInterval)
	setD(&t.GossipToTheDeadTime, base.GossipToTheDeadTime)
	setD(&t.TCPTimeout, base.TCPTimeout)
	setI(&t.RetransmitMult, base.RetransmitMult)
	setI(&t.IndirectChecks, base.IndirectChecks)
	setD(&t.DeadNodeReclaimTime, base.DeadNodeReclaimTime)
	setD(&t.RejoinInterval, base.RejoinInterval)
	setD(&t.RejoinMaxInterval, base.RejoinMaxInterval)
	setD(&t.ReconnectInterval, base.ReconnectInterval)
	return t
}

// validate reports every problem of a defaulted Timing.
func (t Timing) validate() error {
	var errs []error
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("timing: %s must be positive, got %v", name, d))
		}
	}
	pos("ProbeInterval", t.ProbeInterval)
	pos("ProbeTimeout", t.ProbeTimeout)
	pos("GossipInterval", t.GossipInterval)
	pos("PushPullInterval", t.PushPullInterval)
	pos("GossipToTheDeadTime", t.GossipToTheDeadTime)
	pos("TCPTimeout", t.TCPTimeout)
	pos("DeadNodeReclaimTime", t.DeadNodeReclaimTime)
	pos("RejoinInterval", t.RejoinInterval)
	pos("RejoinMaxInterval", t.RejoinMaxInterval)
	pos("ReconnectInterval", t.ReconnectInterval)
	if t.ProbeTimeout >= t.ProbeInterval && t.ProbeInterval > 0 {
		errs = append(errs, fmt.Errorf("timing: ProbeTimeout (%v) must be shorter than ProbeInterval (%v)", t.ProbeTimeout, t.ProbeInterval))
	}
	if t.RejoinMaxInterval < t.RejoinInterval {
		errs = append(errs, fmt.Errorf("timing: RejoinMaxInterval (%v) must not be shorter than RejoinInterval (%v)", t.RejoinMaxInterval, t.RejoinInterval))
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"SuspicionMult", t.SuspicionMult}, {"SuspicionMaxTimeoutMult", t.SuspicionMaxTimeoutMult},
		{"GossipNodes", t.GossipNodes}, {"RetransmitMult", t.RetransmitMult}, {"IndirectChecks", t.IndirectChecks},
	} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("timing: %s must be positive, got %d", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// timing returns the effective timing: Timing over the profile Fast selects.
func (c GossipConfig) timing() Timing {
	base := DefaultTiming()
	if c.Fast {
		base = FastTiming()
	}
	return c.Timing.withDefaults(base)
}

// Validate reports every problem of the configuration at once (errors.Join); an
// oversized metadata wraps ErrMetaTooLarge.
func (c GossipConfig) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("NodeID is required"))
	}
	if _, _, err := splitBindAddr(c.BindAddr); err != nil {
		errs = append(errs, err)
	}
	for i, m := range c.Known {
		if m.ID == "" {
			errs = append(errs, fmt.Errorf("Known[%d] has no id", i))
		}
	}
	if err := c.timing().validate(); err != nil {
		errs = append(errs, err)
	}
	if err := checkMetaSize(c.Zone, c.Addrs); err != nil {
		errs = append(errs, err)
	}
	for i, k := range c.Keys {
		if l := len(k); l != 16 && l != 24 && l != 32 {
			errs = append(errs, fmt.Errorf("gossip key %d is %d bytes; it must be 16, 24 or 32 (AES-128, -192 or -256)", i+1, l))
		}
	}
	return errors.Join(errs...)
}

// splitBindAddr parses BindAddr into a host (empty for all interfaces) and a port.
func splitBindAddr(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("BindAddr %q: %w", addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("BindAddr %q: bad port %q", addr, ps)
	}
	return host, port, nil
}

// resolveBindIP turns the BindAddr host into the IP literal memberlist requires.
func resolveBindIP(host string) (string, error) {
	if host == "" {
		return "0.0.0.0", nil
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return "", fmt.Errorf("resolve gossip host %q: %v", host, err)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip.String(), nil
		}
	}
	return ips[0].String(), nil
}

// memberlistConfig builds memberlist's configuration from ours, with our delegates.
func memberlistConfig(c GossipConfig, t Timing, ip string, port int, d *delegate, logOut io.Writer) *memberlist.Config {
	mc := memberlist.DefaultLocalConfig()
	mc.Name = c.NodeID
	mc.BindAddr, mc.BindPort = ip, port
	mc.AdvertiseAddr, mc.AdvertisePort = "", port
	mc.ProbeInterval, mc.ProbeTimeout = t.ProbeInterval, t.ProbeTimeout
	mc.SuspicionMult, mc.SuspicionMaxTimeoutMult = t.SuspicionMult, t.SuspicionMaxTimeoutMult
	mc.GossipInterval, mc.GossipNodes = t.GossipInterval, t.GossipNodes
	mc.PushPullInterval, mc.GossipToTheDeadTime = t.PushPullInterval, t.GossipToTheDeadTime
	mc.TCPTimeout, mc.RetransmitMult, mc.IndirectChecks = t.TCPTimeout, t.RetransmitMult, t.IndirectChecks
	mc.DeadNodeReclaimTime = t.DeadNodeReclaimTime
	mc.Delegate, mc.Events, mc.Ping, mc.Merge, mc.Conflict = d, d, d, d, d
	mc.Logger = log.New(logOut, "", 0)
	mc.Label = c.Cluster
	if len(c.Keys) > 0 {
		kr, err := memberlist.NewKeyring(c.Keys, c.Keys[0])
		if err == nil { // Validate checked the keys
			mc.Keyring = kr
			mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
		}
	}
	return mc
}
