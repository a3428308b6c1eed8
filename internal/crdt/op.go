package crdt

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Action is what an Op does.
type Action uint8

// The actions. The numbers are part of Op's encoding: never renumber them.
const (
	// ActIncrement adds Delta to a counter (GCounter: Delta ≥ 0; PNCounter; a Map's
	// counter field).
	ActIncrement Action = 1
	// ActAdd adds Elems to a set (GSet, TwoPSet, ORSet; a Map's set field).
	ActAdd Action = 2
	// ActRemove removes Elems from a set (TwoPSet, ORSet; a Map's set field), as
	// observed by the replica applying it.
	ActRemove Action = 3
	// ActAssign writes Value to a register (LWWRegister, MVRegister; a Map's register
	// field of FieldType).
	ActAssign Action = 4
	// ActRemoveField removes a Map's field Field, as observed.
	ActRemoveField Action = 5
	// ActClear empties what the replica observes: a PNCounter gets minus its value
	// (concurrent increments survive), an ORSet or MVRegister drops what it holds, a Map
	// drops every field. Grow-only types cannot be cleared.
	ActClear Action = 6

	maxAction = ActClear
)

var actionNames = [...]string{
	ActIncrement: "increment", ActAdd: "add", ActRemove: "remove",
	ActAssign: "assign", ActRemoveField: "remove_field", ActClear: "clear",
}

// String returns the action's name, the one ParseAction accepts.
func (a Action) String() string {
	if a >= ActIncrement && a <= maxAction {
		return actionNames[a]
	}
	return fmt.Sprintf("crdt.Action(%d)", uint8(a))
}

