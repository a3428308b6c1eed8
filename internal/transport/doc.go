// Package transport carries wire.Messages between nodes: over one persistent
// connection per peer in production (Socket; messages batched into frames under load)
// and in memory for tests, with fault controls (drop, delay, partition).
//
// # Socket
//
// New starts a server on a listener and, for each peer given to SetPeers, a sender
// goroutine with one link to it. Config.Protocol says what carries the frames:
//
//   - ProtocolTCP (the default, tcp.go): a TCP connection (TLS when configured) on
//     which the dialing node writes a preface, then 4-byte length-prefixed frames; a
//     zero length is a ping, answered with one byte. Nothing else flows back.
//   - ProtocolGRPC (grpc.go, codec.go): one long-lived client stream on a gRPC
//     connection. The service is described by hand (chorus.transport.v1.Transport/
//     Frames) and its messages are wire frames moved as raw bytes by a codec passed
//     with grpc.ForceCodecV2 / grpc.ForceServerCodecV2: no generated code and no
//     global codec registration.
//
// Every node of a cluster must use the same protocol; a TCP server refuses a gRPC
// peer and logs why.
//
// Send encodes each message straight into its peer's queue and returns. The sender
// writes the whole queued batch as one frame (up to MaxFrameBytes): idle, every
// message leaves alone at once; under load, everything that queued while the previous
// frame was being written leaves in the next one. A peer's queue is bounded (QueueLen
// messages, QueueBytes bytes); when it is full, when the peer is unknown, and while
// the peer is unreachable (its stream broke and has not yet been reopened, with
// backoff MinBackoff to MaxBackoff) messages are dropped and counted, never waited
// for: the core's timeouts, hints and anti-entropy recover from losses, and a dead peer
// costs no memory.
//
// On the receiving side each incoming connection or stream is served by one
// goroutine, which decodes frames and calls the Handler for each message in order. A
// frame that does not decode ends that connection (gRPC: with InvalidArgument) and
// logs one line; others carry on.
//
// Counters are exposed by Stats and, given a Registerer, as chorus_transport_*
// metrics: messages_sent_total, frames_sent_total, bytes_sent_total,
// messages_received_total, frames_rejected_total and messages_dropped_total{reason}.
//
// # In memory
//
// NewNetwork makes a network that nodes Join by id; it delivers asynchronously (one
// goroutine per receiving node, in order per link unless a delay spread is set) and
// injects partitions, isolation, loss, duplication and delay from a seeded generator.
package transport
