// Package storagetest is the conformance suite every storage.Engine passes: the memory,
// Pebble and PostgreSQL engines, and wrappers such as faulty.
//
// Run checks one engine's behaviour through the storage.Engine interface alone; each
// subtest gets a fresh, empty engine from open and closes it when done. RunDurable
// checks that what was committed survives Close and a reopen of the same directory.
// Call them from the engine's own tests:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Engine {
//			e, err := pebble.Open(t.TempDir(), pebble.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return e
//		})
//	}
//
// What the suite requires beyond the Engine interface's comments:
//
//   - A Batch is checked with storage.ValidateBatch first; a Batch it rejects leaves
//     nothing applied. Get, ScanObjects and ScanHints reject invalid names the same way.
//   - Writes of one Batch apply in the order Objects, Meta, Hints, HintDeletes,
//     Repairs; within each list, later writes win.
//   - Storing a hint whose id is already stored replaces it, even for another target;
//     deleting an id that is not stored is not an error.
//   - Objects come back equal (object.Equal) to what was stored, with causal contexts
//     normalized; values and slices passed in or handed out are never shared with the
//     engine's state.
//   - RecentRepairs(limit) with limit <= 0 returns no entries; engines opened by open
//     keep exactly storage.DefaultMaxRepairs entries.
//   - Scan callbacks may call the engine's other methods (not Close).
//   - After Close every method returns an error wrapping storage.ErrClosed, and Close
//     itself returns nil.
package storagetest
