package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// createKeyspace creates a keyspace through the CLI and waits until every server
// lists it with the given resolution.
func (c *cluster) createKeyspace(name string, args ...string) {
	c.t.Helper()
	out, err := runChorus(c.t, append([]string{"keyspace", "create", name, "--addr", c.servers[0].http}, args...)...)
	if err != nil {
		c.t.Fatalf("keyspace create %s: %v\n%s", name, err, out)
	}
	var want struct {
		Resolution string `json:"resolution"`
	}
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		c.t.Fatalf("keyspace create printed %q", out)
	}
	for _, s := range c.servers {
		waitFor(c.t, 20*time.Second, "keyspace "+name+" to reach "+s.id, func() error {
			_, body := httpDo(c.t, "GET", "http://"+s.http+"/v1/keyspaces", "")
			if !strings.Contains(body, fmt.Sprintf(`"name":%q,"resolution":%q`, name, want.Resolution)) {
				return fmt.Errorf("%s", body)
			}
			return nil
		})
	}
}

// httpDoH is httpDo with request headers, returning the response headers too.
func httpDoH(t *testing.T, method, url, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, b.String()
}

// TestConcurrentWritesBecomeSiblings: three clients read the same version, then write
// concurrently with that context through three coordinators. A read returns exactly
// their three values as siblings (the version they all saw is gone), and a write with
// the read's context collapses them. RESP shows the same through GETSIBLINGS/SETCTX.
func TestConcurrentWritesBecomeSiblings(t *testing.T) {
	c := newCluster(t, 3)
	c.createKeyspace("docs", "--resolution", "siblings")
	url := func(i int) string { return "http://" + c.servers[i].http + "/v1/kv/docs/page" }
	if code, _, body := httpDoH(t, "PUT", url(0)+"?w=ALL", `"v0"`, nil); code != 200 {
		t.Fatalf("PUT v0: %d %s", code, body)
	}
	code, hdr, body := httpDoH(t, "GET", url(0)+"?r=ALL", "", nil)
	ctx := hdr.Get("X-Chorus-Context")
	if code != 200 || body != `"v0"` || ctx == "" {
		t.Fatalf("GET v0: %d %q ctx=%q", code, body, ctx)
	}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := fmt.Sprintf(`"from-%d"`, i)
			if code, _, body := httpDoH(t, "PUT", url(i)+"?w=QUORUM", v, map[string]string{"X-Chorus-Context": ctx}); code != 200 {
				t.Errorf("PUT %s: %d %s", v, code, body)
			}
		}()
	}
	wg.Wait()
	code, hdr, body = httpDoH(t, "GET", url(1)+"?r=ALL", "", nil)
	var sib struct {
		Siblings []string `json:"siblings"`
		Context  string   `json:"context"`
	}
	if code != 300 || json.Unmarshal([]byte(body), &sib) != nil {
		t.Fatalf("GET after concurrent writes: %d %s", code, body)
	}
	sort.Strings(sib.Siblings)
	if strings.Join(sib.Siblings, ",") != "from-0,from-1,from-2" || sib.Context != hdr.Get("X-Chorus-Context") {
		t.Fatalf("siblings = %v (context %q, header %q), want exactly the three concurrent writes", sib.Siblings, sib.Context, hdr.Get("X-Chorus-Context"))
	}
	// RESP: GET refuses to pick one; GETSIBLINGS shows them with the same context.
	r := redisClient(t, c.servers[2].resp)
	bg := context.Background()
	if err := r.Do(bg, "KEYSPACE", "docs").Err(); err != nil {
		t.Fatal(err)
	}
	r.Do(bg, "CONSISTENCY", "ALL")
	if err := r.Get(bg, "page").Err(); err == nil || !strings.Contains(err.Error(), "GETSIBLINGS") {
		t.Fatalf("RESP GET on siblings = %v, want a conflict error naming GETSIBLINGS", err)
	}
	got, err := r.Do(bg, "GETSIBLINGS", "page").StringSlice()
	if err != nil || len(got) != 4 {
		t.Fatalf("GETSIBLINGS = %q, %v", got, err)
	}
	// Collapse with the context through HTTP.
	if code, _, body := httpDoH(t, "PUT", url(2)+"?w=ALL", `"merged"`, map[string]string{"X-Chorus-Context": sib.Context}); code != 200 {
		t.Fatalf("PUT with context: %d %s", code, body)
	}
	for i := range 3 {
		if code, _, body := httpDoH(t, "GET", url(i)+"?r=ALL", "", nil); code != 200 || body != `"merged"` {
			t.Fatalf("GET through n%d after the context write: %d %s", i, code, body)
		}
	}
	// RESP round trip: a write without context makes a sibling, SETCTX collapses.
	if err := r.Set(bg, "page", "resp-write", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, _ = r.Do(bg, "GETSIBLINGS", "page").StringSlice()
	if len(got) != 3 {
		t.Fatalf("GETSIBLINGS after a write without context = %q, want context + 2 values", got)
	}
	if err := r.Do(bg, "SETCTX", "page", got[0], "final").Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Get(bg, "page").Result(); err != nil || v != "final" {
		t.Fatalf("GET after SETCTX = %q, %v", v, err)
	}
	if out := redisCLI(t, c.servers[0].resp, "-c", "KEYSPACE", "docs"); out != "OK" {
		t.Logf("redis-cli KEYSPACE: %s", out)
	}
}

