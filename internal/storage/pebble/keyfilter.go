package pebble

import (
	"math/bits"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// keyFilterHashes is how many bits a key sets in the key filter. With 10 bits per key
// (the filter at its capacity) seven give about 1% false positives.
const keyFilterHashes = 7

// keyFilterBitsPerKey is the filter's design load: bytes*8/keyFilterBitsPerKey keys
// is its capacity, the number it holds at about 1% false positives. Past it the filter
// still never says "absent" of a present key; it only says "maybe" more often.
const keyFilterBitsPerKey = 10

// keyFilter is a Bloom filter of the object keys the store holds or has held: it can
// say that a key was never written, and then Get answers "not found" without a Pebble
// lookup. That is the read-before-write of the first write of every new key, which
// otherwise searches the memtables and consults a filter block of every level.
//
// It is filled at Open with every stored object key, and by Commit with every key a
// batch writes, before the batch is applied. Keys are never removed (a purge leaves
// its bits set), so it errs only towards "maybe". Safe for concurrent use: bits are
// set with atomic OR and read with atomic loads.
type keyFilter struct {
	words []atomic.Uint64
	mask  uint64 // len(words)*64 - 1; the bit count is a power of two
}

// newKeyFilter returns a filter of about maxBytes (rounded down to a power of two, at
// least 64 bytes), or nil (no filter) if maxBytes is not positive.
func newKeyFilter(maxBytes int64) *keyFilter {
	if maxBytes <= 0 {
		return nil
	}
	nbits := uint64(1) << (63 - bits.LeadingZeros64(uint64(max(maxBytes, 64))*8))
	return &keyFilter{words: make([]atomic.Uint64, nbits/64), mask: nbits - 1}
}

// capacity is the number of keys the filter holds at its design false-positive rate.
func (f *keyFilter) capacity() uint64 { return (f.mask + 1) / keyFilterBitsPerKey }

// hashes returns the two hashes key's probes are made of: probe i is bit
// (h1 + i*h2) & mask (double hashing of one 64-bit hash; h2 is odd, so the probes
// differ for any power-of-two size).
func hashes(key []byte) (h1, h2 uint64) {
	h := xxhash.Sum64(key)
	return h, h>>33 | h<<31 | 1
}

// add records key.
func (f *keyFilter) add(key []byte) {
	h1, h2 := hashes(key)
	for i := uint64(0); i < keyFilterHashes; i++ {
		bit := (h1 + i*h2) & f.mask
		w, m := &f.words[bit/64], uint64(1)<<(bit%64)
		if w.Load()&m == 0 {
			w.Or(m)
		}
	}
}

// mayContain reports false only if key was never added.
func (f *keyFilter) mayContain(key []byte) bool {
	h1, h2 := hashes(key)
	for i := uint64(0); i < keyFilterHashes; i++ {
		bit := (h1 + i*h2) & f.mask
		if f.words[bit/64].Load()&(uint64(1)<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}
