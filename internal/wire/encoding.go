package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// formatVersion is the first byte of every encoded message.
const formatVersion = 1

// Flag bits saying which optional fields an encoded message carries.
const (
	flagClock = 1 << iota
	flagKey
	flagErr
	flagObject
	flagFound
	flagSync
	flagFilling
	flagWall
	flagsKnown = flagClock | flagKey | flagErr | flagObject | flagFound | flagSync | flagFilling | flagWall
)

// headerLen is the fixed part of an encoding: version, type and flags.
const headerLen = 3

// ErrMalformed is returned (wrapped) when bytes do not decode as a message or frame.
var ErrMalformed = errors.New("wire: malformed message")

// Valid reports whether t is one of the defined message types.
func (t Type) Valid() bool { return t > TypeInvalid && t < typeCount }

// Append appends the binary encoding of m to dst and returns the extended slice. It
// encodes m as it is, even an invalid Type (which Decode then rejects); it does not
// allocate when dst has room.
func Append(dst []byte, m Message) []byte {
	flags := messageFlags(&m)
	dst = append(dst, formatVersion, byte(m.Type), flags)
	dst = appendString(dst, m.From)
	dst = appendString(dst, m.To)
	dst = binary.AppendUvarint(dst, m.ID)
	if flags&flagClock != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(m.Clock))
	}
	if flags&flagWall != 0 {
		dst = binary.AppendVarint(dst, m.WallMs)
	}
	if flags&flagKey != 0 {
		dst = appendString(dst, m.Key.Keyspace)
		dst = appendString(dst, m.Key.Key)
	}
	if flags&flagErr != 0 {
		dst = appendString(dst, m.Err)
	}
	if flags&flagSync != 0 {
		dst = appendSync(dst, m.Sync)
	}
	if m.Type == FwdReq || m.Type == FwdResp {
		dst = appendFwd(dst, m.Fwd)
	}
	if flags&flagObject != 0 {
		dst = object.Append(dst, m.Object)
	}
	return dst
}

func messageFlags(m *Message) byte {
	var f byte
	if m.Clock != 0 {
		f |= flagClock
	}
	if m.Key != (object.Key{}) {
		f |= flagKey
	}
	if m.Err != "" {
		f |= flagErr
	}
	if m.Object.Kind != object.KindRegister || !m.Object.IsZero() {
		f |= flagObject
	}
	if m.Found {
		f |= flagFound
	}
	if m.Sync != nil {
		f |= flagSync
	}
	if m.Filling {
		f |= flagFilling
	}
	if m.WallMs != 0 {
		f |= flagWall
	}
	return f
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Decode parses one encoded message; buf must hold exactly one. It never retains buf.
// Errors wrap ErrMalformed (and object.ErrCorrupt for a bad object).
func Decode(buf []byte) (Message, error) {
	if len(buf) < headerLen {
		return Message{}, fmt.Errorf("%w: %d bytes, shorter than a header", ErrMalformed, len(buf))
	}
	if buf[0] != formatVersion {
		return Message{}, fmt.Errorf("%w: unknown format version %d", ErrMalformed, buf[0])
	}
	m := Message{Type: Type(buf[1])}
	if !m.Type.Valid() {
		return Message{}, fmt.Errorf("%w: unknown message type %d", ErrMalformed, buf[1])
	}
	flags := buf[2]
	if flags&^flagsKnown != 0 {
		return Message{}, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, flags&^flagsKnown)
	}
	m.Found = flags&flagFound != 0
	m.Filling = flags&flagFilling != 0

	d := decoder{buf: buf[headerLen:]}
	var strs stringSet
	strs.add(d.bytes("from"))
	strs.add(d.bytes("to"))
	m.ID = d.uvarint("id")
	if flags&flagClock != 0 {
		m.Clock = version.Timestamp(d.fixed64("clock"))
	}
	if flags&flagWall != 0 {
		u := d.uvarint("wall")
		m.WallMs = int64(u>>1) ^ -int64(u&1)
	}
	if flags&flagKey != 0 {
		strs.add(d.bytes("keyspace"))
		strs.add(d.bytes("key"))
	}
	if flags&flagErr != 0 {
		strs.add(d.bytes("err"))
	}
	if flags&flagSync != 0 {
		m.Sync = d.sync()
	}
	if m.Type == FwdReq || m.Type == FwdResp {
		m.Fwd = d.fwd()
	}
	if d.err != nil {
		return Message{}, d.err
	}
	if flags&flagObject != 0 {
		o, err := object.Decode(d.buf)
		if err != nil {
			return Message{}, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		m.Object = o
	} else if len(d.buf) != 0 {
		return Message{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.buf))
	}

	s := strs.materialize()
	m.From, m.To = s[0], s[1]
	if flags&flagKey != 0 {
		m.Key = object.Key{Keyspace: s[2], Key: s[3]}
	}
	if flags&flagErr != 0 {
		m.Err = s[strs.n-1]
	}
	return m, nil
}

// decoder reads fields from buf, remembering the first error so that a run of reads
// needs one check at the end. After an error every read returns zero.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(field, problem string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", ErrMalformed, field, problem)
	}
	d.buf = nil
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail(field, "bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) fixed64(field string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.buf) < 8 {
		d.fail(field, "truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.buf)
	d.buf = d.buf[8:]
	return v
}

// bytes reads a length-prefixed byte string, checking the declared length against the
// bytes left. The result aliases the input.
func (d *decoder) bytes(field string) []byte {
	n := d.uvarint(field)
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)) {
		d.fail(field, fmt.Sprintf("length %d exceeds the %d bytes left", n, len(d.buf)))
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

// maxStrings is the most strings a message has: from, to, keyspace, key, err.
const maxStrings = 5

// stringSet turns the byte strings of one message into Go strings with a single
// allocation: they share one backing string (they live and die together).
type stringSet struct {
	parts [maxStrings][]byte
	n     int
	total int
}

func (s *stringSet) add(b []byte) {
	s.parts[s.n] = b
	s.n++
	s.total += len(b)
}

func (s *stringSet) materialize() [maxStrings]string {
	var out [maxStrings]string
	if s.total == 0 {
		return out
	}
	var sb strings.Builder
	sb.Grow(s.total)
	for _, p := range s.parts[:s.n] {
		sb.Write(p)
	}
	all := sb.String()
	off := 0
	for i, p := range s.parts[:s.n] {
		out[i] = all[off : off+len(p)]
		off += len(p)
	}
	return out
}
