package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chorusdb/chorus/internal/ring"
)

// Pipeline queues requests and sends them together with Exec: the requests for each
// node go out as one go-redis pipeline (one write, one round trip), and the nodes are
// sent to in parallel. Each request goes to a replica of its own key, as with the
// Client's methods. The results are valid once Exec returns. A Pipeline is not safe
// for concurrent use; after Exec it is empty and may be reused.
type Pipeline struct {
	c   *Client
	ops []*pipeOp
}

// Pipeline returns an empty Pipeline on c.
func (c *Client) Pipeline() *Pipeline { return &Pipeline{c: c} }

// GetResult is the outcome of a Get queued on a Pipeline.
type GetResult struct{ r result }

// Result returns the value, or an error wrapping ErrNotFound if the key has none.
func (g *GetResult) Result() ([]byte, error) { return g.r.val, g.r.err }

// SetResult is the outcome of a Set queued on a Pipeline.
type SetResult struct{ r result }

// Err returns the error of the Set, nil if it succeeded.
func (s *SetResult) Err() error { return s.r.err }

// CountResult is the outcome of a Del or Exists queued on a Pipeline.
type CountResult struct{ r result }

// Result returns the number of keys deleted (Del) or found (Exists): 0 or 1.
func (c *CountResult) Result() (int64, error) { return c.r.n, c.r.err }

// DoResult is the outcome of a command queued with Do on a Pipeline.
type DoResult struct{ r result }

// Result returns the reply as Client.Do does.
func (d *DoResult) Result() (any, error) { return d.r.reply, d.r.err }

// result is what any queued request yields.
type result struct {
	val   []byte
	n     int64
	reply any // of a Do
	err   error
}

type opKind uint8

const (
	opGet opKind = iota
	opSet
	opDel
	opExists
	opDo
)

// pipeOp is one queued request.
type pipeOp struct {
	kind  opKind
	key   string
	hash  uint64
	value []byte
	ttl   time.Duration
	args  []any // of a Do
	res   *result
	err   error // of the last failed attempt
}

// Len returns the number of queued requests.
func (p *Pipeline) Len() int { return len(p.ops) }

// Get queues a read of key.
func (p *Pipeline) Get(key string) *GetResult {
	r := &GetResult{}
	p.queue(&pipeOp{kind: opGet, key: key, res: &r.r})
	return r
}

// Set queues a write of value under key; ttl as for Client.Set.
func (p *Pipeline) Set(key string, value []byte, ttl time.Duration) *SetResult {
	r := &SetResult{}
	if ttl < 0 {
		r.r.err = fmt.Errorf("client: negative ttl %s", ttl)
	}
	p.queue(&pipeOp{kind: opSet, key: key, value: value, ttl: ttl, res: &r.r})
	return r
}

// Del queues a delete of key.
func (p *Pipeline) Del(key string) *CountResult {
	r := &CountResult{}
	p.queue(&pipeOp{kind: opDel, key: key, res: &r.r})
	return r
}

// Exists queues a check whether key has a value.
func (p *Pipeline) Exists(key string) *CountResult {
	r := &CountResult{}
	p.queue(&pipeOp{kind: opExists, key: key, res: &r.r})
	return r
}

// Do queues one command, as Client.Do sends it: args is the whole command, key the
// key it addresses (which routes it).
func (p *Pipeline) Do(key string, args ...any) *DoResult {
	r := &DoResult{}
	if len(args) == 0 {
		r.r.err = errors.New("client: Do needs a command")
	}
	p.queue(&pipeOp{kind: opDo, key: key, args: args, res: &r.r})
	return r
}

func (p *Pipeline) queue(op *pipeOp) {
	op.hash = ring.KeyHash(p.c.opts.Keyspace, op.key)
	p.ops = append(p.ops, op)
}

