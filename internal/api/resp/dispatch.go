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
	// Exactly one of run, backend and request is set.
	//
	// run is a command answered by the server itself; it runs on the connection's
	// goroutine and may change the connection's state.
	//
	// The others go to the Backend, and may run concurrently with the connection's
	// other pipelined Backend commands (see pipeline), on the session the connection
	// had when the command was read; they only write their call. A command that makes
	// exactly one Backend request is split in two: request returns that request (or
	// appends an error reply and returns false), and reply appends the reply to the
	// Backend's answer, so that a pipeline's requests can be started together. backend
	// runs any other command (DEL and EXISTS, one request per key) from start to end.
	run     func(c *client, args [][]byte)
	backend func(c *call, args [][]byte)
	request func(c *call, args [][]byte) (core.Request, bool)
	reply   func(c *call, args [][]byte, rep core.Reply)
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
		{name: "auth", arity: -2, run: s.cmdAuth},
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
		{name: "set", arity: -3, firstKey: 1, lastKey: 1, value: true, request: s.setRequest, reply: s.okReply},
		{name: "get", arity: 2, firstKey: 1, lastKey: 1, request: s.readRequest, reply: s.getReply},
		{name: "getsiblings", arity: 2, firstKey: 1, lastKey: 1, request: s.readRequest, reply: s.getSiblingsReply},
		{name: "del", arity: -2, firstKey: 1, lastKey: -1, backend: s.cmdDel},
		{name: "exists", arity: -2, firstKey: 1, lastKey: -1, backend: s.cmdExists},
		{name: "setctx", arity: -4, firstKey: 1, lastKey: 1, value: true, request: s.setCtxRequest, reply: s.okReply},
		{name: "delctx", arity: 3, firstKey: 1, lastKey: 1, value: true, request: s.delCtxRequest, reply: s.delCtxReply},
		{name: "incr", arity: 2, firstKey: 1, lastKey: 1, request: s.incrRequest, reply: s.counterReply},
		{name: "decr", arity: 2, firstKey: 1, lastKey: 1, request: s.decrRequest, reply: s.counterReply},
		{name: "incrby", arity: 3, firstKey: 1, lastKey: 1, request: s.incrByRequest, reply: s.counterReply},
		{name: "decrby", arity: 3, firstKey: 1, lastKey: 1, request: s.incrByRequest, reply: s.counterReply},
		{name: "sadd", arity: -3, firstKey: 1, lastKey: 1, value: true, request: s.setChangeRequest, reply: s.setChangeReply},
		{name: "srem", arity: -3, firstKey: 1, lastKey: 1, value: true, request: s.setChangeRequest, reply: s.setChangeReply},
		{name: "smembers", arity: 2, firstKey: 1, lastKey: 1, request: s.readRequest, reply: s.smembersReply},
		{name: "sismember", arity: 3, firstKey: 1, lastKey: 1, value: true, request: s.readRequest, reply: s.sismemberReply},
		{name: "scard", arity: 2, firstKey: 1, lastKey: 1, request: s.readRequest, reply: s.scardReply},
		{name: "type", arity: 2, firstKey: 1, lastKey: 1, request: s.readRequest, reply: s.typeReply},
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

// dispatch checks a command's name, arity and argument sizes, then queues it in the
// connection's pipeline if it goes to the Backend, or runs it once every earlier
// command has run. Every failure is answered with an error reply and leaves the
// connection usable; nothing reaches the Backend unless all checks pass. cmd.args
// must stay valid until the pipeline runs (the reader's buffer must not be refilled
// before).
func (s *Server) dispatch(c *client, cmd command) {
	if !c.authed && !allowedBeforeAuth(cmd.args[0]) {
		s.runPipeline(c)
		c.out = appendError(c.out, errNoAuth)
		return
	}
	cs, err := s.check(cmd)
	if err == nil && cs.run == nil {
		if c.pipe.full() || c.pipe.conflicts(cs, cmd.args) {
			s.runPipeline(c)
		}
		c.pipe.add(c.session, cs, cmd.args)
		return
	}
	s.runPipeline(c)
	if err != nil {
		c.out = appendError(c.out, err)
		return
	}
	cs.run(c, cmd.args)
}

// check finds cmd's command and checks its arity and argument sizes.
func (s *Server) check(cmd command) (*commandSpec, error) {
	args := cmd.args
	cs := s.lookup(args[0])
	if cs == nil {
		return nil, fmt.Errorf("%w unknown command '%s'", core.ErrBadRequest, printable(args[0]))
	}
	if !cs.arityOK(len(args)) {
		return nil, errArity(cs.name)
	}
	if cmd.oversize >= 0 {
		return nil, s.oversizeError(cs, cmd.oversize, cmd.oversizeLen)
	}
	for i := range args {
		if cs.isKey(i) {
			if err := s.cfg.Limits.CheckKey(len(args[i])); err != nil {
				return nil, err
			}
		} else if cs.value && i > 0 {
			if err := s.cfg.Limits.CheckValue(int64(len(args[i]))); err != nil {
				return nil, err
			}
		}
	}
	return cs, nil
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
