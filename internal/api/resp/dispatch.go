package resp

import (
	"fmt"

	"github.com/chorusdb/chorus/internal/core"
)

// commandSpec describes one command: its arity and which of its arguments are keys,
// so that arity and key sizes are checked in one place before the command runs.
type commandSpec struct {
	name string
	// arity counts the arguments, the command name included: exactly arity when
	// positive, at least -arity when negative (as in Redis's command table).
	arity int
	// firstKey and lastKey are the indexes of the first and last key argument
	// (lastKey -1: every argument from firstKey on); firstKey 0 means no keys.
	firstKey, lastKey int
	// value reports whether the arguments that are not keys are values, bounded by
	// Limits.MaxValueBytes.
	value bool
	run   func(c *client, args [][]byte)
}

func (cs *commandSpec) arityOK(n int) bool {
	if cs.arity >= 0 {
		return n == cs.arity
	}
	return n >= -cs.arity
}

func (cs *commandSpec) isKey(i int) bool {
	return cs.firstKey > 0 && i >= cs.firstKey && (cs.lastKey < 0 || i <= cs.lastKey)
}

// commandTable lists the commands the server knows, by lower-case name.
func (s *Server) commandTable() map[string]*commandSpec {
	specs := []*commandSpec{
		{name: "ping", arity: -1, run: s.cmdPing},
		{name: "echo", arity: 2, run: s.cmdEcho},
		{name: "info", arity: -1, run: s.cmdInfo},
		{name: "quit", arity: -1, run: s.cmdQuit},
		{name: "select", arity: 2, run: s.cmdSelect},
		{name: "hello", arity: -1, run: s.cmdHello},
		{name: "client", arity: -2, run: s.cmdClient},
		{name: "command", arity: -1, run: s.cmdCommand},
		{name: "config", arity: -2, run: s.cmdConfig},
		{name: "consistency", arity: -1, run: s.cmdConsistency},
		{name: "keyspace", arity: -1, run: s.cmdKeyspace},
		{name: "set", arity: -3, firstKey: 1, lastKey: 1, value: true, run: s.cmdSet},
		{name: "get", arity: 2, firstKey: 1, lastKey: 1, run: s.cmdGet},
		{name: "getsiblings", arity: 2, firstKey: 1, lastKey: 1, run: s.cmdGetSiblings},
		{name: "del", arity: -2, firstKey: 1, lastKey: -1, run: s.cmdDel},
		{name: "exists", arity: -2, firstKey: 1, lastKey: -1, run: s.cmdExists},
		{name: "setctx", arity: -4, firstKey: 1, lastKey: 1, value: true, run: s.cmdSetCtx},
		{name: "delctx", arity: 3, firstKey: 1, lastKey: 1, value: true, run: s.cmdDelCtx},
		{name: "incr", arity: 2, firstKey: 1, lastKey: 1, run: s.cmdIncr},
		{name: "decr", arity: 2, firstKey: 1, lastKey: 1, run: s.cmdDecr},
		{name: "incrby", arity: 3, firstKey: 1, lastKey: 1, run: s.cmdIncrBy},
		{name: "decrby", arity: 3, firstKey: 1, lastKey: 1, run: s.cmdIncrBy},
		{name: "sadd", arity: -3, firstKey: 1, lastKey: 1, value: true, run: s.cmdSAdd},
		{name: "srem", arity: -3, firstKey: 1, lastKey: 1, value: true, run: s.cmdSRem},
		{name: "smembers", arity: 2, firstKey: 1, lastKey: 1, run: s.cmdSMembers},
		{name: "sismember", arity: 3, firstKey: 1, lastKey: 1, value: true, run: s.cmdSIsMember},
		{name: "scard", arity: 2, firstKey: 1, lastKey: 1, run: s.cmdSCard},
		{name: "type", arity: 2, firstKey: 1, lastKey: 1, run: s.cmdType},
	}
	m := make(map[string]*commandSpec, len(specs))
	for _, cs := range specs {
		m[cs.name] = cs
	}
	return m
}

// lookup finds a command by name, case-insensitively, without allocating.
func (s *Server) lookup(name []byte) *commandSpec {
	var lower [16]byte
	if len(name) > len(lower) {
		return nil
	}
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		lower[i] = ch
	}
	return s.commands[string(lower[:len(name)])]
}

// dispatch checks a command's name, arity and argument sizes, then runs it. Every
// failure is answered with an error reply and leaves the connection usable; nothing
// reaches the Backend unless all checks pass.
func (s *Server) dispatch(c *client, cmd command) {
	args := cmd.args
	cs := s.lookup(args[0])
	if cs == nil {
		c.out = appendError(c.out, fmt.Errorf("%w unknown command '%s'", core.ErrBadRequest, printable(args[0])))
		return
	}
	if !cs.arityOK(len(args)) {
		c.out = appendError(c.out, errArity(cs.name))
		return
	}
	if cmd.oversize >= 0 {
		c.out = appendError(c.out, s.oversizeError(cs, cmd.oversize, cmd.oversizeLen))
		return
	}
	for i := range args {
		if cs.isKey(i) {
			if err := s.cfg.Limits.CheckKey(len(args[i])); err != nil {
				c.out = appendError(c.out, err)
				return
			}
		} else if cs.value && i > 0 {
			if err := s.cfg.Limits.CheckValue(int64(len(args[i]))); err != nil {
				c.out = appendError(c.out, err)
				return
			}
		}
	}
	cs.run(c, args)
}

// oversizeError explains an argument of n bytes that the reader discarded.
func (s *Server) oversizeError(cs *commandSpec, i int, n int64) error {
	switch {
	case cs.isKey(i):
		if err := s.cfg.Limits.CheckKey(int(n)); err != nil {
			return err
		}
	case cs.value:
		if err := s.cfg.Limits.CheckValue(n); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w argument of %d bytes exceeds the %d-byte limit",
		core.ErrTooLarge, n, s.cfg.Limits.MaxArgBytes())
}

func errArity(name string) error {
	return fmt.Errorf("%w wrong number of arguments for '%s' command", core.ErrBadRequest, name)
}

var errSyntax = fmt.Errorf("%w syntax error", core.ErrBadRequest)

// is reports whether arg equals word (upper-case ASCII), ignoring case.
func is(arg []byte, word string) bool {
	if len(arg) != len(word) {
		return false
	}
	for i, ch := range arg {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		if ch != word[i] {
			return false
		}
	}
	return true
}