// Exec sends the queued requests, waits for every answer and empties the pipeline.
// A node that cannot be reached has its requests sent to the next replica of each
// key. Exec returns the first error among the results in queue order, not counting
// ErrNotFound; each result holds its own error.
func (p *Pipeline) Exec(ctx context.Context) error {
	ops := p.ops
	p.ops = nil
	if p.c.closed.Load() {
		for _, op := range ops {
			op.res.err = ErrClosed
		}
		return firstError(ops)
	}
	t := p.c.topo.Load()
	var skip []*node // nodes that could not be reached during this Exec
	var pending []*pipeOp
	for _, op := range ops {
		if op.res.err == nil { // not refused when queued
			pending = append(pending, op)
		}
	}
	for len(pending) > 0 {
		batches := p.route(t, pending, skip)
		failed := p.c.sendBatches(ctx, batches)
		pending = pending[:0:0]
		for i, b := range batches {
			if failed[i] {
				skip = append(skip, b.node)
				pending = append(pending, b.ops...)
			}
		}
	}
	return firstError(ops)
}

// batch is the requests of one Exec round that go to one node.
type batch struct {
	node *node
	ops  []*pipeOp
}

// route groups ops by the best node for each that is not in skip; an op with no node
// left fails with ErrNoNodes.
func (p *Pipeline) route(t *topology, ops []*pipeOp, skip []*node) []batch {
	var batches []batch
	for _, op := range ops {
		n := t.first(op.hash, skip)
		if n == nil {
			op.res.err = noNodes(op.err)
			continue
		}
		i := 0
		for i < len(batches) && batches[i].node != n {
			i++
		}
		if i == len(batches) {
			batches = append(batches, batch{node: n})
		}
		batches[i].ops = append(batches[i].ops, op)
	}
	return batches
}

// sendBatches sends each batch to its node, in parallel, and reports which nodes
// could not be reached; the ops of those keep their error for the next round.
func (c *Client) sendBatches(ctx context.Context, batches []batch) []bool {
	failed := make([]bool, len(batches))
	if len(batches) == 1 {
		failed[0] = c.sendBatch(ctx, batches[0])
		return failed
	}
	var wg sync.WaitGroup
	for i := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failed[i] = c.sendBatch(ctx, batches[i])
		}()
	}
	wg.Wait()
	return failed
}

// sendBatch sends one batch as a go-redis pipeline and settles each op's result; it
// reports whether the node could not be reached, leaving the ops it could not settle
// unsettled.
func (c *Client) sendBatch(ctx context.Context, b batch) (unreachable bool) {
	pipe := b.node.rdb.Pipeline()
	cmds := make([]redis.Cmder, len(b.ops))
	for i, op := range b.ops {
		cmds[i] = op.enqueue(ctx, pipe)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, op := range b.ops {
		out, err := classify(ctx, b.node.ID, cmds[i].Err())
		if out == failover {
			op.err, unreachable = err, true
			continue
		}
		op.settle(cmds[i], err)
	}
	if unreachable {
		c.nodeFailed(b.node)
	}
	return unreachable
}

// enqueue adds the op's command to pipe.
func (op *pipeOp) enqueue(ctx context.Context, pipe redis.Pipeliner) redis.Cmder {
	switch op.kind {
	case opGet:
		return pipe.Get(ctx, op.key)
	case opSet:
		return pipe.Set(ctx, op.key, op.value, op.ttl)
	case opDel:
		return pipe.Del(ctx, op.key)
	case opDo:
		return pipe.Do(ctx, op.args...)
	default:
		return pipe.Exists(ctx, op.key)
	}
}

// settle records the answer to the op's command; err is the command's error as
// classify mapped it.
func (op *pipeOp) settle(cmd redis.Cmder, err error) {
	op.res.err = err
	if err != nil {
		return
	}
	switch cmd := cmd.(type) {
	case *redis.StringCmd:
		op.res.val, _ = cmd.Bytes()
	case *redis.IntCmd:
		op.res.n = cmd.Val()
	case *redis.Cmd:
		op.res.reply = cmd.Val()
	}
}

func firstError(ops []*pipeOp) error {
	for _, op := range ops {
		if err := op.res.err; err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}
