package object

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cespare/xxhash/v2"

	"github.com/chorusdb/chorus/internal/version"
)

// formatVersion is the first byte of every encoded object.
const formatVersion = 1

const (
	flagTombstone = 1 << iota
	flagExpires

	knownFlags = flagTombstone | flagExpires
)

// Limits that a decoder enforces so that a corrupt or hostile encoding cannot make it
// allocate more than the bytes it was given.
const (
	maxActorLen = 1024

	// The fewest bytes a dot (actor length, counter) and a sibling (flags, timestamp,
	// dot, value length) take, so that a declared count can be checked against the
	// bytes left before anything is allocated for it.
	minDotLen     = 2
	minSiblingLen = 3 + minDotLen
)

// ErrCorrupt is returned when bytes do not decode as an object.
var ErrCorrupt = errors.New("object: corrupt encoding")

// Append appends the binary encoding of o to dst and returns the extended slice.
func Append(dst []byte, o Object) []byte {
	dst = append(dst, formatVersion, byte(o.Kind))
	dst = binary.AppendUvarint(dst, uint64(len(o.Context)))
	for _, d := range o.Context {
		dst = appendDot(dst, d)
	}
	dst = binary.AppendUvarint(dst, uint64(len(o.Siblings)))
	for _, s := range o.Siblings {
		var flags byte
		if s.Tombstone {
			flags |= flagTombstone
		}
		if s.ExpiresAt != 0 {
			flags |= flagExpires
		}
		dst = append(dst, flags)
		dst = binary.AppendUvarint(dst, uint64(s.Timestamp))
		dst = appendDot(dst, s.Dot)
		if s.ExpiresAt != 0 {
			dst = binary.AppendVarint(dst, s.ExpiresAt)
		}
		dst = binary.AppendUvarint(dst, uint64(len(s.Value)))
		dst = append(dst, s.Value...)
	}
	return dst
}

// Encode returns the binary encoding of o.
func Encode(o Object) []byte { return Append(make([]byte, 0, maxEncodedLen(o)), o) }

// Digest returns a 64-bit hash of o's encoding; two replicas hold the same object
// exactly when their digests match (up to hash collisions).
func Digest(o Object) uint64 {
	bp := digestBufs.Get().(*[]byte)
	b := Append((*bp)[:0], o)
	h := xxhash.Sum64(b)
	if cap(b) <= maxDigestBuf {
		*bp = b[:0]
		digestBufs.Put(bp)
	}
	return h
}

// digestBufs holds encoding buffers for Digest, which every write calls twice (the
// Merkle tree's old and new item): it needs the encoding only for the moment it
// hashes it. Buffers past maxDigestBuf are left to the garbage collector.
var digestBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

const maxDigestBuf = 64 << 10

// maxEncodedLen bounds the length of o's encoding, so that Encode allocates once.
func maxEncodedLen(o Object) int {
	n := 2 + 2*binary.MaxVarintLen64
	for _, d := range o.Context {
		n += 2*binary.MaxVarintLen64 + len(d.Actor)
	}
	for _, s := range o.Siblings {
		n += 1 + 5*binary.MaxVarintLen64 + len(s.Dot.Actor) + len(s.Value)
	}
	return n
}

func appendDot(dst []byte, d version.Dot) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(d.Actor)))
	dst = append(dst, d.Actor...)
	return binary.AppendUvarint(dst, d.Counter)
}

// Decode parses an encoded object. Value slices are copied, so buf may be reused.
func Decode(buf []byte) (Object, error) {
	d := decoder{buf: buf}
	o, err := d.object()
	if err != nil {
		return Object{}, err
	}
	if len(d.buf) != 0 {
		return Object{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.buf))
	}
	return o, nil
}

type decoder struct{ buf []byte }

