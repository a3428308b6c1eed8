package api

import (
	"context"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
)

// MemberInfo is a member as the cluster API shows it: its identity, status, addresses
// and the share of the ring it owns as a primary replica (0..1 over all members, so
// shares add up to the replication factor).
type MemberInfo struct {
	membership.Member
	Ownership float64
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
