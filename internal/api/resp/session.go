package resp

import (
	"fmt"

	"github.com/tidwall/redcon"

	"github.com/chorusdb/chorus/internal/core"
)

// errReadAny refuses ANY as a read level: a stored hint cannot answer a read.
var errReadAny = fmt.Errorf("%w ANY is a write-only level; use CONSISTENCY WRITE ANY", core.ErrBadRequest)

// cmdConsistency shows or sets the connection's consistency levels:
//
//	CONSISTENCY              → "read=QUORUM write=QUORUM" (a bulk string)
//	CONSISTENCY level        → +OK; sets both (ANY is refused: it is write-only)
//	CONSISTENCY READ level   → +OK; sets the read level (not ANY)
//	CONSISTENCY WRITE level  → +OK; sets the write level
//
// On any error the levels are unchanged.
func (s *Server) cmdConsistency(c *client, args [][]byte) {
	switch len(args) {
	case 1:
		c.out = redcon.AppendBulkString(c.out, "read="+c.readLevel.String()+" write="+c.writeLevel.String())
		return
	case 2:
		l, err := core.ParseLevel(string(args[1]))
		if err == nil && l == core.Any {
			err = errReadAny
		}
		if err != nil {
			c.out = appendError(c.out, err)
			return
		}
		c.readLevel, c.writeLevel = l, l
	case 3:
		read, write := is(args[1], "READ"), is(args[1], "WRITE")
		if !read && !write {
			c.out = appendError(c.out, fmt.Errorf(
				"%w syntax error; use CONSISTENCY [READ|WRITE] level", core.ErrBadRequest))
			return
		}
		l, err := core.ParseLevel(string(args[2]))
		if err == nil && read && l == core.Any {
			err = errReadAny
		}
		if err != nil {
			c.out = appendError(c.out, err)
			return
		}
		if read {
			c.readLevel = l
		} else {
			c.writeLevel = l
		}
	default:
		c.out = appendError(c.out, errArity("consistency"))
		return
	}
	c.out = redcon.AppendOK(c.out)
}

// cmdKeyspace: KEYSPACE name → +OK, and later commands on this connection address
// that keyspace; KEYSPACE alone → the current keyspace's name.
func (s *Server) cmdKeyspace(c *client, args [][]byte) {
	switch len(args) {
	case 1:
		c.out = redcon.AppendBulkString(c.out, c.keyspace)
	case 2:
		name := string(args[1])
		if err := core.ValidateKeyspace(name); err != nil {
			c.out = appendError(c.out, err)
			return
		}
		c.keyspace = name
		c.out = redcon.AppendOK(c.out)
	default:
		c.out = appendError(c.out, errArity("keyspace"))
	}
}

// cmdQuit: QUIT → +OK, then the connection is closed.
func (s *Server) cmdQuit(c *client, _ [][]byte) {
	c.quit = true
	c.out = redcon.AppendOK(c.out)
}

// cmdSelect: SELECT 0 → +OK, for clients that always send it. Chorus has one
// database; keyspaces take the role of Redis's numbered databases.
func (s *Server) cmdSelect(c *client, args [][]byte) {
	if n, ok := parseInt64(args[1]); !ok || n != 0 {
		c.out = appendError(c.out, fmt.Errorf(
			"%w DB index is out of range: only database 0 exists; use KEYSPACE name", core.ErrBadRequest))
		return
	}
	c.out = redcon.AppendOK(c.out)
}
