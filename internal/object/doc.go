// Package object defines what Chorus stores under a key: an Object made of one or more
// siblings (value bytes, dot, HLC timestamp, tombstone flag, expiry) and the causal
// context that produced them; its compact binary encoding (with a leading format
// version byte); and the merge of two copies of an object.
//
// The package is pure: no clock, no I/O. Times are passed in as unix milliseconds.
package object
