// Package faulty wraps a storage.Engine to inject the faults a disk produces — a full
// disk, a failed fsync, an unreadable sector — so that tests can check that nothing is
// acknowledged that did not persist, and that a node keeps its promises while its
// storage fails.
//
// A failed Commit is refused before it reaches the wrapped engine, so it leaves nothing
// applied; reads keep working unless FailReads is set. Faults last until Heal.
//
//	e := faulty.Wrap(memory.New(memory.Options{}))
//	e.FailCommits(syscall.ENOSPC) // every Commit now fails, wrapping ENOSPC
//	...
//	e.Heal()
package faulty
