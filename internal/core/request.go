package core

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// Sentinel errors of client requests. The API layers map them to RESP and HTTP codes
// (in exactly one place each); wrapped errors carry the readable reason.
var (
	// ErrUnavailable: fewer replicas are alive than the level needs; nothing was sent.
	ErrUnavailable = errors.New("UNAVAILABLE")
	// ErrTimeout: the request was attempted but not enough replicas answered before the
	// deadline; it may have been applied on some and will then converge.
	ErrTimeout = errors.New("TIMEOUT")
	// ErrTooLarge: the key or value exceeds the configured limit; nothing was stored.
	ErrTooLarge = errors.New("TOOLARGE")
	// ErrWrongType: the command does not fit the kind of value stored under the key.
	ErrWrongType = errors.New("WRONGTYPE")
	// ErrBadRequest: the request is malformed (unknown level, bad keyspace name, …).
	ErrBadRequest = errors.New("ERR")
	// ErrSiblingCap: the write would leave a key of a siblings keyspace with more
	// siblings than the keyspace's cap; nothing was written. Read the key and write back
	// with its context to collapse them.
	ErrSiblingCap = errors.New("SIBLINGS")
)

// sentinels lists the errors that cross the wire by their first word (forwarded
// requests), so that a forwarded answer keeps its sentinel.
var sentinels = []error{ErrUnavailable, ErrTimeout, ErrTooLarge, ErrWrongType, ErrSiblingCap, ErrBadRequest}

// errorFromWire rebuilds an error sent as text by another node.
func errorFromWire(s string) error {
	for _, e := range sentinels {
		if rest, ok := strings.CutPrefix(s, e.Error()); ok && (rest == "" || rest[0] == ' ') {
			return fmt.Errorf("%w%s", e, rest)
		}
	}
	return fmt.Errorf("%w %s", ErrTimeout, s)
}

// Level is a consistency level: how many replicas must answer.
type Level uint8

// The consistency levels. QUORUM is the default for reads and writes.
const (
	Quorum Level = iota
	One
	Two
	Three
	All
	Any // writes only: a stored hint counts
)

var levelNames = [...]string{Quorum: "QUORUM", One: "ONE", Two: "TWO", Three: "THREE", All: "ALL", Any: "ANY"}

// String returns the level's name as users type it.
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// ParseLevel parses a level name, case-insensitively.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("%w unknown consistency level %q (want ONE, TWO, THREE, QUORUM, ALL or ANY)", ErrBadRequest, s)
}

// Required returns how many replicas the level needs out of n.
func (l Level) Required(n int) int {
	switch l {
	case One, Any:
		return 1
	case Two:
		return 2
	case Three:
		return 3
	case All:
		return n
	default:
		return n/2 + 1
	}
}

// Op is what a client request does.
type Op uint8

// The request operations.
const (
	OpGet Op = iota
	OpPut
	OpDelete
	// OpUpdate applies Request.CRDT to the key's CRDT, creating it if absent.
	OpUpdate
	// OpInspect asks every up replica for its copy and answers with all of them
	// (Reply.Copies), without read repair: the key inspector.
	OpInspect
	opCount
)

// String names the op.
func (o Op) String() string {
	switch o {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpUpdate:
		return "update"
	case OpInspect:
		return "inspect"
	}
	return "op?"
}

// Request is a client operation on one key.
type Request struct {
	ID    uint64 // assigned by the driver; unique per shard
	Op    Op
	Key   object.Key
	Value []byte // OpPut
	// TTLMs, if positive, makes a put expire TTLMs milliseconds after the coordinator
	// stamps it (the absolute expiry is stored, so every replica expires it together).
	TTLMs int64
	Level Level
	// Context, for a put or delete in a siblings or merge keyspace, is the causal
	// context the client read (Object.FullContext): the write replaces exactly the
	// siblings it covers. A nil context is concurrent with everything.
	Context version.Vector
	// DeleteSeen makes a delete without a context in a siblings or merge keyspace
	// delete what the coordinating replica holds, rather than be concurrent with it
	// (RESP DEL, whose clients cannot carry a context).
	DeleteSeen bool
	// CRDT is the operation of an OpUpdate.
	CRDT crdt.Op
}

// Reply answers a Request.
type Reply struct {
	ID  uint64
	Err error // nil, or wraps one of the sentinels above
	// Found: for OpGet, a live value was found; for OpDelete, some replica held a live
	// value before the delete.
	Found bool
	Value []byte        // OpGet: the winning value
	Obj   object.Object // OpGet: the merged object (siblings, context)
	Acks  int           // replicas that answered in time
	// Before is, for a write a replica coordinated from its local state (siblings
	// keyspaces, CRDT updates), that replica's copy before the write: SADD counts the
	// elements it added from it.
	Before object.Object
	// Merged: Value is the keyspace's merge of several live siblings (merge keyspaces),
	// so the API layers show it as the one value.
	Merged bool
	// Copies holds, for OpInspect, each replica's answer, in preference-list order.
	Copies []ReplicaCopy
}

// ReplicaCopy is one replica's copy of a key, as the key inspector shows it.
type ReplicaCopy struct {
	Node    string
	Up      bool   // the replica was up in this node's view, and was asked
	Err     string // the replica failed or did not answer in time
	Filling bool
	Obj     object.Object
}

// MaxKeyspaceLen is the longest keyspace name accepted.
const MaxKeyspaceLen = 64

// ValidateKeyspace checks a keyspace name: 1 to 64 characters of A-Z, a-z, 0-9, '_'
// and '-'.
func ValidateKeyspace(name string) error {
	if name == "" || len(name) > MaxKeyspaceLen {
		return fmt.Errorf("%w keyspace name must be 1 to %d characters", ErrBadRequest, MaxKeyspaceLen)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w keyspace name %q may hold only letters, digits, '_' and '-'", ErrBadRequest, name)
		}
	}
	return nil
}