// ParseAction returns the Action named name.
func ParseAction(name string) (Action, error) {
	for a := ActIncrement; a <= maxAction; a++ {
		if actionNames[a] == name {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown operation %q (want increment, add, remove, assign, remove_field or clear)", ErrBadOp, name)
}

// ErrBadOp is returned for an Op that does not fit its type or lacks what it needs.
var ErrBadOp = fmt.Errorf("crdt: bad operation")

// Op is one update a client asks of a CRDT. It is applied by a replica of the key, on
// its latest local state, with the replica's actor id (see Apply).
type Op struct {
	Type      Type   // the type the key holds, or is created with
	Action    Action // what to do
	Field     string // Map: the field acted on
	FieldType Type   // Map: the field's type (PNCounter, ORSet, LWWRegister or MVRegister)
	Delta     int64  // ActIncrement
	Elems     []string
	Value     []byte // ActAssign
}

// Validate reports whether the op fits its type and carries what its action needs.
func (o Op) Validate() error {
	if !o.Type.Valid() {
		return fmt.Errorf("%w: unknown type %d", ErrBadOp, o.Type)
	}
	t := o.Type
	if t == TypeMap {
		if o.Action != ActClear && o.Field == "" {
			return fmt.Errorf("%w: a map operation needs a field", ErrBadOp)
		}
		if o.Action == ActRemoveField || o.Action == ActClear {
			return nil
		}
		switch o.FieldType {
		case TypePNCounter, TypeORSet, TypeLWWRegister, TypeMVRegister:
		default:
			return fmt.Errorf("%w: a map field must be a pncounter, orset, lwwregister or mvregister, not %s", ErrBadOp, o.FieldType)
		}
		t = o.FieldType
	}
	ok := false
	switch o.Action {
	case ActIncrement:
		ok = t == TypeGCounter || t == TypePNCounter
		if t == TypeGCounter && o.Delta < 0 {
			return fmt.Errorf("%w: a gcounter cannot be decremented", ErrBadOp)
		}
	case ActAdd, ActRemove:
		ok = t == TypeORSet || t == TypeTwoPSet || (t == TypeGSet && o.Action == ActAdd)
		if ok && len(o.Elems) == 0 {
			return fmt.Errorf("%w: %s needs at least one element", ErrBadOp, o.Action)
		}
	case ActAssign:
		ok = t == TypeLWWRegister || t == TypeMVRegister
	case ActClear:
		ok = t == TypePNCounter || t == TypeORSet || t == TypeMVRegister || t == TypeMap
	case ActRemoveField:
		ok = false // only maps, handled above
	}
	if !ok {
		return fmt.Errorf("%w: %s does not apply to a %s", ErrBadOp, o.Action, t)
	}
	return nil
}

// Apply performs the op on v, which must be of type o.Type, on behalf of actor: the
// replica applying it to its own latest state, so that the dots and per-actor
// entries it issues continue its own history. ts orders register assignments (an HLC
// timestamp). It reports whether v changed observably for the caller: for ActAdd and
// ActRemove on sets, whether any element was added or removed (what SADD and SREM
// count is returned separately by the caller from the state before and after).
// On error v is unchanged.
func (o Op) Apply(v Value, actor string, ts uint64) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if v.Type() != o.Type {
		return fmt.Errorf("%w: the key holds a %s, not a %s", ErrWrongType, v.Type(), o.Type)
	}
	switch x := v.(type) {
	case *GCounter:
		return x.Increment(actor, uint64(o.Delta))
	case *PNCounter:
		if o.Action == ActClear {
			return x.Increment(actor, -x.Value())
		}
		return x.Increment(actor, o.Delta)
	case *GSet:
		for _, e := range o.Elems {
			x.Add(e)
		}
	case *TwoPSet:
		if o.Action == ActRemove {
			for _, e := range o.Elems {
				x.Remove(e)
			}
			return nil
		}
		for _, e := range o.Elems {
			if x.Removed(e) {
				return fmt.Errorf("%w: %q", ErrRemoved, e)
			}
		}
		for _, e := range o.Elems {
			if _, err := x.Add(e); err != nil {
				return err
			}
		}
	case *ORSet:
		switch o.Action {
		case ActAdd:
			for _, e := range o.Elems {
				x.Add(actor, e)
			}
		case ActRemove:
			for _, e := range o.Elems {
				x.Remove(e)
			}
		case ActClear:
			for _, e := range x.Elements() {
				x.Remove(e)
			}
		}
	case *LWWRegister:
		x.Set(actor, ts, o.Value)
	case *MVRegister:
		if o.Action == ActClear {
			x.Clear()
			return nil
		}
		x.Set(actor, o.Value)
	case *Map:
		return o.applyMap(x, actor, ts)
	}
	return nil
}

func (o Op) applyMap(m *Map, actor string, ts uint64) error {
	switch o.Action {
	case ActClear:
		for _, f := range m.Fields() {
			m.RemoveField(f.Name, f.Type)
		}
	case ActRemoveField:
		m.Remove(o.Field)
	case ActIncrement:
		return m.Increment(actor, o.Field, o.Delta)
	case ActAdd:
		for _, e := range o.Elems {
			m.AddToSet(actor, o.Field, e)
		}
	case ActRemove:
		for _, e := range o.Elems {
			m.RemoveFromSet(o.Field, e)
		}
	case ActAssign:
		if o.FieldType == TypeMVRegister {
			m.AssignMulti(actor, o.Field, o.Value)
		} else {
			m.Assign(actor, o.Field, ts, o.Value)
		}
	}
	return nil
}

// opVersion is the first byte of an encoded Op.
const opVersion = 1

// AppendOp appends the binary encoding of o (for forwarding it between nodes).
func AppendOp(dst []byte, o Op) []byte {
	dst = append(dst, opVersion, byte(o.Type), byte(o.Action), byte(o.FieldType))
	dst = appendString(dst, o.Field)
	dst = binary.AppendVarint(dst, o.Delta)
	dst = binary.AppendUvarint(dst, uint64(len(o.Elems)))
	for _, e := range o.Elems {
		dst = appendString(dst, e)
	}
	return appendBytes(dst, o.Value)
}

// DecodeOp parses an encoded Op. It does not validate it (Apply does).
func DecodeOp(buf []byte) (Op, error) {
	if len(buf) < 4 || buf[0] != opVersion {
		return Op{}, fmt.Errorf("%w: bad op header", ErrCorrupt)
	}
	o := Op{Type: Type(buf[1]), Action: Action(buf[2]), FieldType: Type(buf[3])}
	d := &decoder{buf: buf[4:]}
	o.Field = d.string()
	o.Delta = d.varint()
	n := d.count(1)
	for i := 0; i < n && d.ok(); i++ {
		o.Elems = append(o.Elems, d.string())
	}
	o.Value = d.bytes()
	if err := d.finish(); err != nil {
		return Op{}, err
	}
	return o, nil
}

// Equal reports whether two ops are the same.
func (o Op) Equal(p Op) bool {
	return o.Type == p.Type && o.Action == p.Action && o.Field == p.Field && o.FieldType == p.FieldType &&
		o.Delta == p.Delta && slices.Equal(o.Elems, p.Elems) && string(o.Value) == string(p.Value)
}
