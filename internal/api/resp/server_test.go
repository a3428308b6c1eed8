package resp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
	"github.com/chorusdb/chorus/internal/membership"
	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/version"
)

func TestGoRedis(t *testing.T) {
	_, addr, be := start(t, nil)
	ctx := context.Background()
	// Default options: go-redis v9 opens with HELLO 3 and CLIENT SETINFO, and must
	// fall back to RESP2. A client name adds CLIENT SETNAME to the handshake.
	for _, opt := range []*redis.Options{
		{Addr: addr},
		{Addr: addr, ClientName: "tester", DB: 0},
		{Addr: addr, Protocol: 2},
	} {
		rdb := redis.NewClient(opt)
		if got, err := rdb.Ping(ctx).Result(); err != nil || got != "PONG" {
			t.Fatalf("PING = %q, %v", got, err)
		}
		if err := rdb.Set(ctx, "k", "v1", 0).Err(); err != nil {
			t.Fatalf("SET: %v", err)
		}
		if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "v1" {
			t.Fatalf("GET = %q, %v", got, err)
		}
		if _, err := rdb.Get(ctx, "missing").Result(); err != redis.Nil {
			t.Fatalf("GET missing: err = %v, want redis.Nil", err)
		}
		if err := rdb.Set(ctx, "t", "x", 1500*time.Millisecond).Err(); err != nil {
			t.Fatalf("SET PX: %v", err)
		}
		if n, err := rdb.Exists(ctx, "k", "missing", "k").Result(); err != nil || n != 2 {
			t.Fatalf("EXISTS = %d, %v", n, err)
		}
		if n, err := rdb.Del(ctx, "k", "missing").Result(); err != nil || n != 1 {
			t.Fatalf("DEL = %d, %v", n, err)
		}
		if got, err := rdb.Echo(ctx, "hi").Result(); err != nil || got != "hi" {
			t.Fatalf("ECHO = %q, %v", got, err)
		}
		if opt.ClientName != "" {
			if got, err := rdb.ClientGetName(ctx).Result(); err != nil || got != opt.ClientName {
				t.Fatalf("CLIENT GETNAME = %q, %v", got, err)
			}
		}
		if err := rdb.Do(ctx, "CONSISTENCY", "ONE").Err(); err != nil {
			t.Fatalf("CONSISTENCY ONE: %v", err)
		}
		rdb.Close()
	}
	var ttl int64
	for _, r := range be.Requests() {
		if r.Op == core.OpPut && r.Key.Key == "t" {
			ttl = r.TTLMs
		}
	}
	if ttl != 1500 {
		t.Errorf("SET with 1.5s expiry sent TTLMs=%d, want 1500", ttl)
	}
}

