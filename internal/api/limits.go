package api

import (
	"fmt"

	"github.com/chorusdb/chorus/internal/core"
)

// CheckKey returns an error wrapping core.ErrTooLarge when a key of n bytes exceeds
// the limit, and nil otherwise. Both servers call it before anything reaches the
// Backend, so an oversized key is never stored. The text reads, for example,
// "TOOLARGE key of 4096 bytes exceeds the 2048-byte limit".
func (l Limits) CheckKey(n int) error {
	l = l.WithDefaults()
	if n > l.MaxKeyBytes {
		return fmt.Errorf("%w key of %d bytes exceeds the %d-byte limit", core.ErrTooLarge, n, l.MaxKeyBytes)
	}
	return nil
}

// CheckValue is CheckKey for a value of n bytes.
func (l Limits) CheckValue(n int64) error {
	l = l.WithDefaults()
	if n > int64(l.MaxValueBytes) {
		return fmt.Errorf("%w value of %d bytes exceeds the %d-byte limit", core.ErrTooLarge, n, l.MaxValueBytes)
	}
	return nil
}

// MaxArgBytes is the longest single argument a server needs to accept whole: the
// larger of the two limits. Anything longer is refused without being buffered.
func (l Limits) MaxArgBytes() int {
	l = l.WithDefaults()
	return max(l.MaxKeyBytes, l.MaxValueBytes)
}
