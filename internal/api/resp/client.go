package resp

import (
	"net"

	"github.com/chorusdb/chorus/internal/core"
)

// defaultKeyspace is the keyspace a connection addresses until it sends KEYSPACE.
const defaultKeyspace = "default"

// maxRetainedOut is the largest reply buffer a connection keeps between batches;
// a larger one (after a big GET) is released.
const maxRetainedOut = 1 << 20

// client is one connection and its state: the keyspace and consistency levels its
// commands use, set by KEYSPACE and CONSISTENCY. Only the connection's goroutine
// touches it, except nc, which Shutdown and Close may interrupt.
type client struct {
	id  uint64
	nc  net.Conn
	rd  *reader
	out []byte // replies not yet written

	keyspace   string
	readLevel  core.Level
	writeLevel core.Level
	name       string // CLIENT SETNAME / HELLO SETNAME
	quit       bool   // QUIT was received: close after flushing
}

func (s *Server) newClient(nc net.Conn) *client {
	return &client{
		id:         s.nextID.Add(1),
		nc:         nc,
		rd:         newReader(nc, s.cfg.Limits.MaxArgBytes()),
		out:        make([]byte, 0, 512),
		keyspace:   defaultKeyspace,
		readLevel:  s.cfg.DefaultReadLevel,
		writeLevel: s.cfg.DefaultWriteLevel,
	}
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
