package resp

import (
	"bytes"
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/chorusdb/chorus/internal/core"
)

// maxPipeline bounds how many Backend commands of one connection run at once. A
// client that pipelines more has its next commands started only once the first
// maxPipeline are answered and their replies buffered, and replies are written out
// (blocking, if the client does not read them) once flushThreshold bytes are
// buffered. So a client that never reads its replies makes the server stop reading
// its commands, holding at most one pipeline's replies (maxPipeline of them, however
// large their values) beyond flushThreshold bytes.
const maxPipeline = 64 // the default of Config.MaxPipeline

// maxRetainedCallOut is the largest reply buffer a call keeps for the next batch.
const maxRetainedCallOut = 4 << 10

// call is one Backend command of a connection's pipeline: the session it was read
// under, its arguments and, once run, its reply. The arguments alias the
// connection's read buffer, which stays put until the pipeline has run.
type call struct {
	session
	spec *commandSpec
	args [][]byte
	out  []byte

	// wait is set while the call's request runs on a starter Backend.
	wait func() core.Reply

	// panicked holds what the command panicked with, and stack where; the connection
	// goroutine logs it and closes the connection.
	panicked any
	stack    []byte
}

// pipeline holds the Backend commands a connection has read and not yet run.
//
// Ordering: a connection's replies are written in the order of its commands. The
// pipelined Backend commands run concurrently, so two of them that name the same key
// never share a pipeline (the later one waits until the earlier is answered: a GET
// after a SET of the same key sees it), and a command that does not go to the
// Backend (CONSISTENCY, KEYSPACE, QUIT, PING …, or one refused before it runs) first
// waits for every earlier command, so that a change of the session applies exactly
// from the next command on.
type pipeline struct {
	calls []call // calls[:n] are pending; the rest keep their buffers for reuse
	n     int
	max   int // Config.MaxPipeline
}

// pending returns the commands read and not yet run.
func (p *pipeline) pending() []call { return p.calls[:p.n] }

// full reports whether the pipeline must run before it takes another command.
func (p *pipeline) full() bool { return p.n >= p.max }

// add queues a checked Backend command. args must stay valid until the pipeline runs.
func (p *pipeline) add(ss session, cs *commandSpec, args [][]byte) {
	if p.n == len(p.calls) {
		p.calls = append(p.calls, call{})
	}
	cl := &p.calls[p.n]
	p.n++
	cl.session, cl.spec = ss, cs
	cl.args = append(cl.args[:0], args...)
}

// conflicts reports whether a pending command names one of the keys of (cs, args).
func (p *pipeline) conflicts(cs *commandSpec, args [][]byte) bool {
	for i := range p.pending() {
		cl := &p.calls[i]
		for j, a := range args {
			if !cs.isKey(j) {
				continue
			}
			for k, b := range cl.args {
				if cl.spec.isKey(k) && bytes.Equal(a, b) {
					return true
				}
			}
		}
	}
	return false
}

// reset empties the pipeline after it ran, keeping buffers of reasonable size.
func (p *pipeline) reset() {
	for i := range p.pending() {
		cl := &p.calls[i]
		clear(cl.args)
		cl.args = cl.args[:0]
		if cap(cl.out) > maxRetainedCallOut {
			cl.out = nil
		} else {
			cl.out = cl.out[:0]
		}
		cl.spec, cl.wait, cl.panicked, cl.stack = nil, nil, nil, nil
	}
	p.n = 0
}

// starter is a Backend that can start a request without waiting for its reply, as
// node.Node can: the function Start returns waits for the reply (or ctx) and returns
// it, and is called exactly once.
type starter interface {
	Start(ctx context.Context, req core.Request) (wait func() core.Reply)
}

