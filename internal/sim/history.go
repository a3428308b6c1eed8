package sim

import (
	"fmt"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// OpKind is a kind of client operation. Each model (model.go) issues the kinds it
// knows; adding a data type adds kinds here and a model that issues and checks them.
type OpKind uint8

// The operation kinds.
const (
	OpGet OpKind = iota
	OpPut
	OpDelete
	// CRDT updates (core.OpUpdate): a counter increment (Delta, negative for a
	// decrement), an OR-set add or remove (Elem).
	OpIncrement
	OpAdd
	OpRemove
	opKindCount
)

var opKindNames = [opKindCount]string{"get", "put", "delete", "increment", "add", "remove"}

// String names the kind.
func (k OpKind) String() string {
	if k < opKindCount {
		return opKindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// IsWrite reports whether the kind stamps a new version (a dot): on the coordinator,
// or on the replica it forwards the request to (siblings keyspaces, CRDT updates).
func (k OpKind) IsWrite() bool { return k != OpGet && k < opKindCount }

// IsUpdate reports whether the kind is a CRDT update.
func (k OpKind) IsUpdate() bool { return k >= OpIncrement && k < opKindCount }

// Outcome is how an operation ended, as its client saw it.
type Outcome uint8

// The outcomes.
const (
	// Pending: invoked, not answered yet.
	Pending Outcome = iota
	// OK: the level was reached.
	OK
	// Fail: definitely not applied — UNAVAILABLE (nothing was sent), or refused by a
	// coordinator that was down.
	Fail
	// Timeout: unknown — TIMEOUT, or the client gave up; it may have been applied.
	Timeout
)

var outcomeNames = [...]string{"pending", "ok", "fail", "timeout"}

// String names the outcome.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome?"
}

// Op is one client operation of the history.
type Op struct {
	ID     int
	Client int // -1 for the final reads of the liveness phase
	Final  bool
	Node   string // the coordinator the client reached
	Kind   OpKind
	Key    object.Key
	Level  core.Level
	Value  []byte // put: unique in the run
	// Siblings keyspaces: the context a put or delete carried (nil: none, a write
	// concurrent with everything).
	Context version.Vector
	Delta   int64  // increment
	Elem    string // add, remove

	Invoke   int64 // virtual µs
	Complete int64 // virtual µs; for Timeout, when the client gave up
	Outcome  Outcome
	Err      string

	// Writes: the sibling the coordinator stamped; zero Dot if it never stamped one
	// (refused, UNAVAILABLE, or lost in a crash before it was stepped).
	Dot version.Dot
	TS  version.Timestamp
	// Applier is the node that stamped the write: the coordinator, or the replica it
	// forwarded the request to.
	Applier string

	// What an OK operation returned: for a read the merged object (Found as core
	// reports it), for a write the object it wrote.
	Found bool
	Obj   object.Object

	model int // index of the model that issued it
	// crdt is what the oracle saw when a CRDT update was applied (crdt.go).
	crdt *appliedUpdate
	// done, if set, is called when the op completes instead of going back to a
	// client (the experiments of scale.go issue ops themselves).
	done func(*Op)
}

// String renders the op for violation details.
func (op *Op) String() string {
	s := fmt.Sprintf("op %d %s %s@%s on %s invoke=%s", op.ID, op.Kind, op.Key.Key, op.Level, op.Node, msString(op.Invoke))
	if op.Outcome != Pending {
		s += fmt.Sprintf(" %s=%s", op.Outcome, msString(op.Complete))
	}
	switch op.Kind {
	case OpIncrement:
		s += fmt.Sprintf(" delta=%+d", op.Delta)
	case OpAdd, OpRemove:
		s += " elem=" + op.Elem
	}
	if op.TS != 0 {
		s += " ts=" + op.TS.String()
	}
	return s
}

// History is the record of every operation of a run, in invocation order.
type History struct {
	Ops []*Op
}

func (h *History) add(op *Op) {
	op.ID = len(h.Ops)
	h.Ops = append(h.Ops, op)
}

// counts returns, per kind, how many ops ended with each outcome.
func (h *History) counts() [opKindCount][4]int {
	var c [opKindCount][4]int
	for _, op := range h.Ops {
		if !op.Final && op.Kind < opKindCount {
			c[op.Kind][op.Outcome]++
		}
	}
	return c
}
