package transport

import (
	"github.com/chorusdb/chorus/internal/wire"
)

// Handler receives messages that arrive from peers. It is called from the transport's
// receive goroutines, possibly concurrently, and must not block for long (queue the
// message and return).
type Handler func(m wire.Message)

// Transport sends messages to peers. Send never blocks on the network: a message to
// an unknown or unreachable peer, or beyond the per-peer queue limit, is dropped and
// counted (the core's timeouts, hints and anti-entropy cover losses). Safe for
// concurrent use.
type Transport interface {
	// Send queues messages for delivery to the peer named by each message's To field.
	Send(msgs ...wire.Message)
	// SetPeers replaces the address book: node id → RPC address. Connections to peers
	// no longer listed are closed.
	SetPeers(addrs map[string]string)
	// Close stops sending and receiving. It is idempotent.
	Close() error
}
