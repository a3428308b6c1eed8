// Package core is the logic of a Chorus node as a deterministic state machine: the
// coordinator (fan a request out to a key's replicas, answer after the level's count of
// acknowledgements, time out) and the replica (merge and store what coordinators send).
//
// A Core does no I/O. The driver feeds it events — Submit (a client request), Receive (a
// message from a peer), Tick (time passed), SetView (membership changed) — each with the
// current time in unix milliseconds, then takes the effects with Ready: a record.Batch
// that must be made durable, then messages to send and replies to give, in that order.
// After acting on a Ready the driver calls Advance. This is the shape of etcd raft's
// RawNode; it is what lets internal/sim run many nodes in one goroutine from a seed and
// lets the production driver (internal/node) group-commit many requests' writes.
//
// Storage reads are direct calls on a Store (local and fast); a Core never writes
// storage itself. A Core is not safe for concurrent use: the driver owns one per shard.
package core
