package resp

import (
	"net"

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
