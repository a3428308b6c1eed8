package client

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Options configure a Client. The zero value of every field but Seeds means "the
// default"; New fills the defaults in (EnsureDefaults) and checks the result
// (Validate).
type Options struct {
	// Seeds are HTTP addresses ("host:port", or a URL such as "http://host:port") of
	// nodes to learn the cluster from. One reachable seed is enough: the client then
	// learns every member from it and asks the members themselves afterwards. Required.
	Seeds []string

	// Keyspace is the keyspace every request of this client addresses. Default
	// "default". It is part of each key's ring position, so one Client serves one
	// keyspace; use one Client per keyspace.
	Keyspace string

	// ReadLevel and WriteLevel are the consistency levels of reads and writes: ONE,
	// TWO, THREE, QUORUM or ALL, and also ANY for writes (case-insensitive). Empty
	// means the server's default (QUORUM). Each new connection is set to them with
	// CONSISTENCY before it carries a request.
	ReadLevel, WriteLevel string

	// PoolSize is the most connections the client keeps open to each node. Default
	// 10 per CPU (go-redis's default). Requests beyond it wait for a connection; size
	// it to the concurrency expected per node.
	PoolSize int

	// RefreshInterval is how often the client asks the cluster for its members and
	// rebuilds the ring. Default 10s; a negative value turns periodic refresh off
	// (the client still refreshes after connection errors and UNAVAILABLE replies).
	// Shorter intervals notice joins and leaves sooner at the cost of one small HTTP
	// request per interval.
	RefreshInterval time.Duration

	// Timeout bounds each network read and write of a request; a node that does not
	// answer within it fails the request with ErrTimeout. Default 3s, above the
	// server's own 2s coordinator timeout so that the server's TIMEOUT reply arrives
	// first. A context deadline, when shorter, applies too.
	Timeout time.Duration
}

// Defaults of Options, used where a field is zero.
const (
	// DefaultKeyspace is the keyspace of a Client whose Options.Keyspace is empty,
	// and the one a new connection addresses before KEYSPACE.
	DefaultKeyspace = "default"
	// DefaultRefreshInterval is the period of cluster refreshes.
	DefaultRefreshInterval = 10 * time.Second
	// DefaultTimeout bounds each network read and write of a request.
	DefaultTimeout = 3 * time.Second
)

// EnsureDefaults returns a copy of o with every zero field but Seeds set to its
// default and the levels upper-cased.
func (o Options) EnsureDefaults() Options {
	if o.Keyspace == "" {
		o.Keyspace = DefaultKeyspace
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	o.ReadLevel = strings.ToUpper(o.ReadLevel)
	o.WriteLevel = strings.ToUpper(o.WriteLevel)
	return o
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var errs []error
	if len(o.Seeds) == 0 {
		errs = append(errs, errors.New("client: Options.Seeds is empty: give at least one node's HTTP address"))
	}
	for _, s := range o.Seeds {
		if strings.TrimSpace(s) == "" {
			errs = append(errs, errors.New("client: Options.Seeds holds an empty address"))
		}
	}
	if o.ReadLevel != "" && !validLevel(o.ReadLevel, false) {
		errs = append(errs, fmt.Errorf("client: ReadLevel %q is not one of ONE, TWO, THREE, QUORUM, ALL", o.ReadLevel))
	}
	if o.WriteLevel != "" && !validLevel(o.WriteLevel, true) {
		errs = append(errs, fmt.Errorf("client: WriteLevel %q is not one of ONE, TWO, THREE, QUORUM, ALL, ANY", o.WriteLevel))
	}
	if o.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("client: PoolSize must not be negative, got %d", o.PoolSize))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("client: Timeout must not be negative, got %s", o.Timeout))
	}
	return errors.Join(errs...)
}

// validLevel reports whether level (upper case) is a consistency level; ANY only for
// writes.
func validLevel(level string, write bool) bool {
	switch level {
	case "ONE", "TWO", "THREE", "QUORUM", "ALL":
		return true
	case "ANY":
		return write
	}
	return false
}