func TestCommandsRaw(t *testing.T) {
	_, addr, _ := start(t, nil)
	c := dial(t, addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"ping", "hello"}, bulk("hello")},
		{[]string{"PING", "a", "b"}, "-ERR wrong number of arguments for 'ping' command\r\n"},
		{[]string{"ECHO", "x y"}, bulk("x y")},
		{[]string{"ECHO"}, "-ERR wrong number of arguments for 'echo' command\r\n"},
		{[]string{"SET", "k", "v"}, "+OK\r\n"},
		{[]string{"GET", "k"}, bulk("v")},
		{[]string{"get", "nope"}, "$-1\r\n"},
		{[]string{"SET", "k"}, "-ERR wrong number of arguments for 'set' command\r\n"},
		{[]string{"GET", "k", "extra"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{[]string{"SET", "k", "v", "NX"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "k", "v", "EX"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "k", "v", "EX", "1", "PX", "5"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "k", "v", "EX", "0"}, "-ERR invalid expire time in 'set' command\r\n"},
		{[]string{"SET", "k", "v", "PX", "-5"}, "-ERR invalid expire time in 'set' command\r\n"},
		{[]string{"SET", "k", "v", "EX", "9223372036854775807"}, "-ERR invalid expire time in 'set' command\r\n"},
		{[]string{"SET", "k", "v", "EX", "ten"}, "-ERR value is not an integer or out of range\r\n"},
		{[]string{"SET", "k", "v2", "ex", "100"}, "+OK\r\n"},
		{[]string{"GET", "k"}, bulk("v2")},
		{[]string{"SET", "", ""}, "+OK\r\n"},
		{[]string{"GET", ""}, bulk("")},
		{[]string{"EXISTS", "k", "nope", "k"}, ":2\r\n"},
		{[]string{"DEL", "k", "nope"}, ":1\r\n"},
		{[]string{"DEL", "k"}, ":0\r\n"},
		{[]string{"EXISTS", "k"}, ":0\r\n"},
		{[]string{"GET", "k"}, "$-1\r\n"},
		{[]string{"DEL"}, "-ERR wrong number of arguments for 'del' command\r\n"},
		{[]string{"FLUSHALL"}, "-ERR unknown command 'FLUSHALL'\r\n"},
		{[]string{"bad\r\nname"}, "-ERR unknown command 'bad??name'\r\n"},
		{[]string{"SELECT", "0"}, "+OK\r\n"},
		{[]string{"SELECT", "1"}, "-ERR DB index is out of range: only database 0 exists; use KEYSPACE name\r\n"},
		{[]string{"CLIENT", "SETNAME", "me"}, "+OK\r\n"},
		{[]string{"CLIENT", "GETNAME"}, bulk("me")},
		{[]string{"CLIENT", "SETNAME", "has space"}, "-ERR Client names cannot contain spaces, newlines or special characters\r\n"},
		{[]string{"CLIENT", "SETINFO", "LIB-NAME", "x"}, "+OK\r\n"},
		{[]string{"CLIENT", "KILL"}, "-ERR unknown subcommand or wrong number of arguments for 'CLIENT KILL'\r\n"},
		{[]string{"HELLO", "3"}, "-ERR unknown protocol version 3: this server speaks RESP2 only (HELLO 2)\r\n"},
		{[]string{"HELLO", "x"}, "-ERR Protocol version is not an integer or out of range\r\n"},
		{[]string{"HELLO", "2", "AUTH", "u", "p"}, "-ERR AUTH <password> called without any password configured for the default user\r\n"},
		{[]string{"COMMAND"}, "*0\r\n"},
		{[]string{"COMMAND", "DOCS"}, "*0\r\n"},
		{[]string{"COMMAND", "COUNT"}, ":29\r\n"},
		{[]string{"CONFIG", "GET", "save"}, array(bulk("save"), bulk(""))},
		{[]string{"CONFIG", "GET", "APPENDONLY", "nosuch"}, array(bulk("appendonly"), bulk("no"))},
		{[]string{"CONFIG", "SET", "save", ""}, "-ERR only CONFIG GET parameter… is supported; Chorus is configured by flags\r\n"},
		{[]string{"KEYSPACE"}, bulk("default")},
		{[]string{"PING"}, "+PONG\r\n"},
	} {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.args, got, tc.want)
		}
	}
	// HELLO 2 with SETNAME answers the server's properties and names the connection.
	got := c.do("HELLO", "2", "SETNAME", "other")
	for _, part := range []string{bulk("server") + bulk("chorus"), bulk("proto") + ":2\r\n", bulk("mode") + bulk("standalone")} {
		if !strings.Contains(got, part) || !strings.HasPrefix(got, "*14\r\n") {
			t.Errorf("HELLO 2 = %q, want it to contain %q", got, part)
		}
	}
	if got := c.do("CLIENT", "GETNAME"); got != bulk("other") {
		t.Errorf("CLIENT GETNAME after HELLO SETNAME = %q", got)
	}
	if got := c.do("QUIT"); got != "+OK\r\n" {
		t.Errorf("QUIT = %q", got)
	}
	c.expectClosed()
}

