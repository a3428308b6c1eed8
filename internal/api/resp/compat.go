package resp

import (
	"fmt"

	"github.com/tidwall/redcon"

	"github.com/chorusdb/chorus/internal/core"
)

// This file holds the commands that stock Redis clients and tools send on their own
// (connection handshakes, redis-cli and redis-benchmark start-up), answered as Redis
// answers them as far as Chorus can do so truthfully.

// cmdPing: PING → +PONG; PING message → message.
func (s *Server) cmdPing(c *client, args [][]byte) {
	switch len(args) {
	case 1:
		c.out = redcon.AppendString(c.out, "PONG")
	case 2:
		c.out = redcon.AppendBulk(c.out, args[1])
	default:
		c.out = appendError(c.out, errArity("ping"))
	}
}

// cmdEcho: ECHO message → message.
func (s *Server) cmdEcho(c *client, args [][]byte) {
	c.out = redcon.AppendBulk(c.out, args[1])
}

// cmdHello: HELLO [2 [AUTH user pass] [SETNAME name]] → the server's properties as a
// flat array of name/value pairs (RESP2's rendering of a map). Chorus speaks RESP2
// only: HELLO 3 fails with an ERR reply, which makes clients that try RESP3 first
// (go-redis v9, Lettuce) fall back to RESP2. AUTH fails, as Chorus has no passwords.
func (s *Server) cmdHello(c *client, args [][]byte) {
	if len(args) >= 2 {
		v, ok := parseInt64(args[1])
		if !ok {
			c.out = appendError(c.out, fmt.Errorf(
				"%w Protocol version is not an integer or out of range", core.ErrBadRequest))
			return
		}
		if v != 2 {
			c.out = appendError(c.out, fmt.Errorf(
				"%w unknown protocol version %d: this server speaks RESP2 only (HELLO 2)", core.ErrBadRequest, v))
			return
		}
	}
	name, hasName := c.name, false
	for i := 2; i < len(args); i++ {
		switch {
		case is(args[i], "AUTH") && i+2 < len(args):
			if err := s.authenticate(c, string(args[i+1]), string(args[i+2])); err != nil {
				c.out = appendError(c.out, err)
				return
			}
			i += 2
		case is(args[i], "SETNAME") && i+1 < len(args):
			name, hasName = string(args[i+1]), true
			i++
		default:
			c.out = appendError(c.out, fmt.Errorf("%w syntax error in HELLO option '%s'", core.ErrBadRequest, printable(args[i])))
			return
		}
	}
	if hasName {
		if err := validClientName(name); err != nil {
			c.out = appendError(c.out, err)
			return
		}
		c.name = name
	}
	c.out = redcon.AppendArray(c.out, 14)
	c.out = redcon.AppendBulkString(c.out, "server")
	c.out = redcon.AppendBulkString(c.out, "chorus")
	c.out = redcon.AppendBulkString(c.out, "version")
	c.out = redcon.AppendBulkString(c.out, s.cfg.Version)
	c.out = redcon.AppendBulkString(c.out, "proto")
	c.out = redcon.AppendInt(c.out, 2)
	c.out = redcon.AppendBulkString(c.out, "id")
	c.out = redcon.AppendInt(c.out, int64(c.id))
	c.out = redcon.AppendBulkString(c.out, "mode")
	c.out = redcon.AppendBulkString(c.out, "standalone")
	c.out = redcon.AppendBulkString(c.out, "role")
	c.out = redcon.AppendBulkString(c.out, "master")
	c.out = redcon.AppendBulkString(c.out, "modules")
	c.out = redcon.AppendArray(c.out, 0)
}

// cmdClient: CLIENT SETNAME name | GETNAME | SETINFO attr value | ID.
func (s *Server) cmdClient(c *client, args [][]byte) {
	sub := args[1]
	switch {
	case is(sub, "SETNAME") && len(args) == 3:
		name := string(args[2])
		if err := validClientName(name); err != nil {
			c.out = appendError(c.out, err)
			return
		}
		c.name = name
		c.out = redcon.AppendOK(c.out)
	case is(sub, "GETNAME") && len(args) == 2:
		if c.name == "" {
			c.out = redcon.AppendNull(c.out)
			return
		}
		c.out = redcon.AppendBulkString(c.out, c.name)
	case is(sub, "SETINFO") && len(args) == 4:
		c.out = redcon.AppendOK(c.out) // library name and version: accepted, not kept
	case is(sub, "ID") && len(args) == 2:
		c.out = redcon.AppendInt(c.out, int64(c.id))
	default:
		c.out = appendError(c.out, fmt.Errorf(
			"%w unknown subcommand or wrong number of arguments for 'CLIENT %s'", core.ErrBadRequest, printable(sub)))
	}
}

// validClientName refuses names with spaces or control characters, as Redis does.
func validClientName(name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] > '~' {
			return fmt.Errorf("%w Client names cannot contain spaces, newlines or special characters", core.ErrBadRequest)
		}
	}
	return nil
}

// cmdCommand: COMMAND COUNT → the number of commands; COMMAND and its other
// subcommands (DOCS, INFO, …) → an empty array, which redis-cli accepts (it then
// offers no hints).
func (s *Server) cmdCommand(c *client, args [][]byte) {
	if len(args) == 2 && is(args[1], "COUNT") {
		c.out = redcon.AppendInt(c.out, int64(len(s.commands)))
		return
	}
	c.out = redcon.AppendArray(c.out, 0)
}

// configValues are the answers to CONFIG GET for the parameters that client tools
// read at start-up (redis-benchmark reads save and appendonly).
var configValues = [...]struct{ key, name, value string }{
	{"SAVE", "save", ""},
	{"APPENDONLY", "appendonly", "no"},
	{"DATABASES", "databases", "1"},
}

// cmdConfig: CONFIG GET parameter… → name/value pairs for the parameters listed in
// configValues (others are left out, as Redis leaves out unknown ones). Chorus is
// configured by flags, so CONFIG SET and the other subcommands fail.
func (s *Server) cmdConfig(c *client, args [][]byte) {
	if !is(args[1], "GET") || len(args) < 3 {
		c.out = appendError(c.out, fmt.Errorf(
			"%w only CONFIG GET parameter… is supported; Chorus is configured by flags", core.ErrBadRequest))
		return
	}
	n := 0
	for _, p := range args[2:] {
		for _, cv := range configValues {
			if is(p, cv.key) {
				n++
			}
		}
	}
	c.out = redcon.AppendArray(c.out, 2*n)
	for _, p := range args[2:] {
		for _, cv := range configValues {
			if is(p, cv.key) {
				c.out = redcon.AppendBulkString(c.out, cv.name)
				c.out = redcon.AppendBulkString(c.out, cv.value)
			}
		}
	}
}
