package resp

import (
	"bytes"
	"fmt"

	"github.com/tidwall/redcon"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/crdt"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

// The commands of conflict handling: writes that carry a causal context, and the
// CRDT commands (PN-counters and OR-sets) with Redis's names.

func wrongTypeCRDT(k object.Kind) error {
	return fmt.Errorf("%w Operation against a key holding the wrong kind of value (a %s)", core.ErrWrongType, k)
}

// parseContext decodes a context token as GETSIBLINGS returns it ("" for none).
func parseContext(b []byte) (version.Vector, error) {
	if len(b) == 0 {
		return nil, nil
	}
	v, err := version.DecodeContext(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w malformed context token", core.ErrBadRequest)
	}
	return v, nil
}

// setCtxRequest: SETCTX key context value [EX seconds | PX milliseconds] → +OK
// (okReply). The write replaces exactly the versions the context (from GETSIBLINGS)
// covers.
func (s *Server) setCtxRequest(c *call, args [][]byte) (core.Request, bool) {
	ctx, err := parseContext(args[2])
	if err != nil {
		c.out = appendError(c.out, err)
		return core.Request{}, false
	}
	ttlMs, err := parseSetOptions(args[4:])
	if err != nil {
		c.out = appendError(c.out, err)
		return core.Request{}, false
	}
	return core.Request{Op: core.OpPut, Key: c.key(args[1]), Value: bytes.Clone(args[3]), TTLMs: ttlMs, Level: c.writeLevel, Context: ctx}, true
}

// delCtxRequest: DELCTX key context → 1 if a replica held a live value, else 0
// (delCtxReply). It deletes exactly the versions the context covers.
func (s *Server) delCtxRequest(c *call, args [][]byte) (core.Request, bool) {
	ctx, err := parseContext(args[2])
	if err != nil {
		c.out = appendError(c.out, err)
		return core.Request{}, false
	}
	return core.Request{Op: core.OpDelete, Key: c.key(args[1]), Level: c.writeLevel, Context: ctx}, true
}

func (s *Server) delCtxReply(c *call, _ [][]byte, rep core.Reply) {
	switch {
	case rep.Err != nil:
		c.out = appendError(c.out, rep.Err)
	case rep.Found:
		c.out = redcon.AppendInt(c.out, 1)
	default:
		c.out = redcon.AppendInt(c.out, 0)
	}
}

// counterValue reads a PN-counter from a reply (0 when absent).
func counterValue(rep core.Reply) (int64, error) {
	if !rep.Found || rep.Obj.IsZero() {
		return 0, nil
	}
	if rep.Obj.Kind != object.KindCounter {
		return 0, wrongTypeCRDT(rep.Obj.Kind)
	}
	v, err := rep.Obj.CRDT()
	if err != nil {
		return 0, err
	}
	return v.(*crdt.PNCounter).Value(), nil
}

// orSet reads an OR-set from a reply (nil when absent).
func orSet(rep core.Reply) (*crdt.ORSet, error) {
	if !rep.Found || rep.Obj.IsZero() {
		return crdt.NewORSet(), nil
	}
	if rep.Obj.Kind != object.KindSet {
		return nil, wrongTypeCRDT(rep.Obj.Kind)
	}
	v, err := rep.Obj.CRDT()
	if err != nil {
		return nil, err
	}
	return v.(*crdt.ORSet), nil
}

// counterRequest adds delta to the PN-counter key.
func (s *Server) counterRequest(c *call, key []byte, delta int64) core.Request {
	op := crdt.Op{Type: crdt.TypePNCounter, Action: crdt.ActIncrement, Delta: delta}
	return core.Request{Op: core.OpUpdate, Key: c.key(key), Level: c.writeLevel, CRDT: op}
}

// INCR, DECR, INCRBY and DECRBY → the counter's value after the increment, as the
// replica that applied it sees it (counterReply).

func (s *Server) incrRequest(c *call, args [][]byte) (core.Request, bool) {
	return s.counterRequest(c, args[1], 1), true
}

func (s *Server) decrRequest(c *call, args [][]byte) (core.Request, bool) {
	return s.counterRequest(c, args[1], -1), true
}

func (s *Server) incrByRequest(c *call, args [][]byte) (core.Request, bool) {
	n, ok := parseInt64(args[2])
	if !ok {
		c.out = appendError(c.out, fmt.Errorf("%w value is not an integer or out of range", core.ErrBadRequest))
		return core.Request{}, false
	}
	if is(args[0], "DECRBY") {
		if n == -n && n != 0 { // math.MinInt64 cannot be negated
			c.out = appendError(c.out, fmt.Errorf("%w decrement would overflow", core.ErrBadRequest))
			return core.Request{}, false
		}
		n = -n
	}
	return s.counterRequest(c, args[1], n), true
}

func (s *Server) counterReply(c *call, _ [][]byte, rep core.Reply) {
	if rep.Err != nil {
		c.out = appendError(c.out, rep.Err)
		return
	}
	rep.Found = true
	n, err := counterValue(rep)
	if err != nil {
		c.out = appendError(c.out, err)
		return
	}
	c.out = redcon.AppendInt(c.out, n)
}

// SADD key member… → how many members were not in the set before, as the applying
// replica saw it. SREM key member… → how many members were removed (observed-remove:
// an add this replica has not seen survives). Both reply with setChangeReply.

// setAction returns the action of SADD or SREM.
func setAction(name []byte) crdt.Action {
	if is(name, "SADD") {
		return crdt.ActAdd
	}
	return crdt.ActRemove
}

func (s *Server) setChangeRequest(c *call, args [][]byte) (core.Request, bool) {
	elems := make([]string, len(args)-2)
	for i, a := range args[2:] {
		elems[i] = string(a)
	}
	op := crdt.Op{Type: crdt.TypeORSet, Action: setAction(args[0]), Elems: elems}
	return core.Request{Op: core.OpUpdate, Key: c.key(args[1]), Level: c.writeLevel, CRDT: op}, true
}

func (s *Server) setChangeReply(c *call, args [][]byte, rep core.Reply) {
	if rep.Err != nil {
		c.out = appendError(c.out, rep.Err)
		return
	}
	add := setAction(args[0]) == crdt.ActAdd
	before, err := orSet(core.Reply{Found: true, Obj: rep.Before})
	if err != nil {
		before = crdt.NewORSet() // the key held a dead register
	}
	n, seen := 0, map[string]bool{}
	for _, a := range args[2:] {
		e := string(a)
		if seen[e] {
			continue
		}
		seen[e] = true
		if before.Contains(e) != add {
			n++
		}
	}
	c.out = redcon.AppendInt(c.out, int64(n))
}

// readSet reads the OR-set of a read's reply, or appends the error.
func (s *Server) readSet(c *call, rep core.Reply) (*crdt.ORSet, bool) {
	if rep.Err != nil {
		c.out = appendError(c.out, rep.Err)
		return nil, false
	}
	if rep.Found && rep.Obj.Kind.IsRegister() {
		c.out = appendError(c.out, fmt.Errorf("%w Operation against a key holding the wrong kind of value", core.ErrWrongType))
		return nil, false
	}
	set, err := orSet(rep)
	if err != nil {
		c.out = appendError(c.out, err)
		return nil, false
	}
	return set, true
}

// smembersReply: SMEMBERS key → the members, sorted.
func (s *Server) smembersReply(c *call, _ [][]byte, rep core.Reply) {
	set, ok := s.readSet(c, rep)
	if !ok {
		return
	}
	elems := set.Elements()
	c.out = redcon.AppendArray(c.out, len(elems))
	for _, e := range elems {
		c.out = redcon.AppendBulkString(c.out, e)
	}
}

// sismemberReply: SISMEMBER key member → 1 or 0.
func (s *Server) sismemberReply(c *call, args [][]byte, rep core.Reply) {
	set, ok := s.readSet(c, rep)
	if !ok {
		return
	}
	n := 0
	if set.Contains(string(args[2])) {
		n = 1
	}
	c.out = redcon.AppendInt(c.out, int64(n))
}

// scardReply: SCARD key → the number of members.
func (s *Server) scardReply(c *call, _ [][]byte, rep core.Reply) {
	set, ok := s.readSet(c, rep)
	if !ok {
		return
	}
	c.out = redcon.AppendInt(c.out, int64(set.Len()))
}

// typeReply: TYPE key → none, string, counter, set or the CRDT type's name.
func (s *Server) typeReply(c *call, _ [][]byte, rep core.Reply) {
	switch {
	case rep.Err != nil:
		c.out = appendError(c.out, rep.Err)
	case !rep.Found:
		c.out = redcon.AppendString(c.out, "none")
	case rep.Obj.Kind.IsRegister():
		c.out = redcon.AppendString(c.out, "string")
	case rep.Obj.Kind == object.KindSet:
		c.out = redcon.AppendString(c.out, "set")
	default:
		c.out = redcon.AppendString(c.out, rep.Obj.Kind.String())
	}
}
