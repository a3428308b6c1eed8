package storage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/chorusdb/chorus/internal/record"
)

// DefaultMaxRepairs is how many read-repair log entries an engine keeps unless told
// otherwise; older entries are dropped as new ones are appended. The conformance suite
// expects engines opened with their default options to keep exactly this many.
const DefaultMaxRepairs = 10000

// ErrInvalid is returned (wrapped) for a name that no engine can store: a keyspace or
// hint target containing a NUL byte, or an empty hint target. Engines check a whole
// Batch before applying any of it, so a Batch rejected with ErrInvalid leaves nothing
// applied.
var ErrInvalid = errors.New("storage: invalid name")

// ValidKeyspace reports, as an error wrapping ErrInvalid, whether ks can name a
// keyspace: any string without a NUL byte (engines use NUL to end the keyspace in their
// key layout). The empty keyspace is valid.
func ValidKeyspace(ks string) error {
	if strings.IndexByte(ks, 0) >= 0 {
		return fmt.Errorf("%w: keyspace %q contains a NUL byte", ErrInvalid, ks)
	}
	return nil
}

// ValidTarget reports, as an error wrapping ErrInvalid, whether target can name the
// node a hint is held for: a non-empty string without a NUL byte. (ScanHints uses the
// empty target to mean "every target".)
func ValidTarget(target string) error {
	if target == "" {
		return fmt.Errorf("%w: empty hint target", ErrInvalid)
	}
	if strings.IndexByte(target, 0) >= 0 {
		return fmt.Errorf("%w: hint target %q contains a NUL byte", ErrInvalid, target)
	}
	return nil
}

// ValidateBatch checks every name in b and reports every problem at once (joined
// errors, each wrapping ErrInvalid); nil means every engine can store b. Engines call it
// at the start of Commit.
func ValidateBatch(b *record.Batch) error {
	var errs []error
	for _, w := range b.Objects {
		if err := ValidKeyspace(w.Key.Keyspace); err != nil {
			errs = append(errs, err)
		}
	}
	for _, h := range b.Hints {
		if err := ValidTarget(h.Target); err != nil {
			errs = append(errs, err)
		}
		if err := ValidKeyspace(h.Key.Keyspace); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
