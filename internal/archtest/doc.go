// Package archtest holds the architecture test: the pure core tiers (core, ring,
// version, object, crdt, merkle, record, wire) may not import I/O, clocks, goroutine
// launchers or higher tiers. It has no non-test code.
package archtest
