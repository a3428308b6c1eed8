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
	Clock  version.Timestamp
	Key    object.Key
	Object object.Object
	Found  bool
	Err    string // non-empty: the request failed on the replica, with this reason
}
