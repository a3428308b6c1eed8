package faulty

import (
	"errors"
	"fmt"
	"sync"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// ErrInjected is the fault injected when FailCommits, FailCommitsAfter or FailReads is
// given a nil error. Every injected error wraps the error given (or this one).
var ErrInjected = errors.New("faulty: injected storage fault")

// Engine is a storage.Engine that forwards to another one unless told to fail. It is
// safe for concurrent use; faults may be switched on and off while calls run.
type Engine struct {
	inner storage.Engine

	mu sync.Mutex
	// commitErr, when set, fails commits once okLeft more have succeeded (okLeft < 0:
	// no count, fail at once).
	commitErr error
	okLeft    int
	readErr   error
	commits   int // commits forwarded
	failed    int // commits refused
}

var _ storage.Engine = (*Engine)(nil)

// Wrap returns e wrapped, with no fault set.
func Wrap(e storage.Engine) *Engine {
	return &Engine{inner: e}
}

// Unwrap returns the wrapped engine.
func (f *Engine) Unwrap() storage.Engine { return f.inner }

// FailCommits makes every Commit fail with an error wrapping err (ErrInjected if nil),
// without applying anything, until Heal.
func (f *Engine) FailCommits(err error) {
	f.FailCommitsAfter(0, err)
}

// FailCommitsAfter lets the next n Commits through, then fails every Commit as
// FailCommits does, until Heal: a disk that fills up partway through a test.
func (f *Engine) FailCommitsAfter(n int, err error) {
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commitErr, f.okLeft = err, n
}

// FailReads makes every read (Get, the scans, Keyspaces, GetMeta, RecentRepairs) fail
// with an error wrapping err (ErrInjected if nil) until Heal.
func (f *Engine) FailReads(err error) {
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readErr = err
}

// Heal clears every fault.
func (f *Engine) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commitErr, f.okLeft, f.readErr = nil, 0, nil
}

// Commits returns how many Commits were passed to the wrapped engine.
func (f *Engine) Commits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commits
}

// FailedCommits returns how many Commits were refused with an injected fault.
func (f *Engine) FailedCommits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// commitFault decides whether this Commit fails, and counts it.
func (f *Engine) commitFault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.commitErr != nil && f.okLeft <= 0 {
		f.failed++
		return fmt.Errorf("faulty: commit refused: %w", f.commitErr)
	}
	if f.commitErr != nil {
		f.okLeft--
	}
	f.commits++
	return nil
}

func (f *Engine) readFault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readErr != nil {
		return fmt.Errorf("faulty: read refused: %w", f.readErr)
	}
	return nil
}

// Commit forwards b to the wrapped engine, or fails without applying any of it.
func (f *Engine) Commit(b *record.Batch) error {
	if err := f.commitFault(); err != nil {
		return err
	}
	return f.inner.Commit(b)
}

// Get forwards to the wrapped engine unless reads fail.
func (f *Engine) Get(key object.Key) (object.Object, bool, error) {
	if err := f.readFault(); err != nil {
		return object.Object{}, false, err
	}
	return f.inner.Get(key)
}

// ScanObjects forwards to the wrapped engine unless reads fail.
func (f *Engine) ScanObjects(ks string, start string, fn func(key object.Key, obj object.Object) bool) error {
	if err := f.readFault(); err != nil {
		return err
	}
	return f.inner.ScanObjects(ks, start, fn)
}

// Keyspaces forwards to the wrapped engine unless reads fail.
func (f *Engine) Keyspaces() ([]string, error) {
	if err := f.readFault(); err != nil {
		return nil, err
	}
	return f.inner.Keyspaces()
}

// GetMeta forwards to the wrapped engine unless reads fail.
func (f *Engine) GetMeta(name string) ([]byte, bool, error) {
	if err := f.readFault(); err != nil {
		return nil, false, err
	}
	return f.inner.GetMeta(name)
}

// ScanMeta forwards to the wrapped engine unless reads fail.
func (f *Engine) ScanMeta(prefix string, fn func(name string, value []byte) bool) error {
	if err := f.readFault(); err != nil {
		return err
	}
	return f.inner.ScanMeta(prefix, fn)
}

// ScanHints forwards to the wrapped engine unless reads fail.
func (f *Engine) ScanHints(target string, fn func(h record.Hint) bool) error {
	if err := f.readFault(); err != nil {
		return err
	}
	return f.inner.ScanHints(target, fn)
}

// RecentRepairs forwards to the wrapped engine unless reads fail.
func (f *Engine) RecentRepairs(limit int) ([]record.Repair, error) {
	if err := f.readFault(); err != nil {
		return nil, err
	}
	return f.inner.RecentRepairs(limit)
}

// Close closes the wrapped engine; faults do not affect it.
func (f *Engine) Close() error {
	return f.inner.Close()
}
