package resp

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"time"

	"github.com/tidwall/redcon"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/version"
)

// do runs one request on the Backend under the server's request deadline.
func (s *Server) do(req core.Request) core.Reply {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.RequestTimeout)
	rep := s.cfg.Backend.Do(ctx, req)
	cancel()
	return rep
}

// setRequest: SET key value [EX seconds | PX milliseconds] → +OK (okReply).
func (s *Server) setRequest(c *call, args [][]byte) (core.Request, bool) {
	ttlMs, err := parseSetOptions(args[3:])
	if err != nil {
		c.out = appendError(c.out, err)
		return core.Request{}, false
	}
	return core.Request{
		Op:    core.OpPut,
		Key:   c.key(args[1]),
		Value: bytes.Clone(args[2]), // args alias the read buffer; the Backend may keep the value
		TTLMs: ttlMs,
		Level: c.writeLevel,
	}, true
}

// okReply answers +OK, or the request's error.
func (s *Server) okReply(c *call, _ [][]byte, rep core.Reply) {
	if rep.Err != nil {
		c.out = appendError(c.out, rep.Err)
		return
	}
	c.out = redcon.AppendOK(c.out)
}

// readRequest reads the key args[1] at the session's read level: the request of GET,
// GETSIBLINGS, TYPE and the set reads.
func (s *Server) readRequest(c *call, args [][]byte) (core.Request, bool) {
	return core.Request{Op: core.OpGet, Key: c.key(args[1]), Level: c.readLevel}, true
}

// parseSetOptions parses SET's options: at most one of EX seconds or PX milliseconds,
// a positive integer. Other options (NX, XX, GET, KEEPTTL, …) are syntax errors: they
// would need a read-modify-write that Chorus does not offer atomically.
func parseSetOptions(opts [][]byte) (ttlMs int64, err error) {
	for i := 0; i < len(opts); i += 2 {
		unit := int64(0)
		switch {
		case is(opts[i], "EX"):
			unit = 1000
		case is(opts[i], "PX"):
			unit = 1
		}
		if unit == 0 || ttlMs != 0 || i+1 == len(opts) {
			return 0, errSyntax
		}
		n, ok := parseInt64(opts[i+1])
		if !ok {
			return 0, fmt.Errorf("%w value is not an integer or out of range", core.ErrBadRequest)
		}
		if n <= 0 || n > math.MaxInt64/unit {
			return 0, fmt.Errorf("%w invalid expire time in 'set' command", core.ErrBadRequest)
		}
		ttlMs = n * unit
	}
	return ttlMs, nil
}

// getReply: GET key → the value, nil if absent, or an error if the key holds several
// concurrent versions (siblings), which GET will not silently reduce to one.
func (s *Server) getReply(c *call, _ [][]byte, rep core.Reply) {
	switch {
	case rep.Err != nil:
		c.out = appendError(c.out, rep.Err)
	case !rep.Found:
		c.out = redcon.AppendNull(c.out)
	case !rep.Obj.Kind.IsRegister():
		c.out = appendError(c.out, wrongTypeCRDT(rep.Obj.Kind))
	default:
		if sib := api.Siblings(rep, time.Now().UnixMilli()); sib != nil {
			c.out = appendError(c.out, fmt.Errorf(
				"%w CONFLICT key has %d siblings; read them with GETSIBLINGS", core.ErrBadRequest, len(sib)))
			return
		}
		c.out = redcon.AppendBulk(c.out, rep.Value)
	}
}

// getSiblingsReply: GETSIBLINGS key → an array whose first element is the key's
// causal context (an opaque token, "" if none) followed by the value of every live
// version: none if the key is absent or deleted, one normally, several after
// concurrent writes in a keyspace that keeps siblings.
func (s *Server) getSiblingsReply(c *call, _ [][]byte, rep core.Reply) {
	if rep.Err != nil {
		c.out = appendError(c.out, rep.Err)
		return
	}
	if !rep.Obj.Kind.IsRegister() {
		c.out = appendError(c.out, wrongTypeCRDT(rep.Obj.Kind))
		return
	}
	ctx := version.EncodeContext(rep.Obj.FullContext())
	sib := api.Siblings(rep, time.Now().UnixMilli())
	switch {
	case sib != nil:
		c.out = redcon.AppendArray(c.out, 1+len(sib))
		c.out = redcon.AppendBulkString(c.out, ctx)
		for _, v := range sib {
			c.out = redcon.AppendBulk(c.out, v)
		}
	case rep.Found:
		c.out = redcon.AppendArray(c.out, 2)
		c.out = redcon.AppendBulkString(c.out, ctx)
		c.out = redcon.AppendBulk(c.out, rep.Value)
	default:
		c.out = redcon.AppendArray(c.out, 1)
		c.out = redcon.AppendBulkString(c.out, ctx)
	}
}

// cmdDel: DEL key… → how many of the keys held a live value. Keys are deleted one
// after another; the first failure is returned as the reply (earlier keys stay
// deleted).
// In a keyspace that keeps siblings, DEL deletes what the coordinating replica holds
// (use DELCTX to delete exactly what a GETSIBLINGS saw).
func (s *Server) cmdDel(c *call, args [][]byte) {
	s.count(c, args[1:], core.OpDelete, c.writeLevel)
}

// cmdExists: EXISTS key… → how many of the keys hold a live value (a key named twice
// counts twice, as in Redis).
func (s *Server) cmdExists(c *call, args [][]byte) {
	s.count(c, args[1:], core.OpGet, c.readLevel)
}

// count runs op on each key and replies with the number of replies that were Found.
func (s *Server) count(c *call, keys [][]byte, op core.Op, level core.Level) {
	n := 0
	for _, k := range keys {
		rep := s.do(core.Request{Op: op, Key: c.key(k), Level: level, DeleteSeen: op == core.OpDelete})
		if rep.Err != nil {
			c.out = appendError(c.out, rep.Err)
			return
		}
		if op == core.OpDelete {
			rep.Found = api.DeleteFound(rep) // a counter or set is cleared, not deleted
		}
		if rep.Found {
			n++
		}
	}
	c.out = redcon.AppendInt(c.out, int64(n))
}

// parseInt64 parses a decimal integer with an optional sign, without allocating.
func parseInt64(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg || len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		n = n*10 + uint64(ch-'0')
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}