func (d *decoder) object() (Object, error) {
	if len(d.buf) < 2 {
		return Object{}, fmt.Errorf("%w: short header", ErrCorrupt)
	}
	if d.buf[0] != formatVersion {
		return Object{}, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, d.buf[0])
	}
	o := Object{Kind: Kind(d.buf[1])}
	if !o.Kind.Valid() {
		return Object{}, fmt.Errorf("%w: unknown kind %d", ErrCorrupt, d.buf[1])
	}
	d.buf = d.buf[2:]
	n, err := d.countOf(minDotLen)
	if err != nil {
		return Object{}, err
	}
	if n > 0 {
		o.Context = make(version.Vector, 0, n)
	}
	for i := uint64(0); i < n; i++ {
		dot, err := d.dot()
		if err != nil {
			return Object{}, err
		}
		o.Context = append(o.Context, dot)
	}
	if !canonical(o.Context) {
		o.Context = version.Normalize(o.Context)
	}
	if n, err = d.countOf(minSiblingLen); err != nil {
		return Object{}, err
	}
	if n > 0 {
		o.Siblings = make([]Sibling, 0, n)
	}
	for i := uint64(0); i < n; i++ {
		s, err := d.sibling()
		if err != nil {
			return Object{}, err
		}
		o.Siblings = append(o.Siblings, s)
	}
	return o, nil
}

// canonical reports whether v is sorted by distinct actors with no zero counter, as
// Append writes every context that came from Normalize or Join.
func canonical(v version.Vector) bool {
	for i, d := range v {
		if d.Counter == 0 || i > 0 && v[i-1].Actor >= d.Actor {
			return false
		}
	}
	return true
}

func (d *decoder) sibling() (Sibling, error) {
	if len(d.buf) < 1 {
		return Sibling{}, fmt.Errorf("%w: short sibling", ErrCorrupt)
	}
	flags := d.buf[0]
	if flags&^knownFlags != 0 {
		return Sibling{}, fmt.Errorf("%w: unknown sibling flags %#x", ErrCorrupt, flags)
	}
	d.buf = d.buf[1:]
	ts, err := d.uvarint()
	if err != nil {
		return Sibling{}, err
	}
	s := Sibling{Timestamp: version.Timestamp(ts), Tombstone: flags&flagTombstone != 0}
	if s.Dot, err = d.dot(); err != nil {
		return Sibling{}, err
	}
	if flags&flagExpires != 0 {
		v, n := binary.Varint(d.buf)
		if n <= 0 {
			return Sibling{}, fmt.Errorf("%w: bad expiry", ErrCorrupt)
		}
		s.ExpiresAt = v
		d.buf = d.buf[n:]
	}
	vlen, err := d.count()
	if err != nil {
		return Sibling{}, err
	}
	s.Value = append([]byte(nil), d.buf[:vlen]...)
	d.buf = d.buf[vlen:]
	return s, nil
}

func (d *decoder) dot() (version.Dot, error) {
	alen, err := d.count()
	if err != nil {
		return version.Dot{}, err
	}
	if alen > maxActorLen {
		return version.Dot{}, fmt.Errorf("%w: actor of %d bytes", ErrCorrupt, alen)
	}
	actor := string(d.buf[:alen])
	d.buf = d.buf[alen:]
	c, err := d.uvarint()
	return version.Dot{Actor: actor, Counter: c}, err
}

func (d *decoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad varint", ErrCorrupt)
	}
	d.buf = d.buf[n:]
	return v, nil
}

// count reads a length and checks that it cannot exceed the bytes left, so that memory
// follows bytes received, not lengths declared.
func (d *decoder) count() (uint64, error) { return d.countOf(1) }

// countOf reads a count of items that take at least size bytes each and checks that so
// many items fit in the bytes left.
func (d *decoder) countOf(size uint64) (uint64, error) {
	v, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if v > uint64(len(d.buf))/size {
		return 0, fmt.Errorf("%w: %d items of %d+ bytes exceed the %d bytes left", ErrCorrupt, v, size, len(d.buf))
	}
	return v, nil
}