// TestConcurrentIncrAddsUp: INCR through every node at ONE, concurrently, adds up
// exactly once everything has arrived.
func TestConcurrentIncrAddsUp(t *testing.T) {
	c := newCluster(t, 3)
	const perClient, clients = 200, 6
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := redisClient(t, c.servers[i%3].resp)
			r.Do(context.Background(), "CONSISTENCY", "ONE")
			for range perClient {
				if err := r.Incr(context.Background(), "hits").Err(); err != nil {
					t.Errorf("INCR: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := fmt.Sprint(perClient * clients)
	for _, s := range c.servers {
		waitFor(t, 20*time.Second, "the counter to add up on "+s.id, func() error {
			code, body := httpDo(t, "GET", "http://"+s.http+"/v1/crdt/default/hits?r=ALL", "")
			if code != 200 || body != `{"type":"pncounter","value":`+want+"}\n" && body != `{"type":"pncounter","value":`+want+"}" {
				return fmt.Errorf("%d %s", code, body)
			}
			return nil
		})
	}
	r := redisClient(t, c.servers[1].resp)
	if n, err := r.DecrBy(context.Background(), "hits", 200).Result(); err != nil || n != perClient*clients-200 {
		t.Fatalf("DECRBY = %d, %v", n, err)
	}
	if err := r.Get(context.Background(), "hits").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("GET on a counter = %v, want WRONGTYPE", err)
	}
	if out := redisCLI(t, c.servers[2].resp, "INCRBY", "hits", "5"); out != fmt.Sprint(perClient*clients-195) {
		t.Fatalf("redis-cli INCRBY = %q", out)
	}
}

// TestORSetCommands: SADD/SREM/SMEMBERS/SISMEMBER/SCARD across nodes, add-wins, and
// WRONGTYPE both ways.
func TestORSetCommands(t *testing.T) {
	c := newCluster(t, 3)
	bg := context.Background()
	a, b := redisClient(t, c.servers[0].resp), redisClient(t, c.servers[1].resp)
	for _, r := range []*redis.Client{a, b} {
		r.Do(bg, "CONSISTENCY", "ALL")
	}
	if n, err := a.SAdd(bg, "tags", "red", "green", "red").Result(); err != nil || n != 2 {
		t.Fatalf("SADD = %d, %v", n, err)
	}
	if n, err := b.SRem(bg, "tags", "green", "blue").Result(); err != nil || n != 1 {
		t.Fatalf("SREM = %d, %v", n, err)
	}
	if m, err := b.SMembers(bg, "tags").Result(); err != nil || strings.Join(m, ",") != "red" {
		t.Fatalf("SMEMBERS = %v, %v", m, err)
	}
	if ok, _ := a.SIsMember(bg, "tags", "green").Result(); ok {
		t.Fatal("SISMEMBER of a removed element = 1")
	}
	if out := redisCLI(t, c.servers[2].resp, "SCARD", "tags"); out != "1" {
		t.Fatalf("redis-cli SCARD = %q", out)
	}
	if err := a.Set(bg, "plain", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.SAdd(bg, "plain", "y").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("SADD on a string = %v, want WRONGTYPE", err)
	}
	if err := a.Set(bg, "tags", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("SET on a set = %v, want WRONGTYPE", err)
	}
	if typ, _ := a.Type(bg, "tags").Result(); typ != "set" {
		t.Fatalf("TYPE tags = %q", typ)
	}
	// DEL on a set removes what was observed; the key reads empty.
	if n, err := a.Del(bg, "tags").Result(); err != nil || n != 1 {
		t.Fatalf("DEL set = %d, %v", n, err)
	}
	if n, err := b.SCard(bg, "tags").Result(); err != nil || n != 0 {
		t.Fatalf("SCARD after DEL = %d, %v", n, err)
	}
}

// TestMergeUnionCart: a merge:union keyspace returns one cart holding every item
// added concurrently through three coordinators; a removed item reappearing under
// union is the documented anomaly the CRDT map avoids.
func TestMergeUnionCart(t *testing.T) {
	c := newCluster(t, 3)
	c.createKeyspace("carts", "--resolution", "merge:union")
	var wg sync.WaitGroup
	for i, item := range []string{"apple", "pear", "fig"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := httpDo(t, "PUT", "http://"+c.servers[i].http+"/v1/kv/carts/alice?w=ONE", `{"items":["`+item+`"]}`)
			if code != 200 {
				t.Errorf("PUT %s: %d %s", item, code, body)
			}
		}()
	}
	wg.Wait()
	waitFor(t, 20*time.Second, "the union cart", func() error {
		code, body := httpDo(t, "GET", "http://"+c.servers[0].http+"/v1/kv/carts/alice?r=ALL", "")
		if code != 200 || body != `{"items":["apple","fig","pear"]}` {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	// The CRDT cart: a map of counters through /v1/crdt.
	base := "http://" + c.servers[1].http + "/v1/crdt/carts/bob"
	for _, op := range []string{
		`{"type":"map","op":"increment","field":"apple","field_type":"pncounter","delta":2}`,
		`{"type":"map","op":"increment","field":"pear","field_type":"pncounter"}`,
		`{"type":"map","op":"remove_field","field":"apple"}`,
	} {
		if code, body := httpDo(t, "POST", base+"?w=ALL", op); code != 200 {
			t.Fatalf("POST %s: %d %s", op, code, body)
		}
	}
	if code, body := httpDo(t, "GET", "http://"+c.servers[2].http+"/v1/crdt/carts/bob?r=ALL", ""); code != 200 || !strings.Contains(body, `"value":{"pear":1}`) {
		t.Fatalf("GET map cart = %d %s", code, body)
	}
	if code, body := httpDo(t, "POST", base, `{"type":"map","op":"increment","field":"x","field_type":"gset"}`); code != 400 {
		t.Fatalf("bad field type: %d %s", code, body)
	}
	if code, body := httpDo(t, "POST", base, `{"type":"orset","op":"add","elements":["a"]}`); code != 409 || !strings.Contains(body, "wrong_type") {
		t.Fatalf("set op on a map: %d %s", code, body)
	}
	// DELETE of a CRDT key clears it (through a node whatever its place in the ring);
	// a grow-only type cannot be deleted.
	if code, body := httpDo(t, "DELETE", "http://"+c.servers[0].http+"/v1/kv/carts/bob?w=ALL", ""); code != 200 || !strings.Contains(body, `"existed":true`) {
		t.Fatalf("DELETE map cart = %d %s", code, body)
	}
	if code, body := httpDo(t, "GET", "http://"+c.servers[2].http+"/v1/crdt/carts/bob?r=ALL", ""); code != 200 || !strings.Contains(body, `"value":{}`) {
		t.Fatalf("GET map cart after DELETE = %d %s", code, body)
	}
	grow := "http://" + c.servers[1].http + "/v1/crdt/carts/visits"
	if code, body := httpDo(t, "POST", grow+"?w=ALL", `{"type":"gcounter","op":"increment","delta":3}`); code != 200 {
		t.Fatalf("POST gcounter: %d %s", code, body)
	}
	if code, body := httpDo(t, "DELETE", "http://"+c.servers[2].http+"/v1/kv/carts/visits", ""); code != 409 || !strings.Contains(body, "only grows") {
		t.Fatalf("DELETE gcounter = %d %s, want 409 (it only grows)", code, body)
	}
}

// TestHLCSurvivesClockSkew: node n2's clock is 10 s behind. A write through n2 that
// follows (in real time, after its acknowledgement) a write through n0 wins under the
// HLC; with the naive wall clock (a hidden test flag) it is lost. The skew is
// reported by the others.
func TestHLCSurvivesClockSkew(t *testing.T) {
	for _, naive := range []bool{false, true} {
		t.Run(fmt.Sprintf("naive=%v", naive), func(t *testing.T) {
			c := newClusterEach(t, 3, func(i int) []string {
				var a []string
				if i == 2 {
					a = append(a, "--test-clock-offset", "-10s")
				}
				if naive {
					a = append(a, "--test-naive-clock")
				}
				return a
			})
			bg := context.Background()
			first, second := redisClient(t, c.servers[0].resp), redisClient(t, c.servers[2].resp)
			for _, r := range []*redis.Client{first, second} {
				r.Do(bg, "CONSISTENCY", "ALL")
			}
			if err := first.Set(bg, "k", "first", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := second.Set(bg, "k", "second", 0).Err(); err != nil {
				t.Fatal(err)
			}
			got, err := first.Get(bg, "k").Result()
			switch {
			case err != nil:
				t.Fatal(err)
			case !naive && got != "second":
				t.Fatalf("with the HLC the causally later write was lost: read %q", got)
			case naive && got != "first":
				t.Fatalf("the naive clock did not lose the later write (read %q): the test shows nothing", got)
			}
			if naive {
				return
			}
			waitFor(t, 20*time.Second, "n2 reported as skewed", func() error {
				out, err := runChorus(t, "cluster", "status", "--addr", c.servers[0].http)
				if err != nil || !strings.Contains(out, "SKEWED") {
					return fmt.Errorf("%v\n%s", err, out)
				}
				if v := c.servers[0].metric(t, "chorus_clock_skewed_messages_total"); v == 0 {
					return fmt.Errorf("chorus_clock_skewed_messages_total = 0")
				}
				return nil
			})
		})
	}
}

// TestNoDotReuseAfterKill9: a node killed with -9 and restarted never issues a dot it
// issued before: its new write is a new sibling next to the old one.
func TestNoDotReuseAfterKill9(t *testing.T) {
	c := newCluster(t, 3)
	c.createKeyspace("docs", "--resolution", "siblings")
	n0 := c.servers[0]
	dots := map[string]bool{}
	for round := range 3 {
		code, body := httpDo(t, "PUT", "http://"+n0.http+"/v1/kv/docs/d?w=ONE", fmt.Sprintf(`"w%d"`, round))
		if code != 200 {
			t.Fatalf("PUT: %d %s", code, body)
		}
		code, body = httpDo(t, "GET", "http://"+n0.http+"/v1/inspect/docs/d", "")
		var in struct {
			Replicas []struct {
				Node     string `json:"node"`
				Siblings []struct {
					Dot string `json:"dot"`
				} `json:"siblings"`
			} `json:"replicas"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &in) != nil {
			t.Fatalf("inspect: %d %s", code, body)
		}
		var mine []string
		for _, r := range in.Replicas {
			if r.Node == n0.id {
				for _, s := range r.Siblings {
					mine = append(mine, s.Dot)
				}
			}
		}
		if len(mine) != round+1 {
			t.Fatalf("round %d: %s holds %d siblings %v, want %d (every write without context is concurrent)", round, n0.id, len(mine), mine, round+1)
		}
		for _, d := range mine {
			dots[d] = true
		}
		if len(dots) != round+1 {
			t.Fatalf("round %d: dots %v: a dot was reused", round, mine)
		}
		n0.kill9()
		n0.start()
		c.waitAlive(3)
	}
}
