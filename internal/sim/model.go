package sim

import (
	"math/rand/v2"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
)

// model is one data type the workload exercises and the checkers understand. The
// simulator assigns each model a share of the keys; for every client operation on one
// of its keys the model picks the operation, builds the core request, and at the end
// checks the history of each of its keys.
//
// Registers under last-write-wins (registerModel) are the one model today. The
// intended additions, once the core has them:
//
//   - siblings: a keyspace with ResolutionSiblings; puts carry Request.Context taken
//     from the client's last read of the key (Op.Obj), and the checker compares every
//     read's siblings with a causal oracle: exactly the acknowledged writes that no
//     acknowledged write dominates (seen by its context), plus possibly unknown ones.
//   - counters and sets: OpKinds for increments, adds and removes (core.OpUpdate with a
//     crdt.Op); the checker requires a final counter in [acknowledged, acknowledged +
//     unknown] and no acknowledged add lost, no observed-removed element back.
//
// A model must draw randomness only from the *rand.Rand it is given, and must not
// iterate maps in its checker without sorting, so that runs stay deterministic.
type model interface {
	name() string
	// keyspace is where the model's keys live.
	keyspace() string
	// settings are the keyspace's settings, installed on every core with
	// SetKeyspaces; nil keeps the node-wide defaults (core.Config.ReadRepair, LWW).
	settings() *core.KeyspaceSettings
	// nextOp fills op's Kind, Level and Value for a client operation on op.Key.
	nextOp(r *rand.Rand, op *Op)
	// request builds the core request of op (the driver sets its ID).
	request(op *Op) core.Request
	// check checks the operations on one key, in invocation order (the final reads
	// included), reporting through cc.
	check(cc *checkContext, key object.Key, ops []*Op)
}
