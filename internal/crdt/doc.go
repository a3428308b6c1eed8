// Package crdt implements the conflict-free replicated data types that Chorus stores
// under keys created with a CRDT type: counters, sets, registers and maps whose
// replicas converge by merging, with no coordination and no lost updates.
//
// # Model: operations at a replica, states replicate
//
// Every type is state-based. An operation (Increment, Add, Remove, Set...) is applied
// by the coordinator to its own replica's copy of the value, and the resulting state is
// what is written to the other replicas, handed off in hints, read-repaired and
// exchanged by anti-entropy. Replicas combine states with Merge, which is commutative,
// associative and idempotent: states may arrive in any order, any grouping, late or
// many times, and the replicas still converge on the same state. So a duplicated or
// replayed message can never apply an increment twice: a state already merged changes
// nothing when merged again. Operations themselves are never shipped or replayed.
//
// The actor passed to an operation names the replica applying it (its node id), and
// the operation must be applied to that replica's latest local state, which must
// include every earlier operation by the same actor. Counters and dots are numbered
// per actor from that state, so an actor acting on a state that lacks its own earlier
// operations would reuse a number, and one of the two updates would be silently lost
// in a later merge. Concretely: a coordinator that is not a replica of the key forwards
// the operation to one that is; a replica persists the new state before acknowledging;
// and a node that lost its data (an empty-disk replacement) must act under a fresh
// actor id (for example node id plus an incarnation number), never its old one.
//
// # Using values without knowing their type
//
// Every type implements Value: Type, Merge, Equal, Append (the binary encoding) and
// MarshalJSON (the user-visible value, for HTTP GET). The core can keep a CRDT as an
// opaque byte string, merge two copies with
//
//	a, err := crdt.Decode(x)
//	b, err := crdt.Decode(y)
//	m, err := a.Merge(b) // ErrWrongType if the copies hold different types
//	merged := m.Append(nil)
//
// and create one with New(t) for the Type chosen by the command that made the key
// (ParseType maps names such as "pncounter" or "orset" to types). The typed decoders
// (DecodePNCounter, DecodeORSet...) return the concrete type for applying operations.
//
// Every encoding starts with a format version byte and the type byte, then the state
// in one canonical form (sorted, minimal varints, no empty entries): Decode rejects any
// other form, so equal states have equal bytes and Merkle digests of replicas agree.
// Decode never panics on corrupt input, allocates in proportion to the bytes it is
// given rather than to lengths declared inside them, and rejects maps nested deeper
// than MaxDepth.
//
// Values are not safe for concurrent use. Merge never modifies its inputs and its
// result shares nothing mutable with them.
//
// # The types, and when to use which
//
//   - GCounter: a counter that only grows (page views, events processed). One entry per
//     actor that ever incremented it.
//   - PNCounter: a counter that goes up and down (INCR/DECR, stock levels, likes). Two
//     GCounters. Increment refuses (ErrOverflow) to take the value it sees out of the
//     int64 range; concurrent increments elsewhere can still push the merged value past
//     it, and Value then saturates.
//   - GSet: a set that only grows. Cheapest set; nothing can be removed.
//   - TwoPSet: adds and removes, but a removed element can never be added again, and
//     every removed element stays as a tombstone forever. For identifiers retired for
//     good; almost never what an application wants for ordinary sets.
//   - ORSet: the general-purpose set (SADD/SREM). Add-wins: an add concurrent with a
//     remove of the same element keeps it; a remove deletes exactly the adds it has
//     observed, so an old replica cannot bring a removed element back, and re-adding
//     later works. It is the optimized OR-Set (riak_dt_orswot): one version vector per
//     set, one dot per live element and adding actor, and no per-element tombstones.
//   - LWWRegister: a single value where the latest write should win and concurrent
//     writes may be dropped (a profile field, a setting). Ordered by (timestamp, actor);
//     timestamps should come from the node's hybrid logical clock.
//   - MVRegister: a single value where concurrent writes must not be lost: all are kept
//     and returned until a write that has seen them replaces them (Dynamo-style
//     siblings, resolved by the reader).
//   - Map: named fields holding counters, OR-Sets, registers or nested maps, each field
//     add-wins with causal removal (riak_dt_map). The shopping cart: item → counter.
//
// The causal types (ORSet, MVRegister, Map) carry a version vector with one counter per
// actor that ever wrote; their metadata grows with the number of actors (nodes), not
// with the number of operations or removals.
//
// # Shopping carts: union merge versus OR-Set and Map
//
// Dynamo's cart keeps concurrent versions as siblings and merges them by union
// (merge:union in Chorus). Union cannot tell "removed" from "never added", so a removed
// item can reappear: a cart holds {book}; one client removes the book (writing {} with
// the cart's context) while another concurrently adds a pen (writing {book, pen} with
// the same context). The siblings are {} and {book, pen}; their union is {book, pen},
// and the book is back although nobody re-added it. Quantities fare no better: union
// of {apple: 2} and {apple: 3} written concurrently from {apple: 1} can only pick one
// (or a maximum), never the 1+1+2 = 4 the two clients meant.
//
// An ORSet cart, or a Map of counters, records operations rather than snapshots. The
// pen's add carries a new dot, and the book's dot was seen by the remove, so the merge
// yields {pen}. Concurrent Increment(apple, 1) and Increment(apple, 2) both count, so
// the quantity is 4. A remove concurrent with an add of the same item keeps the item
// (add wins, the safe choice for a cart). What remains, and is documented on Map: an
// actor that increments an item concurrently with its removal keeps its own earlier
// quantity; and a remove deletes what the coordinator's replica has seen, which may be
// more than the client saw.
//
// The package is pure, like every core tier: no goroutines, clocks, I/O or global
// randomness, and no output that depends on map iteration order.
package crdt
