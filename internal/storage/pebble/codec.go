package pebble

import (
	"encoding/binary"
	"fmt"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/storage"
)

// Encodings of the records Pebble keeps besides objects. Each starts with a format
// version byte so that a later format can be told apart; strings are uvarint length +
// bytes, times are zig-zag varints.
//
//	hint:   1 | id uvarint | target | keyspace | key | createdAt | expiresAt | object.Append
//	repair: 1 | keyspace | key | staleNode | repairedAt
//
// A hint's id and target are also in its Pebble key; decoding checks that they agree.
const (
	hintFormat   = 1
	repairFormat = 1
)

// appendHint appends the encoding of h to dst.
func appendHint(dst []byte, h record.Hint) []byte {
	dst = append(dst, hintFormat)
	dst = binary.AppendUvarint(dst, h.ID)
	dst = appendString(dst, h.Target)
	dst = appendString(dst, h.Key.Keyspace)
	dst = appendString(dst, h.Key.Key)
	dst = binary.AppendVarint(dst, h.CreatedAt)
	dst = binary.AppendVarint(dst, h.ExpiresAt)
	return object.Append(dst, h.Object)
}

// decodeHint parses an encoded hint; errors wrap storage.ErrCorrupt. buf is not
// retained.
func decodeHint(buf []byte) (record.Hint, error) {
	d := decoder{buf: buf, what: "hint"}
	d.version(hintFormat)
	h := record.Hint{ID: d.uvarint()}
	h.Target = d.string()
	h.Key.Keyspace = d.string()
	h.Key.Key = d.string()
	h.CreatedAt = d.varint()
	h.ExpiresAt = d.varint()
	if d.err != nil {
		return record.Hint{}, d.err
	}
	obj, err := object.Decode(d.buf)
	if err != nil {
		return record.Hint{}, fmt.Errorf("%w: hint %d object: %w", storage.ErrCorrupt, h.ID, err)
	}
	h.Object = obj
	return h, nil
}

// appendRepair appends the encoding of r to dst.
func appendRepair(dst []byte, r record.Repair) []byte {
	dst = append(dst, repairFormat)
	dst = appendString(dst, r.Key.Keyspace)
	dst = appendString(dst, r.Key.Key)
	dst = appendString(dst, r.StaleNode)
	return binary.AppendVarint(dst, r.RepairedAt)
}

// decodeRepair parses an encoded repair log entry; errors wrap storage.ErrCorrupt.
func decodeRepair(buf []byte) (record.Repair, error) {
	d := decoder{buf: buf, what: "repair"}
	d.version(repairFormat)
	var r record.Repair
	r.Key.Keyspace = d.string()
	r.Key.Key = d.string()
	r.StaleNode = d.string()
	r.RepairedAt = d.varint()
	d.end()
	if d.err != nil {
		return record.Repair{}, d.err
	}
	return r, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads fields in turn; after the first error every read returns a zero value
// and err keeps that first error.
type decoder struct {
	buf  []byte
	what string
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", storage.ErrCorrupt, d.what, fmt.Sprintf(format, args...))
	}
	d.buf = nil
}

func (d *decoder) version(want byte) {
	if len(d.buf) == 0 {
		d.fail("empty")
		return
	}
	if d.buf[0] != want {
		d.fail("unknown format version %d", d.buf[0])
		return
	}
	d.buf = d.buf[1:]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// string reads a length-prefixed string; the length is checked against the bytes left
// before anything is allocated.
func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.buf)) {
		d.fail("string of %d bytes with %d left", n, len(d.buf))
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) end() {
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
}
