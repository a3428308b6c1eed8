package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/chorusdb/chorus/internal/object"
)

// maxSyncItems bounds every list of a Sync payload; with the per-item minimum sizes it
// keeps a decoder's allocations proportional to the bytes received.
const maxSyncItems = 1 << 20

func appendSync(dst []byte, s *Sync) []byte {
	dst = append(dst, byte(s.Step))
	dst = binary.AppendUvarint(dst, s.Epoch)
	dst = binary.AppendUvarint(dst, uint64(s.Shard))
	for _, list := range [][]uint32{s.Ranges, s.Nodes, s.Equal} {
		dst = binary.AppendUvarint(dst, uint64(len(list)))
		for _, v := range list {
			dst = binary.AppendUvarint(dst, uint64(v))
		}
	}
	for _, list := range [][]uint64{s.Hashes, s.Digests} {
		dst = binary.AppendUvarint(dst, uint64(len(list)))
		for _, v := range list {
			dst = binary.LittleEndian.AppendUint64(dst, v)
		}
	}
	for _, keys := range [][]object.Key{s.Keys, s.Pull} {
		dst = binary.AppendUvarint(dst, uint64(len(keys)))
		for _, k := range keys {
			dst = appendString(dst, k.Keyspace)
			dst = appendString(dst, k.Key)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.Objects)))
	for _, o := range s.Objects {
		start := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = object.Append(dst, o)
		binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	}
	return dst
}

// count reads a list length and checks it against the bytes left, given the smallest
// encoding of one item, so that a hostile length cannot force a large allocation.
func (d *decoder) count(field string, minItem int) int {
	n := d.uvarint(field)
	if d.err != nil {
		return 0
	}
	if n > maxSyncItems || n*uint64(minItem) > uint64(len(d.buf)) {
		d.fail(field, fmt.Sprintf("%d items cannot fit in %d bytes", n, len(d.buf)))
		return 0
	}
	return int(n)
}

func (d *decoder) sync() *Sync {
	if len(d.buf) < 1 {
		d.fail("sync", "truncated")
		return nil
	}
	s := &Sync{Step: SyncStep(d.buf[0])}
	d.buf = d.buf[1:]
	if s.Step < SyncRoots || s.Step > SyncPush {
		d.fail("sync", fmt.Sprintf("unknown step %d", s.Step))
		return nil
	}
	s.Epoch = d.uvarint("epoch")
	s.Shard = uint32(d.uvarint("shard"))
	for _, list := range []*[]uint32{&s.Ranges, &s.Nodes, &s.Equal} {
		n := d.count("indices", 1)
		if n > 0 {
			*list = make([]uint32, n)
			for i := range *list {
				(*list)[i] = uint32(d.uvarint("index"))
			}
		}
	}
	for _, list := range []*[]uint64{&s.Hashes, &s.Digests} {
		n := d.count("hashes", 8)
		if n > 0 {
			*list = make([]uint64, n)
			for i := range *list {
				(*list)[i] = d.fixed64("hash")
			}
		}
	}
	for _, keys := range []*[]object.Key{&s.Keys, &s.Pull} {
		n := d.count("keys", 2)
		if n > 0 {
			*keys = make([]object.Key, n)
			for i := range *keys {
				(*keys)[i] = object.Key{Keyspace: string(d.bytes("keyspace")), Key: string(d.bytes("key"))}
			}
		}
	}
	n := d.count("objects", 4)
	for i := 0; i < n && d.err == nil; i++ {
		if len(d.buf) < 4 {
			d.fail("object", "truncated")
			break
		}
		l := binary.LittleEndian.Uint32(d.buf)
		if uint64(l) > uint64(len(d.buf)-4) {
			d.fail("object", "length exceeds the bytes left")
			break
		}
		o, err := object.Decode(d.buf[4 : 4+l])
		if err != nil {
			d.fail("object", err.Error())
			break
		}
		s.Objects = append(s.Objects, o)
		d.buf = d.buf[4+l:]
	}
	return s
}
