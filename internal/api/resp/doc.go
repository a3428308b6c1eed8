// Package resp serves Chorus over RESP, Redis's wire protocol (version 2), so that
// stock redis-cli, redis-benchmark and Redis client libraries work against a node.
//
// A Server takes a net.Listener (tests listen on 127.0.0.1:0) and runs each command
// on an api.Backend with the connection's keyspace and consistency levels:
//
//	s := resp.NewServer(resp.Config{Backend: node})
//	go s.Serve(l)          // returns ErrServerClosed after Shutdown or Close
//	...
//	s.Shutdown(ctx)
//
// Commands (case-insensitive): PING, ECHO, INFO, QUIT, SELECT 0, HELLO [2],
// CLIENT SETNAME|GETNAME|SETINFO|ID, COMMAND, CONFIG GET, SET key value [EX s|PX ms],
// GET, GETSIBLINGS, DEL key…, EXISTS key…, CONSISTENCY [[READ|WRITE] level] and
// KEYSPACE [name]. Errors start with UNAVAILABLE, TIMEOUT, WRONGTYPE, TOOLARGE or ERR
// followed by a readable reason; they leave the connection usable, except a malformed
// request ("ERR Protocol error: …"), after which the connection is closed.
//
// Pipelining: the commands a client sends without waiting for replies are read
// together; those that go to the Backend run concurrently (up to 64 at a time; with
// a Backend that can start requests without waiting, such as node.Node, they are
// all handed to the shards at once), and their replies are written in order, in one
// write. Commands on the same key still run one after another, and a command that
// does not go to the Backend (CONSISTENCY, KEYSPACE, QUIT, …) waits for the ones
// before it: each command sees what the earlier ones did to its keys, and the
// session they left; commands of one pipeline on different keys may take effect in
// any order.
//
// Requests are parsed by this package's own bounded reader rather than redcon's
// connection loop, whose parser panics on some declared lengths (e.g.
// "*1\r\n$9223372036854775807\r\n") and spins on huge declared argument counts;
// replies are encoded with redcon's Append functions. Memory per connection follows
// the bytes received: an argument longer than the key and value limits is discarded
// as it arrives and the command is answered with TOOLARGE.
package resp
