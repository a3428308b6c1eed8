// Package wire defines the node-to-node messages that core produces and transport
// carries, and their compact binary encoding (Append/Decode, fuzzed). It sits below
// both so that neither imports the other.
//
// Although DESIGN.md names protobuf for this layer, the encoding is deliberately
// hand-written (no protoc in the build, fewer allocations, easy to fuzz) and transport
// carries the encoded frames over gRPC with a codec that passes raw bytes through.
//
// # Message encoding
//
// One message is encoded as
//
//	version  byte     (currently 1)
//	type     byte     (a valid Type; others are rejected)
//	flags    byte     (which optional fields follow; unknown bits are rejected)
//	from     string
//	to       string
//	id       uvarint
//	clock    8 bytes little-endian              if flagClock
//	keyspace string, key string                 if flagKey
//	err      string                             if flagErr
//	object   object.Append encoding, to the end if flagObject
//
// where a string is a uvarint length followed by that many bytes, and Found is a flag
// bit. Optional fields cost nothing when zero, and every field of Message survives a
// round trip whatever the Type (responses carry the Key so receivers can route them).
//
// # Frames
//
// A frame batches messages for one peer: a uvarint count followed by count entries,
// each a uvarint length and a message encoding (AppendFrame, or AppendFrameHeader plus
// AppendFrameMessage to build one incrementally; DecodeFrame to read one).
//
// # Hostile input
//
// Decode and DecodeFrame accept arbitrary bytes: they return an error wrapping
// ErrMalformed instead of panicking, check every declared length or count against the
// bytes actually left before allocating anything, so memory follows the bytes received,
// and never retain the input buffer (it may be reused once they return).
package wire
