// Package memory is an in-memory storage.Engine for tests and the deterministic
// simulator.
//
// Everything lives in Go maps guarded by one sync.RWMutex; nothing survives the
// process. Objects are kept in their binary encoding (object.Encode), so what a caller
// passes in or gets back is always a fresh copy that it may mutate freely, and an object
// read back is exactly what the Pebble engine would return (the same normalization of
// causal contexts). Scans sort keys before visiting them and call back outside the lock
// on a snapshot, so iteration is deterministic, sees each committed Batch wholly or not
// at all, and callbacks may call back into the engine.
//
// Use:
//
//	e := memory.New(memory.Options{})
//	defer e.Close()
//	err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: k, Object: o}}})
package memory
