package transport

import (
	"github.com/chorusdb/chorus/internal/wire"
)

// Handler receives messages that arrive from peers. It is called from the transport's
// receive goroutines, possibly concurrently, and must not block for long (queue the
// message and return): while it runs, later messages on the same link wait.
//
// Messages from one peer arrive in the order that peer sent them, with gaps (a lost
// message is never retried by the transport); GRPC calls the Handler from one
// goroutine per incoming stream, the in-memory transport from one goroutine per
// receiving node. m is the Handler's own copy. m.From and m.To are what the sender
// put in the message: a receiver that cares should check m.To against its own id.
// The Handler must not call the transport's Close, which waits for running Handlers.
type Handler func(m wire.Message)

// Transport sends messages to peers. Send never blocks on the network: a message to
// an unknown or unreachable peer, or beyond the per-peer queue limit, is dropped and
// counted (the core's timeouts, hints and anti-entropy cover losses). Safe for
// concurrent use.
type Transport interface {
	// Send queues messages for delivery to the peer named by each message's To field.
	// The messages are encoded or copied before Send returns, so the caller may reuse
	// them and the slices they reference. A message with an empty From is sent as
	// coming from this node.
	Send(msgs ...wire.Message)
	// SetPeers replaces the address book: node id → RPC address. Connections to peers
	// no longer listed are closed.
	SetPeers(addrs map[string]string)
	// Close stops sending and receiving. It is idempotent. Once it returns the Handler
	// is not called again.
	Close() error
}
