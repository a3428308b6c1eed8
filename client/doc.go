// Package client is the Go client of Chorus, token-aware: it knows the cluster's
// consistent-hash ring and sends each request straight to a replica of its key.
//
// A Chorus node accepts any request and coordinates it: it asks the key's N replicas
// and answers once the consistency level is met. When the node that receives the
// request is itself a replica, one network hop and one of the waits are saved; Dynamo
// measured such client-driven coordination to halve 99.9th-percentile latency. The
// client therefore reads the members from GET /v1/cluster, builds the very ring the
// servers build (same members, zones and tokens), and for each key sends the request
// over RESP to the first replica in the key's preference list that is alive. If that
// node cannot be reached it tries the next replica, then any other node, and asks
// the cluster for its members again; it also re-reads them every RefreshInterval.
//
// Each node gets a pool of connections (go-redis underneath); every new connection is
// set to the client's consistency levels (CONSISTENCY READ/WRITE) and keyspace
// (KEYSPACE) before it carries a request. A Pipeline sends many requests with one
// round trip per node. Do (and Pipeline.Do) routes any other one-key command the same
// way: INCR and SADD on CRDT keys, SMEMBERS, GETSIBLINGS, SETCTX.
//
// Errors wrap the package's sentinels (ErrNotFound, ErrUnavailable, ErrTimeout,
// ErrTooLarge, ErrWrongType, ErrNoNodes, ErrClosed): test them with errors.Is. The
// server's error replies arrive as *ServerError, which also names the node that sent
// them.
//
// Usage:
//
//	c, err := client.New(ctx, client.Options{
//		Seeds:      []string{"127.0.0.1:7380", "127.0.0.1:7381"},
//		Keyspace:   "users",
//		WriteLevel: "QUORUM",
//		ReadLevel:  "ONE",
//	})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	if err := c.Set(ctx, "alice", []byte(`{"age": 42}`), 0); err != nil {
//		return err
//	}
//	v, err := c.Get(ctx, "alice")
//	switch {
//	case errors.Is(err, client.ErrNotFound):
//		// no value
//	case errors.Is(err, client.ErrUnavailable):
//		// too few replicas alive for the read level: retry later or read at ONE
//	}
//
// A Client is safe for concurrent use by many goroutines; create one per keyspace
// and share it.
package client