func TestConsistencyPerConnection(t *testing.T) {
	_, addr, be := start(t, func(c *Config) { c.DefaultWriteLevel = core.Two })
	a, b := dial(t, addr), dial(t, addr)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"CONSISTENCY"}, bulk("read=QUORUM write=TWO")},
		{[]string{"CONSISTENCY", "one"}, "+OK\r\n"},
		{[]string{"CONSISTENCY"}, bulk("read=ONE write=ONE")},
		{[]string{"CONSISTENCY", "READ", "ALL"}, "+OK\r\n"},
		{[]string{"consistency", "write", "any"}, "+OK\r\n"},
		{[]string{"CONSISTENCY"}, bulk("read=ALL write=ANY")},
		{[]string{"CONSISTENCY", "READ", "ANY"}, "-ERR ANY is a write-only level; use CONSISTENCY WRITE ANY\r\n"},
		{[]string{"CONSISTENCY", "ANY"}, "-ERR ANY is a write-only level; use CONSISTENCY WRITE ANY\r\n"},
		{[]string{"CONSISTENCY", "FIVE"}, `-ERR unknown consistency level "FIVE" (want ONE, TWO, THREE, QUORUM, ALL or ANY)` + "\r\n"},
		{[]string{"CONSISTENCY", "WRITE", "FIVE"}, `-ERR unknown consistency level "FIVE" (want ONE, TWO, THREE, QUORUM, ALL or ANY)` + "\r\n"},
		{[]string{"CONSISTENCY", "BOTH", "ONE"}, "-ERR syntax error; use CONSISTENCY [READ|WRITE] level\r\n"},
		{[]string{"CONSISTENCY", "READ", "ONE", "X"}, "-ERR wrong number of arguments for 'consistency' command\r\n"},
		{[]string{"CONSISTENCY"}, bulk("read=ALL write=ANY")}, // errors changed nothing
	}
	for _, st := range steps {
		if got := a.do(st.args...); got != st.want {
			t.Errorf("%q: got %q, want %q", st.args, got, st.want)
		}
	}
	if got := b.do("CONSISTENCY"); got != bulk("read=QUORUM write=TWO") {
		t.Errorf("other connection's levels changed: %q", got)
	}
	be.ResetRequests()
	a.do("SET", "k", "v")
	a.do("GET", "k")
	a.do("DEL", "k")
	a.do("EXISTS", "k")
	b.do("SET", "k", "v")
	b.do("GET", "k")
	want := []core.Level{core.Any, core.All, core.Any, core.All, core.Two, core.Quorum}
	reqs := be.Requests()
	if len(reqs) != len(want) {
		t.Fatalf("backend saw %d requests, want %d", len(reqs), len(want))
	}
	for i, r := range reqs {
		if r.Level != want[i] {
			t.Errorf("request %d (%s) at %s, want %s", i, r.Op, r.Level, want[i])
		}
	}
}

func TestKeyspaceIsolation(t *testing.T) {
	_, addr, be := start(t, nil)
	a, b := dial(t, addr), dial(t, addr)
	if got := a.do("KEYSPACE", "carts"); got != "+OK\r\n" {
		t.Fatalf("KEYSPACE carts = %q", got)
	}
	a.do("SET", "k", "in-carts")
	b.do("SET", "k", "in-default")
	if got := a.do("GET", "k"); got != bulk("in-carts") {
		t.Errorf("a GET = %q", got)
	}
	if got := b.do("GET", "k"); got != bulk("in-default") {
		t.Errorf("b GET = %q", got)
	}
	for _, bad := range []string{"", "a b", "x/y", strings.Repeat("k", 65)} {
		if got := a.do("KEYSPACE", bad); !strings.HasPrefix(got, "-ERR keyspace name") {
			t.Errorf("KEYSPACE %q = %q, want an ERR", bad, got)
		}
	}
	if got := a.do("KEYSPACE"); got != bulk("carts") {
		t.Errorf("KEYSPACE after bad names = %q", got)
	}
	if _, ok := be.Object(object.Key{Keyspace: "carts", Key: "k"}); !ok {
		t.Error("carts/k not stored")
	}
	if got := b.do("KEYSPACE", "carts"); got != "+OK\r\n" {
		t.Fatal(got)
	}
	if got := b.do("GET", "k"); got != bulk("in-carts") {
		t.Errorf("b GET in carts = %q", got)
	}
}

