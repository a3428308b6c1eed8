package resp

import (
	"context"
	"net"
	"time"

	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/object"
)

// defaultKeyspace is the keyspace a connection addresses until it sends KEYSPACE.
const defaultKeyspace = "default"

// maxRetainedOut is the largest reply buffer a connection keeps between batches;
// a larger one (after a big GET) is released.
const maxRetainedOut = 1 << 20

// session is the connection state a command runs under: the keyspace and the
// consistency levels, set by KEYSPACE and CONSISTENCY.
type session struct {
	keyspace   string
	readLevel  core.Level
	writeLevel core.Level
}

// key names arg in the session's keyspace.
func (ss *session) key(arg []byte) object.Key {
	return object.Key{Keyspace: ss.keyspace, Key: string(arg)}
}

// client is one connection and its state: the session its commands use, and the
// Backend commands read but not yet run (pipe). Only the connection's goroutine
// touches it, except nc, which Shutdown and Close may interrupt; the calls of pipe
// run on their own goroutines but only touch their own call.
type client struct {
	id  uint64
	nc  net.Conn
	rd  *reader
	out []byte // replies not yet written

	session
	name string // CLIENT SETNAME / HELLO SETNAME
	quit bool   // QUIT was received: close after flushing
	// authed: the connection may run every command (AUTH succeeded, or the server
	// requires no authentication).
	authed bool
	pipe   pipeline

	// reqCtx bounds the requests the connection's pipelines start (see requestCtx);
	// it is replaced once reqCtxFresh has passed.
	reqCtx      context.Context
	reqCancel   context.CancelFunc
	reqCtxFresh time.Time
}

// requestCtx returns a context whose deadline is at least timeout and at most
// 2×timeout away, for the requests of one pipeline. It is a safety net only: the
// node answers TIMEOUT itself after the request timeout; this one fires if a shard
// is stuck (say, on a hung disk). One context serves the pipelines that start within
// timeout of its creation, so a busy connection makes one every timeout rather than
// one (and a timer) per pipeline. Replacing it cancels the old one, which no request
// still uses: a pipeline has been answered in full before the next one starts.
func (c *client) requestCtx(parent context.Context, timeout time.Duration) context.Context {
	now := time.Now()
	if c.reqCtx == nil || now.After(c.reqCtxFresh) {
		c.releaseRequestCtx()
		c.reqCtx, c.reqCancel = context.WithTimeout(parent, 2*timeout)
		c.reqCtxFresh = now.Add(timeout)
	}
	return c.reqCtx
}

// releaseRequestCtx cancels the connection's request context, if any.
func (c *client) releaseRequestCtx() {
	if c.reqCancel != nil {
		c.reqCancel()
		c.reqCtx, c.reqCancel = nil, nil
	}
}

func (s *Server) newClient(nc net.Conn) *client {
	c := &client{
		id:  s.nextID.Add(1),
		nc:  nc,
		rd:  newReader(nc, s.cfg.Limits.MaxArgBytes()),
		out: make([]byte, 0, 512),
		session: session{
			keyspace:   defaultKeyspace,
			readLevel:  s.cfg.DefaultReadLevel,
			writeLevel: s.cfg.DefaultWriteLevel,
		},
	}
	c.pipe.max = s.cfg.MaxPipeline
	c.authed = !s.cfg.Auth.Enabled()
	if !c.authed {
		// Before AUTH, memory follows what an anonymous client may send, not what it
		// declares: small arguments, few of them.
		c.rd.limit(unauthMaxArg, unauthMaxArgs)
	}
	return c
}

// flush writes the buffered replies.
func (c *client) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	if cap(c.out) > maxRetainedOut {
		c.out = make([]byte, 0, 512)
	} else {
		c.out = c.out[:0]
	}
	return err
}
