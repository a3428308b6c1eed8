// Package transport carries wire.Messages between nodes: over gRPC streams in
// production (one persistent connection per peer, messages batched into frames under
// load) and in memory for tests, with fault controls (drop, delay, partition).
package transport
