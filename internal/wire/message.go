package wire

import (
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// Type says what a Message asks or answers.
type Type uint8

// The message types. Requests carry an ID that the matching response echoes.
const (
	TypeInvalid Type = iota
	// PutReq asks a replica to merge Object into its copy of Key and make it durable.
	PutReq
	// PutResp acknowledges a PutReq once durable (or reports Err). Found says whether
	// the replica held a live value for the key before the write (used by DEL's count).
	PutResp
	// GetReq asks a replica for its copy of Key.
	GetReq
	// GetResp returns a replica's copy of Key in Object (zero if absent).
	GetResp
	// HintReq hands off a hinted write (Object for Key) to the replica it was meant
	// for; ID is the hint's id.
	HintReq
	// HintResp acknowledges a HintReq once durable (or reports Err).
	HintResp
	// SyncReq and SyncResp carry one step of an anti-entropy exchange (see Sync).
	SyncReq
	SyncResp
	// FwdReq asks a replica of Key to coordinate a client request (Fwd) that needs a
	// replica's local state; FwdResp carries its answer (Object, Found, Err, Fwd.Acks,
	// Fwd.Before). ID is the forwarding node's request id.
	FwdReq
	FwdResp
	typeCount
)

// String names the type.
func (t Type) String() string {
	switch t {
	case PutReq:
		return "PutReq"
	case PutResp:
		return "PutResp"
	case GetReq:
		return "GetReq"
	case GetResp:
		return "GetResp"
	case HintReq:
		return "HintReq"
	case HintResp:
		return "HintResp"
	case SyncReq:
		return "SyncReq"
	case SyncResp:
		return "SyncResp"
	case FwdReq:
		return "FwdReq"
	case FwdResp:
		return "FwdResp"
	}
	return "Invalid"
}

// Message is one node-to-node message. Fields a type does not use are zero.
type Message struct {
	Type Type
	From string // sender node id
	To   string // receiver node id
	ID   uint64 // request id, unique per sender; echoed by the response
	// Clock is the sender's HLC reading when it sent the message; the receiver
	// observes it so that causality carries across nodes.
	Clock version.Timestamp
	// WallMs is the sender's wall clock (milliseconds) when it sent the message, so
	// that the receiver can estimate their clock offset; 0 when unknown.
	WallMs int64
	Key    object.Key
	Object object.Object
	Found  bool
	// Filling marks a replica's answer that must not count toward the level: the
	// replica restarted with an empty disk and anti-entropy has not yet filled the
	// key's range. Its object is still merged into the result.
	Filling bool
	Err     string // non-empty: the request failed on the replica, with this reason
	// Sync is the payload of SyncReq and SyncResp.
	Sync *Sync
	// Fwd is the payload of FwdReq and FwdResp.
	Fwd *Fwd
}

// SyncStep says what an anti-entropy message carries.
type SyncStep uint8

// The steps of an anti-entropy exchange between an initiator (I) and a responder (R).
const (
	// SyncRoots (I→R): Ranges and their root Hashes.
	SyncRoots SyncStep = iota + 1
	// SyncInner (R→I): for each differing range in Ranges, its 16 inner hashes in
	// Hashes (16 per range); ranges R found equal are listed in Equal.
	SyncInner
	// SyncLeaves (I→R): for each range in Ranges, the inner node index in Nodes and that
	// node's 16 leaf hashes in Hashes (so one entry per (range, node) pair).
	SyncLeaves
	// SyncKeys (R→I): the (Keys, Digests) R holds in the differing buckets, listed as
	// (Ranges[i], Nodes[i] = bucket) pairs; I then pushes what R lacks and pulls the rest.
	SyncKeys
	// SyncPush (I→R or R→I): Objects for Keys, to merge; Pull lists keys whose objects
	// the receiver should send back in a SyncPush of its own.
	SyncPush
)

// Sync is the payload of an anti-entropy message. Slices a step does not use are nil.
type Sync struct {
	Step    SyncStep
	Epoch   uint64   // the ring both sides must share; a mismatch aborts the exchange
	Shard   uint32   // the core shard the exchange is between
	Ranges  []uint32 // ring range indices
	Nodes   []uint32 // inner node indices (SyncLeaves) or buckets (SyncKeys)
	Equal   []uint32 // ranges found equal (SyncInner)
	Hashes  []uint64
	Keys    []object.Key
	Digests []uint64
	Objects []object.Object
	Pull    []object.Key
}
