package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// Fwd is the payload of FwdReq and FwdResp: a client request that only a replica of
// its key can coordinate (a write to a siblings keyspace, a CRDT update), forwarded
// by a node that is not one, and the replica's answer. The core owns the meaning of
// the numbers (its Op and Level).
type Fwd struct {
	Op      uint8
	Level   uint8
	TTLMs   int64
	Value   []byte
	Context version.Vector
	CRDT    []byte // an encoded crdt.Op
	// FwdResp: how many replicas acknowledged, and the replica's copy before the write.
	Acks   uint32
	Before object.Object
}

func appendFwd(dst []byte, f *Fwd) []byte {
	if f == nil {
		f = &Fwd{}
	}
	dst = append(dst, f.Op, f.Level)
	dst = binary.AppendVarint(dst, f.TTLMs)
	dst = binary.AppendUvarint(dst, uint64(len(f.Value)))
	dst = append(dst, f.Value...)
	dst = binary.AppendUvarint(dst, uint64(len(f.Context)))
	for _, d := range f.Context {
		dst = appendString(dst, d.Actor)
		dst = binary.AppendUvarint(dst, d.Counter)
	}
	dst = binary.AppendUvarint(dst, uint64(len(f.CRDT)))
	dst = append(dst, f.CRDT...)
	dst = binary.AppendUvarint(dst, uint64(f.Acks))
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	if !f.Before.IsZero() || f.Before.Kind != object.KindRegister {
		dst = object.Append(dst, f.Before)
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func (d *decoder) fwd() *Fwd {
	if len(d.buf) < 2 {
		d.fail("fwd", "truncated")
		return nil
	}
	f := &Fwd{Op: d.buf[0], Level: d.buf[1]}
	d.buf = d.buf[2:]
	u := d.uvarint("ttl")
	f.TTLMs = int64(u>>1) ^ -int64(u&1)
	if v := d.bytes("value"); len(v) > 0 {
		f.Value = append([]byte(nil), v...)
	}
	n := d.count("context", 2)
	for i := 0; i < n && d.err == nil; i++ {
		actor := string(d.bytes("actor"))
		f.Context = append(f.Context, version.Dot{Actor: actor, Counter: d.uvarint("counter")})
	}
	if c := d.bytes("crdt"); len(c) > 0 {
		f.CRDT = append([]byte(nil), c...)
	}
	f.Acks = uint32(d.uvarint("acks"))
	if len(d.buf) < 4 {
		d.fail("before", "truncated")
		return nil
	}
	l := binary.LittleEndian.Uint32(d.buf)
	d.buf = d.buf[4:]
	if uint64(l) > uint64(len(d.buf)) {
		d.fail("before", fmt.Sprintf("length %d exceeds the %d bytes left", l, len(d.buf)))
		return nil
	}
	if l > 0 {
		o, err := object.Decode(d.buf[:l])
		if err != nil {
			d.fail("before", err.Error())
			return nil
		}
		f.Before = o
	}
	d.buf = d.buf[l:]
	if d.err != nil {
		return nil
	}
	f.Context = version.Normalize(f.Context)
	return f
}
