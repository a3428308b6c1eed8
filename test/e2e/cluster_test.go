package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func redisClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, PoolSize: 4})
	t.Cleanup(func() { c.Close() })
	return c
}

// redisCLI runs stock redis-cli against addr. It skips the test where redis-cli is not
// installed, except under CI, where .ci/run installs it and a missing one is a failure.
func redisCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	return redisCLIRaw(t, append([]string{"-h", host, "-p", port}, args...)...)
}

// redisCLIRaw runs redis-cli with exactly args.
func redisCLIRaw(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-cli is not installed (CI must install redis-tools)")
		}
		t.Skip("redis-cli not installed; apt-get install redis-tools")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func httpDo(t *testing.T, method, url string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadWriteAcrossNodes covers user steps 2 and 3 of the foundation issue: a value
// written through one node is read through another, with go-redis, redis-cli, HTTP and
// the CLI; levels are per connection; cluster status shows every member.
func TestReadWriteAcrossNodes(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	a, b := redisClient(t, c.servers[0].resp), redisClient(t, c.servers[2].resp)

	if err := a.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k through another node = %q, %v; want v", got, err)
	}
	if _, err := b.Get(ctx, "absent").Result(); err != redis.Nil {
		t.Fatalf("GET absent = %v, want nil", err)
	}

	// redis-cli, the stock client.
	if out := redisCLI(t, c.servers[1].resp, "SET", "cli-key", "hello"); out != "OK" {
		t.Fatalf("redis-cli SET = %q", out)
	}
	if out := redisCLI(t, c.servers[2].resp, "GET", "cli-key"); out != "hello" {
		t.Fatalf("redis-cli GET = %q", out)
	}
	if out := redisCLI(t, c.servers[0].resp, "PING"); out != "PONG" {
		t.Fatalf("redis-cli PING = %q", out)
	}

	// Consistency levels are per connection.
	for _, lv := range []string{"ONE", "TWO", "QUORUM", "ALL"} {
		if err := a.Do(ctx, "CONSISTENCY", lv).Err(); err != nil {
			t.Fatalf("CONSISTENCY %s: %v", lv, err)
		}
		got, err := a.Do(ctx, "CONSISTENCY").Text()
		if err != nil || !strings.Contains(got, lv) {
			t.Fatalf("CONSISTENCY after setting %s = %q, %v", lv, got, err)
		}
		key := "lvl-" + lv
		if err := a.Set(ctx, key, lv, 0).Err(); err != nil {
			t.Fatalf("SET at %s: %v", lv, err)
		}
		if got, err := a.Get(ctx, key).Result(); err != nil || got != lv {
			t.Fatalf("GET at %s = %q, %v", lv, got, err)
		}
	}
	if err := a.Do(ctx, "CONSISTENCY", "MOSTLY").Err(); err == nil {
		t.Fatal("CONSISTENCY MOSTLY accepted")
	}

	// DEL counts keys that existed; EXISTS counts keys present.
	if n, err := b.Exists(ctx, "k", "absent").Result(); err != nil || n != 1 {
		t.Fatalf("EXISTS = %d, %v; want 1", n, err)
	}
	if n, err := b.Del(ctx, "k", "absent").Result(); err != nil || n != 1 {
		t.Fatalf("DEL = %d, %v; want 1", n, err)
	}
	if _, err := a.Get(ctx, "k").Result(); err != redis.Nil {
		t.Fatalf("GET after DEL = %v, want nil", err)
	}

	// HTTP: a JSON value through one node, read through another.
	code, body := httpDo(t, "PUT", "http://"+c.servers[0].http+"/v1/kv/default/x", `{"a":1}`)
	if code != 200 || !strings.Contains(body, "context") {
		t.Fatalf("PUT = %d %s", code, body)
	}
	code, body = httpDo(t, "GET", "http://"+c.servers[1].http+"/v1/kv/default/x", "")
	if code != 200 || strings.TrimSpace(body) != `{"a":1}` {
		t.Fatalf("GET = %d %s", code, body)
	}

	// The CLI.
	if out, err := runChorus(t, "put", "--addr", c.servers[2].http, "cli", `[1,2]`); err != nil {
		t.Fatalf("chorus put: %v %s", err, out)
	}
	if out, err := runChorus(t, "get", "--addr", c.servers[0].http, "cli"); err != nil || strings.TrimSpace(out) != "[1,2]" {
		t.Fatalf("chorus get = %q, %v", out, err)
	}
	out, err := runChorus(t, "cluster", "status", "--addr", c.servers[0].http)
	if err != nil {
		t.Fatalf("cluster status: %v %s", err, out)
	}
	for _, s := range c.servers {
		if !strings.Contains(out, s.id) || !strings.Contains(out, s.rpc) {
			t.Fatalf("cluster status does not list %s:\n%s", s.id, out)
		}
	}
	if strings.Count(out, "alive") != 3 || !strings.Contains(out, "100.0%") {
		t.Fatalf("cluster status should show 3 alive members owning 100%% each (RF 3):\n%s", out)
	}
}

