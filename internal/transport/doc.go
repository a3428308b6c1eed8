// Package transport carries wire.Messages between nodes: over gRPC streams in
// production (one persistent connection per peer, messages batched into frames under
// load) and in memory for tests, with fault controls (drop, delay, partition).
//
// # GRPC
//
// NewGRPC starts a server on a listener and, for each peer given to SetPeers, a
// sender goroutine with one gRPC connection and one long-lived client stream on it.
// The service is described by hand (chorus.transport.v1.Transport/Frames, client
// streaming) and its messages are wire frames moved as raw bytes by a codec passed
// with grpc.ForceCodecV2 / grpc.ForceServerCodecV2, so there is no generated code and
// no global codec registration.
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
// On the receiving side each incoming stream is served by one goroutine, which decodes
// frames and calls the Handler for each message in order. A frame that does not decode
// ends that stream with InvalidArgument (and one log line); other streams carry on.
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
