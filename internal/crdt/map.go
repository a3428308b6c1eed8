package crdt

import (
	"fmt"
	"slices"
)

// Map is a map from string names to embedded CRDTs, with add-wins fields whose
// removal respects causality (riak_dt_map, or the AWORMap of delta CRDTs): a shopping
// cart of item → quantity is a Map of counters. A field holds one of five types:
//
//   - TypePNCounter: a counter (Increment, Counter);
//   - TypeORSet: an add-wins set of strings (AddToSet, RemoveFromSet, SetElements);
//   - TypeLWWRegister: a last-write-wins register (Assign, Register);
//   - TypeMVRegister: a multi-value register (AssignMulti, MultiValues);
//   - TypeMap: a nested Map (UpdateMap, Submap), up to MaxDepth levels.
//
// Every update to a field issues a dot from the Map's one causal context, which all
// fields share, and the embedded values are themselves dot-based ("causal"), so:
//
//   - an update concurrent with a removal of the field wins: the field survives, with
//     what the concurrent update wrote (add-wins);
//   - a removal drops what it observed, with no tombstone, and merging an older state
//     never brings it back; a field removed and then updated again starts empty;
//   - a name may hold fields of several types if they were created concurrently; each
//     is kept, and Fields lists them.
//
// A counter field keeps one entry per actor: the actor's running total, tagged with the
// dot of its latest increment. A removal drops the entries it has seen, and an
// increment made later by an actor that saw the removal starts again from zero. The
// one imprecision: if an actor increments concurrently with a removal it has not yet
// seen, its new entry carries its whole running total, so after the merge the counter
// holds that actor's earlier (removed) contribution plus the new increment, while the
// removed contributions of every other actor stay removed. (Exact reset semantics
// would need a dot per increment, i.e. state growing with every increment.)
//
// The zero Map is an empty map ready to use.
type Map struct {
	ctx    vclock
	fields mapStore
	level  int // nesting level: 0 for a top-level map; not part of the state
}

// Field names a field of a Map: its name and the type of its value.
type Field struct {
	Name string // the field's name (the key in the JSON view)
	Type Type   // the type of the field's value
}

// NewMap returns an empty map.
func NewMap() *Map { return &Map{} }

// Type returns TypeMap.
func (m *Map) Type() Type { return TypeMap }

// Increment adds delta (which may be negative) to the counter field name on behalf of
// actor, creating the field at 0 if absent. The actor must be the replica applying the
// operation to its own latest state (see the package documentation). It fails with
// ErrOverflow, leaving the map unchanged, when the counter seen here would leave the
// int64 range.
func (m *Map) Increment(actor, name string, delta int64) error {
	cs, _ := m.fields.get(name, TypePNCounter).(counterStore)
	v, err := cs.incremented(actor, delta)
	if err != nil {
		return err
	}
	cs.put(m.ctx.next(actor), v)
	m.fields.put(name, TypePNCounter, cs)
	return nil
}

// Counter returns the value of the counter field name (clamped to the int64 range)
// and whether the field exists.
func (m *Map) Counter(name string) (int64, bool) {
	cs, ok := m.fields.get(name, TypePNCounter).(counterStore)
	if !ok {
		return 0, false
	}
	v, _ := cs.sum().int64()
	return v, true
}

// AddToSet adds elem to the set field name on behalf of actor, creating the field if
// absent.
func (m *Map) AddToSet(actor, name, elem string) {
	ss, _ := m.fields.get(name, TypeORSet).(setStore)
	ss.add(elem, m.ctx.next(actor))
	m.fields.put(name, TypeORSet, ss)
}

// RemoveFromSet removes elem (as observed here) from the set field name and reports
// whether it was present. A set field left with no element disappears.
func (m *Map) RemoveFromSet(name, elem string) bool {
	ss, _ := m.fields.get(name, TypeORSet).(setStore)
	if !ss.contains(elem) {
		return false
	}
	ss.remove(elem)
	m.fields.put(name, TypeORSet, nonEmpty(ss))
	return true
}

// SetElements returns the elements of the set field name in ascending order and
// whether the field exists.
func (m *Map) SetElements(name string) ([]string, bool) {
	ss, ok := m.fields.get(name, TypeORSet).(setStore)
	if !ok {
		return nil, false
	}
	return ss.elements(), true
}

// Assign writes value (copied) with timestamp ts to the last-write-wins register
// field name on behalf of actor, creating the field if absent, and reports whether it
// took effect: like LWWRegister.Set, a write that does not beat the current value's
// (timestamp, actor) is ignored. When it takes effect it replaces every write this
// state holds for the field.
func (m *Map) Assign(actor, name string, ts uint64, value []byte) bool {
	ls, _ := m.fields.get(name, TypeLWWRegister).(lwwStore)
	e := lwwEntry{d: dot{actor: actor}, ts: ts, value: cloneBytes(value)}
	if w, ok := ls.winner(); ok && cmpLWWEntry(e, w) <= 0 {
		return false
	}
	e.d = m.ctx.next(actor)
	m.fields.put(name, TypeLWWRegister, lwwStore{e})
	return true
}

// Register returns the value (a copy) of the last-write-wins register field name and
// whether the field exists.
func (m *Map) Register(name string) ([]byte, bool) {
	ls, _ := m.fields.get(name, TypeLWWRegister).(lwwStore)
	w, ok := ls.winner()
	return cloneBytes(w.value), ok
}