func TestTooLarge(t *testing.T) {
	_, addr, be := start(t, func(c *Config) { c.Limits = api.Limits{MaxValueBytes: 1000} })
	c := dial(t, addr)
	bigKey := strings.Repeat("k", 2049)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"SET", bigKey, "v"}, "-TOOLARGE key of 2049 bytes exceeds the 2048-byte limit\r\n"},
		{[]string{"GET", bigKey}, "-TOOLARGE key of 2049 bytes exceeds the 2048-byte limit\r\n"},
		{[]string{"DEL", "a", "b", bigKey}, "-TOOLARGE key of 2049 bytes exceeds the 2048-byte limit\r\n"},
		{[]string{"EXISTS", bigKey}, "-TOOLARGE key of 2049 bytes exceeds the 2048-byte limit\r\n"},
		// Within the reader's argument limit (2048), refused by the value check.
		{[]string{"SET", "k", strings.Repeat("v", 1001)}, "-TOOLARGE value of 1001 bytes exceeds the 1000-byte limit\r\n"},
		// Beyond the reader's argument limit: discarded as it arrives.
		{[]string{"SET", "k", strings.Repeat("v", 5000)}, "-TOOLARGE value of 5000 bytes exceeds the 1000-byte limit\r\n"},
		{[]string{"SET", strings.Repeat("k", 5000), "v"}, "-TOOLARGE key of 5000 bytes exceeds the 2048-byte limit\r\n"},
		{[]string{"ECHO", strings.Repeat("e", 5000)}, "-TOOLARGE argument of 5000 bytes exceeds the 2048-byte limit\r\n"},
		{[]string{strings.Repeat("X", 5000)}, "-ERR unknown command ''\r\n"},
	}
	for _, tc := range cases {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%.40q: got %q, want %q", tc.args, got, tc.want)
		}
	}
	if n := len(be.Requests()); n != 0 {
		t.Errorf("backend saw %d requests for oversized input, want 0", n)
	}
	if got := c.do("SET", "k", strings.Repeat("v", 1000)); got != "+OK\r\n" {
		t.Errorf("SET at the limit = %q", got)
	}
}

func TestDefaultValueLimit(t *testing.T) {
	_, addr, be := start(t, nil)
	c := dial(t, addr)
	huge := strings.Repeat("v", api.DefaultMaxValueBytes+1)
	want := fmt.Sprintf("-TOOLARGE value of %d bytes exceeds the %d-byte limit\r\n", len(huge), api.DefaultMaxValueBytes)
	if got := c.do("SET", "k", huge); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if be.Len() != 0 || len(be.Requests()) != 0 {
		t.Error("oversized value reached the backend")
	}
	if got := c.do("SET", "k", huge[1:]); got != "+OK\r\n" {
		t.Errorf("SET of exactly the limit = %.80q", got)
	}
}

func TestBackendErrors(t *testing.T) {
	_, addr, be := start(t, func(c *Config) { c.RequestTimeout = 50 * time.Millisecond })
	c := dial(t, addr)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w need 3 replicas for ALL, 2 alive", core.ErrUnavailable), "-UNAVAILABLE need 3 replicas for ALL, 2 alive\r\n"},
		{fmt.Errorf("%w 1 of 2 required replicas answered within 1000ms", core.ErrTimeout), "-TIMEOUT 1 of 2 required replicas answered within 1000ms\r\n"},
		{fmt.Errorf("%w key holds a counter", core.ErrWrongType), "-WRONGTYPE key holds a counter\r\n"},
		{fmt.Errorf("node: %w", core.ErrUnavailable), "-UNAVAILABLE node: UNAVAILABLE\r\n"},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), "-TIMEOUT wrapped: context deadline exceeded\r\n"},
		{errors.New("disk on fire\r\nreally"), "-ERR internal error: disk on fire  really\r\n"},
	} {
		be.SetFailure(func(core.Request) error { return tc.err })
		for _, cmd := range [][]string{{"GET", "k"}, {"SET", "k", "v"}, {"DEL", "k"}, {"EXISTS", "k"}, {"GETSIBLINGS", "k"}} {
			if got := c.do(cmd...); got != tc.want {
				t.Errorf("%v with %v: got %q, want %q", cmd, tc.err, got, tc.want)
			}
		}
	}
	be.SetFailure(nil)
	be.SetDelay(time.Second)
	if got := c.do("GET", "k"); !strings.HasPrefix(got, "-TIMEOUT ") {
		t.Errorf("slow backend: got %q, want a TIMEOUT error", got)
	}
	be.SetDelay(0)
	if got := c.do("PING"); got != "+PONG\r\n" {
		t.Errorf("connection unusable after errors: %q", got)
	}
}

