package api

import (
	"context"
	"time"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/record"
)

// MemberInfo is a member as the cluster API shows it: its identity, status, addresses
// and the share of the ring it owns as a primary replica (0..1 over all members, so
// shares add up to the replication factor).
type MemberInfo struct {
	membership.Member
	Ownership float64
	// ClockOffsetMs is the member's clock minus this node's, as last measured from its
	// messages (nil: not measured, e.g. this node itself); ClockSkewed says it exceeds
	// the cluster's --max-clock-skew.
	ClockOffsetMs *int64
	ClockSkewed   bool
}

// Backend is what a client-facing server needs from a node. Safe for concurrent use.
type Backend interface {
	// NodeID returns the local node's id.
	NodeID() string
	// Do runs one request with this node as coordinator and blocks until it has an
	// answer or ctx is done (then the reply's Err wraps core.ErrTimeout).
	Do(ctx context.Context, req core.Request) core.Reply
	// Members returns the cluster as this node sees it, sorted by id.
	Members() []MemberInfo
	// ReplicationFactor returns the default number of replicas per key.
	ReplicationFactor() int
}

// Limits bounds what clients may send. Zero fields take the defaults.
type Limits struct {
	MaxKeyBytes   int // default 2048 (2 KiB, as DynamoDB partition keys)
	MaxValueBytes int // default 8 MiB
}

// Default limits.
const (
	DefaultMaxKeyBytes   = 2048
	DefaultMaxValueBytes = 8 << 20
)

// WithDefaults returns l with zero fields replaced by the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxKeyBytes == 0 {
		l.MaxKeyBytes = DefaultMaxKeyBytes
	}
	if l.MaxValueBytes == 0 {
		l.MaxValueBytes = DefaultMaxValueBytes
	}
	return l
}

// Operator is what a node offers operators besides requests: the hint backlog, the
// read-repair log and on-demand anti-entropy. A Backend that also implements Operator
// gets the routes GET /v1/hints, GET /v1/read-repairs and POST /v1/repair.
type Operator interface {
	// Hints returns the hints this node holds, per target, sorted by target.
	Hints(ctx context.Context) ([]HintBacklog, error)
	// ReadRepairs returns the newest read-repair log entries, newest first.
	ReadRepairs(limit int) ([]record.Repair, error)
	// Repair runs a full anti-entropy exchange now (of one keyspace's keys, or all with
	// keyspace ""), calling progress as exchanges finish, and returns the summary.
	Repair(ctx context.Context, keyspace string, progress func(RepairProgress)) (RepairProgress, error)
}

// HintBacklog is the hints a node holds for one target.
type HintBacklog struct {
	Target string    `json:"target"`
	Count  int       `json:"count"`
	Bytes  int64     `json:"bytes"`
	Oldest time.Time `json:"oldest"`
}

// ClusterView is GET /v1/cluster's body: the members as one node sees them. The
// server writes it; the CLI and the client package read it.
type ClusterView struct {
	Node              string          `json:"node"`
	ReplicationFactor int             `json:"replication_factor"`
	Members           []ClusterMember `json:"members"`
}

// ClusterMember is one member as /v1/cluster shows it.
type ClusterMember struct {
	ID        string           `json:"id"`
	Status    string           `json:"status"` // alive, suspect, dead or left
	Zone      string           `json:"zone"`
	Addrs     membership.Addrs `json:"addrs"`
	Ownership float64          `json:"ownership"` // share of the ring owned as a primary replica
	// ClockOffsetMs: the member's clock minus the answering node's (absent for that
	// node and members not heard from); ClockSkewed: beyond --max-clock-skew.
	ClockOffsetMs *int64 `json:"clock_offset_ms,omitempty"`
	ClockSkewed   bool   `json:"clock_skewed,omitempty"`
}

// RepairProgress reports a running or finished repair.
type RepairProgress struct {
	Exchanges       int    `json:"exchanges"` // started, one per (shard, peer)
	Finished        int    `json:"finished"`
	RangesCompared  uint64 `json:"ranges_compared"`
	RangesDiffering uint64 `json:"ranges_differing"`
	KeysRepaired    uint64 `json:"keys_repaired"`
	BytesSent       uint64 `json:"bytes_sent"`
	Done            bool   `json:"done"`
}

// Keyspace is a keyspace's settings as the API shows them.
type Keyspace struct {
	Name              string `json:"name"`
	Resolution        string `json:"resolution"`
	ReplicationFactor int    `json:"replication_factor"`
	ReadRepair        string `json:"read_repair"`
	// SiblingCap bounds the siblings of a key in a siblings keyspace (0: the default).
	SiblingCap int `json:"sibling_cap,omitempty"`
}

// KeyspaceAdmin manages keyspaces (cluster-wide settings spread by gossip). A Backend
// that implements it gets GET /v1/keyspaces and PUT /v1/keyspaces/{name}.
type KeyspaceAdmin interface {
	// Keyspaces lists every keyspace, "default" included, sorted by name.
	Keyspaces() []Keyspace
	// PutKeyspace creates or updates a keyspace; zero fields keep their current value
	// (or take the default). Errors wrap core.ErrBadRequest.
	PutKeyspace(ctx context.Context, ks Keyspace) (Keyspace, error)
}
