// Package node is the production driver of the core: it opens storage, joins the
// cluster through membership, connects to peers through transport, and runs the core
// sharded by key hash — one goroutine and one core.Core per shard, so shards step in
// parallel without locks. Each shard loop, woken by an event, yields once so that the
// other goroutines ready to run (connections, peer readers) queue theirs, then takes
// the burst of events, steps them, makes the resulting batch durable in one commit
// (shards' concurrent commits share fsyncs), and only then sends messages and replies.
//
// Node implements api.Backend for the RESP and HTTP servers.
package node
