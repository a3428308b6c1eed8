package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors. Errors returned by a Client wrap them; test with errors.Is.
var (
	// ErrNotFound: the key has no value (never written, deleted or expired).
	ErrNotFound = errors.New("client: key not found")
	// ErrUnavailable: too few replicas of the key were alive to reach the consistency
	// level, so nothing was attempted (the server's UNAVAILABLE reply).
	ErrUnavailable = errors.New("client: unavailable")
	// ErrTimeout: the request was attempted but not confirmed in time, by the server
	// (its TIMEOUT reply) or by the client (Options.Timeout or the context's
	// deadline). A write may have been applied on some replicas and will then
	// converge.
	ErrTimeout = errors.New("client: timeout")
	// ErrTooLarge: the key or value exceeds the server's limits; nothing was stored.
	ErrTooLarge = errors.New("client: too large")
	// ErrWrongType: the key holds a value of another kind (a counter or set).
	ErrWrongType = errors.New("client: wrong type")
	// ErrNoNodes: no node of the cluster could be reached over the network.
	ErrNoNodes = errors.New("client: no reachable node")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("client: closed")
)

// ServerError is an error reply of a Chorus node, such as
// "UNAVAILABLE need 2 replicas for QUORUM, 1 alive". It wraps the sentinel of its
// Code (ErrUnavailable for UNAVAILABLE, ErrTimeout for TIMEOUT, ErrTooLarge for
// TOOLARGE, ErrWrongType for WRONGTYPE; none for ERR and unknown codes).
type ServerError struct {
	// Node is the id of the node that replied.
	Node string
	// Code is the reply's first word: UNAVAILABLE, TIMEOUT, TOOLARGE, WRONGTYPE, ERR…
	Code string
	// Message is the readable reason that follows the code.
	Message string
}

// Error returns the reply as the node sent it, prefixed with the node's id.
func (e *ServerError) Error() string {
	return fmt.Sprintf("chorus node %s: %s %s", e.Node, e.Code, e.Message)
}

// Unwrap returns the sentinel of e.Code, or nil.
func (e *ServerError) Unwrap() error {
	switch e.Code {
	case "UNAVAILABLE":
		return ErrUnavailable
	case "TIMEOUT":
		return ErrTimeout
	case "TOOLARGE":
		return ErrTooLarge
	case "WRONGTYPE":
		return ErrWrongType
	}
	return nil
}

// outcome is what the client does with the result of one attempt on one node.
type outcome int

const (
	done     outcome = iota // success, an error reply, or a failure another node would not fix
	failover                // the node could not be reached: try the next candidate
)

// classify maps the error of one attempt on node to the error the caller sees and
// says whether another node should be tried. It is the one place where go-redis
// errors become this package's.
func classify(ctx context.Context, node string, err error) (outcome, error) {
	var rerr redis.Error
	switch {
	case err == nil:
		return done, nil
	case errors.Is(err, redis.Nil):
		return done, ErrNotFound
	case errors.As(err, &rerr):
		return done, serverError(node, rerr.Error())
	case ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return done, fmt.Errorf("%w: node %s: %w", ErrTimeout, node, ctx.Err())
		}
		return done, ctx.Err()
	case isDialError(err):
		return failover, fmt.Errorf("node %s: %w", node, err)
	case isNetTimeout(err):
		return done, fmt.Errorf("%w: node %s: %w", ErrTimeout, node, err)
	case errors.Is(err, redis.ErrPoolTimeout):
		return done, fmt.Errorf("node %s: %w", node, err)
	}
	// io.EOF, connection reset, a node client closed by a refresh: the node is gone
	// or went away mid-request.
	return failover, fmt.Errorf("node %s: %w", node, err)
}

// serverError parses an error reply ("CODE reason").
func serverError(node, reply string) *ServerError {
	code, msg, _ := strings.Cut(reply, " ")
	return &ServerError{Node: node, Code: code, Message: msg}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
