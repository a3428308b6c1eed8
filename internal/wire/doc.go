// Package wire defines the node-to-node messages that core produces and transport
// carries, and their compact binary encoding (Append/Decode, fuzzed). It sits below
// both so that neither imports the other.
package wire