// TestKillOneOfThree covers user step 4: with one node killed, QUORUM keeps working,
// ALL fails at once with UNAVAILABLE, and the node rejoins after a restart.
func TestKillOneOfThree(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	a := redisClient(t, c.servers[0].resp)
	for i := 0; i < 50; i++ {
		if err := a.Set(ctx, fmt.Sprintf("before-%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.servers[2].kill9()

	// QUORUM reads and writes keep working straight away: two replicas answer.
	for i := 0; i < 50; i++ {
		if got, err := a.Get(ctx, fmt.Sprintf("before-%d", i)).Int(); err != nil || got != i {
			t.Fatalf("QUORUM GET with a node down = %d, %v", got, err)
		}
		if err := a.Set(ctx, fmt.Sprintf("during-%d", i), i, 0).Err(); err != nil {
			t.Fatalf("QUORUM SET with a node down: %v", err)
		}
	}
	// Once the failure is detected, ALL fails at once, naming what it needs.
	if err := a.Do(ctx, "CONSISTENCY", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	want := "UNAVAILABLE need 3 replicas for ALL, 2 alive"
	waitFor(t, 30*time.Second, "ALL to fail with UNAVAILABLE", func() error {
		start := time.Now()
		err := a.Set(ctx, "all-key", "x", 0).Err()
		if err == nil || err.Error() != want {
			return fmt.Errorf("SET at ALL = %v", err)
		}
		if d := time.Since(start); d > time.Second {
			return fmt.Errorf("UNAVAILABLE took %s; it should not wait for replicas", d)
		}
		return nil
	})

	// Restart: the node rejoins and ALL works again; it holds what it had before.
	c.servers[2].start()
	c.waitAlive(3)
	waitFor(t, 30*time.Second, "ALL to work after the restart", func() error {
		return a.Set(ctx, "all-key", "x", 0).Err()
	})
	b := redisClient(t, c.servers[2].resp)
	if err := b.Do(ctx, "CONSISTENCY", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, "all-key").Result(); err != nil || got != "x" {
		t.Fatalf("restarted node: GET all-key = %q, %v", got, err)
	}
}

// TestDataSurvivesFullRestart: every node stopped and started again keeps its data.
func TestDataSurvivesFullRestart(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	a := redisClient(t, c.servers[1].resp)
	a.Do(ctx, "CONSISTENCY", "ALL")
	for i := 0; i < 200; i++ {
		if err := a.Set(ctx, fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// One node is killed, the others stopped cleanly.
	c.servers[0].kill9()
	c.servers[1].stop()
	c.servers[2].stop()
	for _, s := range c.servers {
		s.start()
	}
	c.waitAlive(3)
	for _, s := range c.servers {
		cl := redisClient(t, s.resp)
		cl.Do(ctx, "CONSISTENCY", "ONE")
		for i := 0; i < 200; i += 7 {
			got, err := cl.Get(ctx, fmt.Sprintf("key-%d", i)).Result()
			if err != nil || got != fmt.Sprintf("value-%d", i) {
				t.Fatalf("%s after restart: key-%d = %q, %v", s.id, i, got, err)
			}
		}
	}
}

// TestBadInput: oversized keys and values are refused with TOOLARGE and store nothing;
// malformed commands get ERR and the connection stays usable; HTTP rejects bad
// parameters with 400 and oversized bodies with 413.
func TestBadInput(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	a := redisClient(t, c.servers[0].resp)

	bigKey := strings.Repeat("k", 2049)
	err := a.Set(ctx, bigKey, "v", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "TOOLARGE") {
		t.Fatalf("SET with a 2049-byte key = %v, want TOOLARGE", err)
	}
	bigValue := bytes.Repeat([]byte("v"), 8<<20+1)
	err = a.Set(ctx, "big", bigValue, 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "TOOLARGE") {
		t.Fatalf("SET with an 8 MiB + 1 value = %v, want TOOLARGE", err)
	}
	if n, err := a.Exists(ctx, "big").Result(); err != nil || n != 0 {
		t.Fatalf("oversized value was stored: EXISTS = %d, %v", n, err)
	}
	for _, cmd := range [][]any{{"NOSUCHCOMMAND"}, {"GET"}, {"SET", "k"}, {"SET", "k", "v", "EX", "notanumber"}} {
		if err := a.Do(ctx, cmd...).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR") {
			t.Fatalf("%v = %v, want an ERR reply", cmd, err)
		}
	}
	if err := a.Ping(ctx).Err(); err != nil {
		t.Fatalf("connection unusable after errors: %v", err)
	}

	base := "http://" + c.servers[1].http + "/v1/kv/default/"
	if code, body := httpDo(t, "PUT", base+"x?w=SOMETIMES", `1`); code != 400 {
		t.Fatalf("unknown level: %d %s", code, body)
	}
	if code, body := httpDo(t, "GET", base+"x?r=ONE&r=ALL", ""); code != 400 {
		t.Fatalf("duplicated level: %d %s", code, body)
	}
	if code, body := httpDo(t, "PUT", base+"x", `{not json`); code != 400 {
		t.Fatalf("invalid JSON: %d %s", code, body)
	}
	if code, body := httpDo(t, "PUT", base+"huge", `"`+strings.Repeat("x", 8<<20)+`"`); code != 413 {
		t.Fatalf("oversized body: %d %s", code, body)
	}
	if code, _ := httpDo(t, "GET", base+"huge", ""); code != 404 {
		t.Fatalf("oversized value was stored: GET = %d", code)
	}
}

// TestExpiry: SET … EX expires the value on every replica.
func TestExpiry(t *testing.T) {
	c := newCluster(t, 3)
	ctx := context.Background()
	a := redisClient(t, c.servers[0].resp)
	if err := a.Set(ctx, "ttl", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Do(ctx, "SET", "ttl", "v", "PX", "300").Err(); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Get(ctx, "ttl").Result(); got != "v" {
		t.Fatalf("before expiry: %q", got)
	}
	waitFor(t, 10*time.Second, "the value to expire on every node", func() error {
		for _, s := range c.servers {
			cl := redisClient(t, s.resp)
			cl.Do(ctx, "CONSISTENCY", "ONE")
			if _, err := cl.Get(ctx, "ttl").Result(); err != redis.Nil {
				return fmt.Errorf("%s still returns it (%v)", s.id, err)
			}
		}
		return nil
	})
}

// TestKeyspaceSettingsReachEveryNode: a keyspace created through one node is seen by
// every node (gossip); a replication-factor change and unknown settings are refused.
func TestKeyspaceSettingsReachEveryNode(t *testing.T) {
	c := newCluster(t, 3)
	out, err := runChorus(t, "keyspace", "create", "carts", "--read-repair", "blocking", "--addr", c.servers[0].http)
	if err != nil || !strings.Contains(out, `"read_repair":"blocking"`) {
		t.Fatalf("keyspace create: %v\n%s", err, out)
	}
	for _, s := range c.servers {
		waitFor(t, 20*time.Second, "the keyspace to reach "+s.id, func() error {
			code, body := httpDo(t, "GET", "http://"+s.http+"/v1/keyspaces", "")
			if code != 200 || !strings.Contains(body, `{"name":"carts","resolution":"lww","replication_factor":3,"read_repair":"blocking"}`) {
				return fmt.Errorf("%d %s", code, body)
			}
			if !strings.Contains(body, `"name":"default"`) {
				return fmt.Errorf("default keyspace missing: %s", body)
			}
			return nil
		})
	}
	base := "http://" + c.servers[1].http + "/v1/keyspaces/carts"
	if code, body := httpDo(t, "PUT", base, `{"replication_factor": 2}`); code != 400 || !strings.Contains(body, "replication factor") {
		t.Fatalf("RF change: %d %s", code, body)
	}
	if code, body := httpDo(t, "PUT", base, `{"read_repair": "sometimes"}`); code != 400 {
		t.Fatalf("bad read_repair: %d %s", code, body)
	}
	if code, body := httpDo(t, "PUT", base, `{"colour": "red"}`); code != 400 {
		t.Fatalf("unknown field: %d %s", code, body)
	}
	// The keyspace works through RESP.
	ctx := context.Background()
	a := redisClient(t, c.servers[2].resp)
	if err := a.Do(ctx, "KEYSPACE", "carts").Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, "cart-1", "apples", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Get(ctx, "cart-1").Result(); err != nil || got != "apples" {
		t.Fatalf("GET in keyspace carts = %q, %v", got, err)
	}
	if code, _ := httpDo(t, "GET", "http://"+c.servers[0].http+"/v1/kv/default/cart-1", ""); code != 404 {
		t.Fatalf("keyspaces are not isolated: default/cart-1 = %d", code)
	}
}

// TestTransportGRPC runs a cluster whose nodes talk gRPC (--transport grpc) instead of
// the default framed TCP: writes at ALL through one node are read back at ALL through
// the others. An unknown --transport is refused by name. (Nodes of the two protocols
// refusing each other is TestTCPAndGRPCNodesRefuseEachOther in internal/transport.)
func TestTransportGRPC(t *testing.T) {
	c := newCluster(t, 3, "--transport", "grpc")
	ctx := context.Background()
	a := redisClient(t, c.servers[0].resp)
	if err := a.Do(ctx, "CONSISTENCY", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := a.Set(ctx, fmt.Sprintf("g%d", i), fmt.Sprint(i), 0).Err(); err != nil {
			t.Fatalf("SET at ALL over gRPC: %v", err)
		}
	}
	for _, s := range c.servers[1:] {
		b := redisClient(t, s.resp)
		if err := b.Do(ctx, "CONSISTENCY", "ALL").Err(); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if got, err := b.Get(ctx, fmt.Sprintf("g%d", i)).Result(); err != nil || got != fmt.Sprint(i) {
				t.Fatalf("GET g%d at ALL through %s = %q, %v", i, s.id, got, err)
			}
		}
	}
	out, err := runChorus(t, "server", "--transport", "carrier-pigeon")
	if err == nil || !strings.Contains(out, `unknown transport "carrier-pigeon"`) {
		t.Fatalf("server --transport carrier-pigeon: %v, %q; want a refusal naming it", err, out)
	}
}
