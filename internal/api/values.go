package api

import (
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
)

// Siblings returns the values of a get reply's concurrent versions when there are
// several: every live sibling of a register, in the object's sibling order. It returns
// nil when the reply holds at most one live version — then Reply.Found and Reply.Value
// say everything (and a merge keyspace's Reply.Value is the merge of its siblings). Both servers call it so
// that a conflict is never silently reduced to one value. nowMs (unix milliseconds)
// decides which siblings have expired.
func Siblings(rep core.Reply, nowMs int64) [][]byte {
	if !rep.Found || rep.Merged || rep.Obj.Kind != object.KindSiblings || len(rep.Obj.Siblings) < 2 {
		return nil
	}
	live := 0
	for _, s := range rep.Obj.Siblings {
		if s.Live(nowMs) {
			live++
		}
	}
	if live < 2 {
		return nil
	}
	vals := make([][]byte, 0, live)
	for _, s := range rep.Obj.Siblings {
		if s.Live(nowMs) {
			vals = append(vals, s.Value)
		}
	}
	return vals
}

// CRDTView renders the CRDT a reply holds as {"type": "pncounter", "value": …}, and
// false when the key does not hold a CRDT.
func CRDTView(rep core.Reply) (typ string, value []byte, ok bool, err error) {
	t, isCRDT := rep.Obj.Kind.CRDT()
	if !isCRDT || !rep.Found {
		return "", nil, false, nil
	}
	v, err := rep.Obj.CRDT()
	if err != nil || v == nil {
		return t.String(), nil, true, err
	}
	j, err := v.MarshalJSON()
	return t.String(), j, true, err
}

// DeleteFound says whether a delete removed something: for a key that held a counter
// or a set, which the core clears instead of deleting (rep.Before holds it as it was),
// whether it held anything (a counter other than 0, a set with elements); for any
// other key, rep.Found.
func DeleteFound(rep core.Reply) bool {
	if _, isCRDT := rep.Before.Kind.CRDT(); !isCRDT {
		return rep.Found
	}
	_, view, _, _ := CRDTView(core.Reply{Found: true, Obj: rep.Before})
	return len(view) > 0 && string(view) != "0" && string(view) != "[]" && string(view) != "{}"
}