// runPipeline runs c's pending Backend commands and appends their replies to c.out in
// order; it returns once every one has returned. With a starter Backend, the
// connection's goroutine starts the request of every single-request command (SET,
// GET, …) at once, then collects the replies in order: a pipeline costs the shards one
// wake-up instead of one per command. The other commands (DEL, EXISTS, or every one
// when the Backend cannot start requests) run on worker goroutines, one of them on
// the connection's goroutine. If a command panicked, runPipeline panics with a
// callPanic after all have returned.
func (s *Server) runPipeline(c *client) {
	calls := c.pipe.pending()
	if len(calls) == 0 {
		return
	}
	var wg sync.WaitGroup
	var inline *call // the last command for a worker, run on this goroutine
	// The requests started together share one deadline (see requestCtx).
	var start func(*call)
	for i := range calls {
		cl := &calls[i]
		if s.starter != nil && cl.spec.request != nil {
			if start == nil {
				ctx := c.requestCtx(s.ctx, s.cfg.RequestTimeout)
				start = func(cl *call) { s.startCall(ctx, cl) }
			}
			s.protect(cl, start)
			continue
		}
		if inline != nil {
			wg.Add(1)
			s.handOff(inline, &wg)
		}
		inline = cl
	}
	if inline != nil {
		s.protect(inline, s.runCall)
	}
	for i := range calls {
		if calls[i].wait != nil {
			s.protect(&calls[i], s.finishCall)
		}
	}
	wg.Wait()
	for i := range calls {
		if calls[i].panicked != nil {
			p := callPanic{value: calls[i].panicked, stack: calls[i].stack}
			c.pipe.reset()
			panic(p)
		}
		c.out = append(c.out, calls[i].out...)
	}
	c.pipe.reset()
}

// startCall starts cl's request on the starter Backend, or appends the error that
// refused it.
func (s *Server) startCall(ctx context.Context, cl *call) {
	if req, ok := cl.spec.request(cl, cl.args); ok {
		cl.wait = s.starter.Start(ctx, req)
	}
}

// finishCall waits for the reply to a started call and appends it. (A call whose
// request or Start panicked has no wait, and is not finished.)
func (s *Server) finishCall(cl *call) {
	cl.spec.reply(cl, cl.args, cl.wait())
}

// runCall runs a command from start to end: its request and reply, or its backend
// function.
func (s *Server) runCall(cl *call) {
	if cl.spec.backend != nil {
		cl.spec.backend(cl, cl.args)
		return
	}
	if req, ok := cl.spec.request(cl, cl.args); ok {
		cl.spec.reply(cl, cl.args, s.do(req))
	}
}

// protect runs f(cl), recording a panic in cl instead of letting it end the process
// (f may run on a goroutine of its own) or leave the other calls running unwaited.
func (s *Server) protect(cl *call, f func(*call)) {
	defer func() {
		if p := recover(); p != nil && cl.panicked == nil {
			cl.panicked, cl.stack = p, debug.Stack()
		}
	}()
	f(cl)
}

// job is a call handed to a worker, and the WaitGroup to mark when it is done.
type job struct {
	cl *call
	wg *sync.WaitGroup
}

// workerIdle is how long a worker waits for another call before it ends.
const workerIdle = 10 * time.Second

// handOff runs cl on an idle worker goroutine, or on a new one if none is idle, and
// marks wg done when it returns. The workers outlive their calls, because a fresh
// goroutine's first call spends a good part of its time growing the goroutine's stack.
func (s *Server) handOff(cl *call, wg *sync.WaitGroup) {
	j := job{cl, wg}
	select {
	case s.jobs <- j:
	default:
		go s.worker(j)
	}
}

// worker runs j, then the calls handed to it, until it has been idle for workerIdle
// or the server has closed.
func (s *Server) worker(j job) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		s.protect(j.cl, s.runCall)
		j.wg.Done()
		idle.Reset(workerIdle)
		select {
		case j = <-s.jobs:
		case <-idle.C:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// callPanic is a panic of a pipelined command, re-raised on the connection's
// goroutine with the stack where it happened.
type callPanic struct {
	value any
	stack []byte
}
