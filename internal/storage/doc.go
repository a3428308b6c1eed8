// Package storage defines Engine, the one interface every storage backend implements
// (pebble: the embedded default; memory: tests and the simulator; postgres: the
// relational schema), and the conformance suite (storagetest) they all pass.
package storage
