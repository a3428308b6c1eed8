package crdt

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// mapField is one field of a Map: a name, the type of its value, and the value's
// causal payload. A name may hold several fields of different types (created
// concurrently), as in riak_dt_map.
type mapField struct {
	name  string
	typ   Type
	store fieldStore
}

// mapStore is the body of a Map, sorted by (name, type), every payload non-empty. It
// is also the payload of a Map nested in a Map.
type mapStore []mapField

func cmpField(f mapField, name string, t Type) int {
	if c := cmp.Compare(f.name, name); c != 0 {
		return c
	}
	return cmp.Compare(f.typ, t)
}

func (s mapStore) find(name string, t Type) (int, bool) {
	return slices.BinarySearchFunc(s, mapField{name: name, typ: t}, func(f, k mapField) int {
		return cmpField(f, k.name, k.typ)
	})
}

// get returns the payload of field (name, t), or nil.
func (s mapStore) get(name string, t Type) fieldStore {
	if i, found := s.find(name, t); found {
		return s[i].store
	}
	return nil
}

// put sets the payload of field (name, t) in place; a nil payload removes the field.
func (s *mapStore) put(name string, t Type, fs fieldStore) {
	i, found := s.find(name, t)
	switch {
	case found && fs == nil:
		*s = slices.Delete(*s, i, i+1)
	case found:
		(*s)[i].store = fs
	case fs != nil:
		*s = slices.Insert(*s, i, mapField{name: name, typ: t, store: fs})
	}
}

// nameRange returns the positions [i, j) of the fields called name.
func (s mapStore) nameRange(name string) (int, int) {
	i, _ := s.find(name, 0)
	j := i
	for j < len(s) && s[j].name == name {
		j++
	}
	return i, j
}

func mergeMapStores(a, b mapStore, ca, cb vclock) mapStore {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make(mapStore, 0, max(len(a), len(b)))
	keep := func(f mapField, fs fieldStore) {
		if fs != nil {
			out = append(out, mapField{name: f.name, typ: f.typ, store: fs})
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var c int
		switch {
		case j == len(b):
			c = -1
		case i == len(a):
			c = 1
		default:
			c = cmpField(a[i], b[j].name, b[j].typ)
		}
		switch {
		case c < 0:
			keep(a[i], a[i].store.mergeStore(nil, ca, cb))
			i++
		case c > 0:
			keep(b[j], b[j].store.mergeStore(nil, cb, ca))
			j++
		default:
			keep(a[i], a[i].store.mergeStore(b[j].store, ca, cb))
			i++
			j++
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (s mapStore) mergeStore(o fieldStore, self, other vclock) fieldStore {
	os, _ := o.(mapStore)
	return nonEmpty(mergeMapStores(s, os, self, other))
}

func (s mapStore) equalStore(o fieldStore) bool {
	os, ok := o.(mapStore)
	return ok && slices.EqualFunc(s, os, func(a, b mapField) bool {
		return a.name == b.name && a.typ == b.typ && a.store.equalStore(b.store)
	})
}

func (s mapStore) appendStore(dst []byte, ctx vclock) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	for _, f := range s {
		dst = appendString(dst, f.name)
		dst = append(dst, byte(f.typ))
		dst = f.store.appendStore(dst, ctx)
	}
	return dst
}

// appendJSON renders the fields as a JSON object keyed by name. A name that holds
// fields of several types maps to an object keyed by type name.
func (s mapStore) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i := 0; i < len(s); {
		_, j := s[i:].nameRange(s[i].name)
		j += i
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s[i].name)
		dst = append(dst, ':')
		if j-i == 1 {
			dst = s[i].store.appendJSON(dst)
		} else {
			dst = append(dst, '{')
			for k := i; k < j; k++ {
				if k > i {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, s[k].typ.String())
				dst = append(dst, ':')
				dst = s[k].store.appendJSON(dst)
			}
			dst = append(dst, '}')
		}
		i = j
	}
	return append(dst, '}')
}

func (s mapStore) cloneStore() fieldStore { return s.clone() }

// clone copies every container (dot lists and byte values are shared).
func (s mapStore) clone() mapStore {
	if len(s) == 0 {
		return nil
	}
	out := make(mapStore, len(s))
	for i, f := range s {
		out[i] = mapField{name: f.name, typ: f.typ, store: f.store.cloneStore()}
	}
	return out
}

// mapStore reads what appendStore writes. level is the nesting level of the map being
// read (0 for a top-level Map).
func (d *decoder) mapStore(ctx vclock, level int) mapStore {
	if level >= MaxDepth {
		d.fail("maps nested deeper than %d", MaxDepth)
		return nil
	}
	n := d.count(5) // name length, type, entry count, dot
	if n == 0 {
		return nil
	}
	s := make(mapStore, 0, n)
	for i := 0; i < n && d.ok(); i++ {
		name := d.string()
		t := Type(d.byte())
		fs := d.fieldStore(t, ctx, level)
		if d.ok() && i > 0 && cmpField(s[i-1], name, t) >= 0 {
			d.fail("map fields out of order")
		}
		s = append(s, mapField{name: name, typ: t, store: fs})
	}
	if !d.ok() {
		return nil
	}
	return s
}

// fieldStore reads the non-empty payload of a field of type t.
func (d *decoder) fieldStore(t Type, ctx vclock, level int) fieldStore {
	var fs fieldStore
	switch t {
	case TypePNCounter:
		fs = nonEmpty(d.counterStore(ctx))
	case TypeORSet:
		fs = nonEmpty(d.setStore(ctx))
	case TypeLWWRegister:
		fs = nonEmpty(d.lwwStore(ctx))
	case TypeMVRegister:
		fs = nonEmpty(d.mvStore(ctx))
	case TypeMap:
		fs = nonEmpty(d.mapStore(ctx, level+1))
	default:
		d.fail("a map cannot hold a field of type %s", t)
		return nil
	}
	if d.ok() && fs == nil {
		d.fail("empty %s field", t)
	}
	return fs
}