// AssignMulti writes value (copied) to the multi-value register field name on behalf
// of actor, creating the field if absent and replacing every value this state holds
// for it.
func (m *Map) AssignMulti(actor, name string, value []byte) {
	m.fields.put(name, TypeMVRegister, mvStore{{d: m.ctx.next(actor), value: cloneBytes(value)}})
}

// MultiValues returns the current values (copies, distinct, in ascending byte order)
// of the multi-value register field name and whether the field exists.
func (m *Map) MultiValues(name string) ([][]byte, bool) {
	ms, ok := m.fields.get(name, TypeMVRegister).(mvStore)
	if !ok {
		return nil, false
	}
	return ms.values(), true
}

// UpdateMap applies fn to the nested map field name, creating it if absent. fn
// receives a map that shares this map's causal context; it must use it only during the
// call. If fn fails, nothing changes and its error is returned. A nested map left
// without fields disappears (so creating an empty nested map has no effect). It fails
// with ErrTooDeep when the nested map would be deeper than MaxDepth.
func (m *Map) UpdateMap(name string, fn func(sub *Map) error) error {
	if m.level+1 >= MaxDepth {
		return fmt.Errorf("%w: %d levels", ErrTooDeep, MaxDepth)
	}
	nested, _ := m.fields.get(name, TypeMap).(mapStore)
	sub := &Map{ctx: m.ctx.clone(), fields: nested.clone(), level: m.level + 1}
	if err := fn(sub); err != nil {
		return err
	}
	m.ctx = sub.ctx
	m.fields.put(name, TypeMap, nonEmpty(sub.fields))
	return nil
}

// Submap returns a copy of the nested map field name, as a Map of its own (with this
// map's causal context), and whether the field exists.
func (m *Map) Submap(name string) (*Map, bool) {
	nested, ok := m.fields.get(name, TypeMap).(mapStore)
	if !ok {
		return nil, false
	}
	return &Map{ctx: m.ctx.clone(), fields: nested.clone()}, true
}

// Remove removes every field called name (of any type), as observed here, and reports
// whether there was one. Updates to the field that this state has not seen
// (concurrent ones) survive the merge.
func (m *Map) Remove(name string) bool {
	i, j := m.fields.nameRange(name)
	m.fields = slices.Delete(m.fields, i, j)
	return j > i
}

// RemoveField removes the field (name, t), as observed here, and reports whether it
// existed.
func (m *Map) RemoveField(name string, t Type) bool {
	i, found := m.fields.find(name, t)
	if found {
		m.fields = slices.Delete(m.fields, i, i+1)
	}
	return found
}

// Has reports whether a field called name exists (of any type).
func (m *Map) Has(name string) bool {
	i, j := m.fields.nameRange(name)
	return j > i
}

// Fields returns the fields in order of name, then type.
func (m *Map) Fields() []Field {
	out := make([]Field, len(m.fields))
	for i, f := range m.fields {
		out[i] = Field{Name: f.name, Type: f.typ}
	}
	return out
}

// Len returns the number of fields.
func (m *Map) Len() int { return len(m.fields) }

// Join returns the merge of m and o as a new map. A nil o is the empty map.
func (m *Map) Join(o *Map) *Map {
	if o == nil {
		return m.Clone()
	}
	return &Map{
		ctx:    joinClocks(m.ctx, o.ctx),
		fields: mergeMapStores(m.fields, o.fields, m.ctx, o.ctx),
		level:  m.level,
	}
}

// Merge implements Value.
func (m *Map) Merge(other Value) (Value, error) {
	o, ok := other.(*Map)
	if !ok {
		return nil, wrongType(TypeMap, other)
	}
	return m.Join(o), nil
}

// Clone returns a deep copy of m.
func (m *Map) Clone() *Map {
	return &Map{ctx: m.ctx.clone(), fields: m.fields.clone(), level: m.level}
}

// Equal implements Value.
func (m *Map) Equal(other Value) bool {
	o, ok := other.(*Map)
	return ok && o != nil && m.ctx.equal(o.ctx) && m.fields.equalStore(o.fields)
}

// Append implements Value: header, causal context, then each field (name, type byte,
// payload) in order.
func (m *Map) Append(dst []byte) []byte {
	dst = appendClock(appendHeader(dst, TypeMap), m.ctx)
	return m.fields.appendStore(dst, m.ctx)
}

// DecodeMap parses what Map.Append writes. It rejects maps nested deeper than
// MaxDepth.
func DecodeMap(buf []byte) (*Map, error) {
	d := start(buf, TypeMap)
	m := &Map{ctx: d.clock(maxCounter)}
	m.fields = d.mapStore(m.ctx, 0)
	if err := d.finish(); err != nil {
		return nil, err
	}
	return m, nil
}

// MarshalJSON renders the map as a JSON object from field name to the field's value:
// a number for a counter, an array of strings for a set, the value for a
// last-write-wins register, an array of values for a multi-value register, an object
// for a nested map. A name that holds several types maps to an object keyed by type
// name, e.g. {"x":{"pncounter":1,"orset":["a"]}}.
func (m *Map) MarshalJSON() ([]byte, error) { return m.fields.appendJSON(nil), nil }