func TestSiblings(t *testing.T) {
	_, addr, be := start(t, nil)
	c := dial(t, addr)
	d1, d2 := version.Dot{Actor: "a", Counter: 1}, version.Dot{Actor: "b", Counter: 1}
	ctx := version.Vector{d1, d2}
	be.SetObject(object.Key{Keyspace: "default", Key: "two"}, object.Object{
		Kind: object.KindSiblings,
		Siblings: []object.Sibling{
			{Value: []byte("left"), Dot: d1, Timestamp: version.MakeTimestamp(1, 0)},
			{Value: []byte("right"), Dot: d2, Timestamp: version.MakeTimestamp(2, 0)},
		},
		Context: ctx,
	})
	be.SetObject(object.Key{Keyspace: "default", Key: "one"}, object.Object{
		Kind: object.KindSiblings,
		Siblings: []object.Sibling{
			{Dot: d1, Timestamp: version.MakeTimestamp(1, 0), Tombstone: true},
			{Value: []byte("only"), Dot: d2, Timestamp: version.MakeTimestamp(2, 0)},
		},
		Context: ctx,
	})
	tok := version.EncodeContext(ctx)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"GET", "two"}, "-ERR CONFLICT key has 2 siblings; read them with GETSIBLINGS\r\n"},
		{[]string{"GETSIBLINGS", "two"}, array(bulk(tok), bulk("left"), bulk("right"))},
		{[]string{"GET", "one"}, bulk("only")},
		{[]string{"GETSIBLINGS", "one"}, array(bulk(tok), bulk("only"))},
		{[]string{"GETSIBLINGS", "none"}, array(bulk(""))},
		{[]string{"EXISTS", "two", "one"}, ":2\r\n"},
	} {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestInfo(t *testing.T) {
	_, addr, be := start(t, func(c *Config) {
		c.Version = "1.2.3"
		c.Info = func() string { return "# Storage\nengine:memory\n" }
	})
	be.SetCluster([]api.MemberInfo{
		{Member: membership.Member{ID: "n1", Status: membership.Alive}},
		{Member: membership.Member{ID: "n2", Status: membership.Alive}},
		{Member: membership.Member{ID: "n3", Status: membership.Dead}},
	}, 3)
	c := dial(t, addr)
	dial(t, addr).do("PING") // a second client
	want := "# Server\r\nchorus_version:1.2.3\r\nnode_id:n1\r\nconnected_clients:2\r\n" +
		"\r\n# Cluster\r\ncluster_members:3\r\ncluster_members_alive:2\r\nreplication_factor:3\r\n" +
		"\r\n# Storage\r\nengine:memory\r\n"
	if got := c.do("INFO"); got != bulk(want) {
		t.Errorf("INFO = %q, want %q", got, bulk(want))
	}
	if got := c.do("INFO", "all"); got != bulk(want) {
		t.Errorf("INFO all = %q", got)
	}
	if got, w := c.do("INFO", "cluster", "STORAGE"), "# Cluster\r\ncluster_members:3\r\ncluster_members_alive:2\r\nreplication_factor:3\r\n\r\n# Storage\r\nengine:memory\r\n"; got != bulk(w) {
		t.Errorf("INFO cluster storage = %q", got)
	}
	if got := c.do("INFO", "nosuch"); got != bulk("") {
		t.Errorf("INFO nosuch = %q", got)
	}
}

func TestMalformedInput(t *testing.T) {
	_, addr, _ := start(t, nil)
	for _, tc := range []struct {
		name, send, want string
	}{
		{"bad multibulk count", "*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"count beyond limit", "*2147483647\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"count overflowing int64", "*9223372036854775808\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"bulk length beyond limit", "*1\r\n$2147483647\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk length overflowing int64", "*1\r\n$9223372036854775807\r\nxx\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"negative bulk length", "*1\r\n$-3\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"not a bulk", "*1\r\n:12\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
		{"bulk without CRLF", "*1\r\n$4\r\nPINGxx", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bare LF header", "*1\n", "-ERR Protocol error: expected CRLF\r\n"},
		{"endless header", "*1\r\n$" + strings.Repeat("1", 70000), "-ERR Protocol error: too big inline request or header\r\n"},
		{"endless inline", strings.Repeat("a", 70000), "-ERR Protocol error: too big inline request or header\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tc.send)
			if got := c.reply(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			c.expectClosed()
		})
	}
	t.Run("recoverable", func(t *testing.T) {
		c := dial(t, addr)
		c.send("*0\r\n*-1\r\n\r\n   \r\nPING\r\n  echo   two\twords \r\n$5\r\n")
		for _, want := range []string{"+PONG\r\n", "-ERR wrong number of arguments for 'echo' command\r\n", "-ERR unknown command '$5'\r\n"} {
			if got := c.reply(); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		}
		if got := c.do("PING"); got != "+PONG\r\n" {
			t.Errorf("PING after errors = %q", got)
		}
	})
	t.Run("huge declared bulk within protocol limit", func(t *testing.T) {
		// 100 MB declared, 1 KB sent: the server discards as it reads and keeps
		// serving others; nothing of the declared size is allocated (see
		// TestReaderMemoryFollowsBytes).
		c := dial(t, addr)
		c.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\n" + strings.Repeat("x", 1024))
		other := dial(t, addr)
		if got := other.do("PING"); got != "+PONG\r\n" {
			t.Errorf("other connection: %q", got)
		}
	})
}

func TestPipelining(t *testing.T) {
	_, addr, _ := start(t, nil)
	c := dial(t, addr)
	var b strings.Builder
	const n = 500
	for i := 0; i < n; i++ {
		b.WriteString(encodeCommand("SET", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)))
		b.WriteString(encodeCommand("GET", fmt.Sprintf("k%d", i)))
	}
	c.send(b.String())
	for i := 0; i < n; i++ {
		if got := c.reply(); got != "+OK\r\n" {
			t.Fatalf("SET %d: %q", i, got)
		}
		if got := c.reply(); got != bulk(fmt.Sprintf("v%d", i)) {
			t.Fatalf("GET %d: %q", i, got)
		}
	}
}

func TestShutdown(t *testing.T) {
	be := startDirect(t)
	s, l := be.srv, be.l
	idle := dial(t, l.Addr().String())
	busy := dial(t, l.Addr().String())
	idle.do("PING")
	be.SetDelay(300 * time.Millisecond)
	busy.send(encodeCommand("GET", "k"))
	time.Sleep(50 * time.Millisecond) // let the GET reach the backend
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := busy.reply(); got != "$-1\r\n" {
		t.Errorf("in-flight GET answered %q during shutdown", got)
	}
	idle.expectClosed()
	busy.expectClosed()
	if err := <-be.errc; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
	if s.Close() != nil || s.Close() != nil {
		t.Error("Close is not idempotent")
	}
}

func TestShutdownDeadline(t *testing.T) {
	be := startDirect(t)
	c := dial(t, be.l.Addr().String())
	be.SetDelay(time.Minute)
	c.send(encodeCommand("GET", "k"))
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := be.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	// The in-flight GET may be answered TIMEOUT (its context was cancelled) before the
	// connection closes, depending on which goroutine runs first; never with a value.
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := c.br.ReadString('\n'); err == nil && !strings.HasPrefix(line, "-TIMEOUT") {
		t.Fatalf("in-flight GET answered %q at the shutdown deadline", line)
	}
	c.expectClosed()
	<-be.errc
}
