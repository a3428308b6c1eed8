package sim

import (
	"math/rand/v2"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
)

// model is one data type the workload exercises and the checkers understand. The
// simulator deals the keys to the models in turn; for every client operation on one
// of its keys the model picks the operation, builds the core request, learns the
// outcome (as its client would), and at the end checks the history of each of its
// keys.
//
// The models (Config.Models):
//
//   - register (register.go): last-write-wins puts, deletes and gets.
//   - siblings (siblings.go): a keyspace with ResolutionSiblings; writes carry the
//     context their client last saw (Request.Context), or none; the checker compares
//     the final siblings with a causal oracle.
//   - counter and set (crdt.go): PN-counter increments and OR-set adds and removes
//     (core.OpUpdate with a crdt.Op); the checker bounds the counter by what was
//     acknowledged and what is unknown, and tracks every add's dot through removes.
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
	// nextOp fills op's Kind, Level and the rest for client c's operation on op.Key.
	nextOp(r *rand.Rand, c *client, op *Op)
	// request builds the core request of op (the driver sets its ID).
	request(op *Op) core.Request
	// completed tells the model how client c's op ended (op.Outcome, op.Obj), so that
	// the client can carry what it learnt into its next operations.
	completed(c *client, op *Op)
	// check checks the operations on one key, in invocation order (the final reads
	// included), reporting through cc.
	check(cc *checkContext, key object.Key, ops []*Op)
	// show renders what an OK read returned, for the history.
	show(op *Op) string
}
