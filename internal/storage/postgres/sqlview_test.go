package postgres

import (
	"context"
	_ "embed"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
	"github.com/chorusdb/chorus/internal/version"
)

//go:embed EXAMPLES.sql
var examplesSQL string

// TestRowsForSQL checks what a person querying the tables sees for each kind of
// record.
func TestRowsForSQL(t *testing.T) {
	dsn := testDSN(t)
	node := "sql-" + uniqueNode(t)
	e := openTest(t, Options{DSN: dsn, NodeID: node})
	t.Cleanup(func() { deleteNode(t, dsn, node) })
	ts := version.MakeTimestamp(1_700_000_000_123, 7)
	siblings := object.Object{
		Kind: object.KindRegister,
		Siblings: []object.Sibling{
			{Value: []byte(`{"item":"a"}`), Dot: version.Dot{Actor: "n1", Counter: 3}, Timestamp: ts},
			{Value: []byte("b"), Dot: version.Dot{Actor: "n2", Counter: 5}, Timestamp: ts + 1, ExpiresAt: 1_700_000_060_000},
		},
		Context: version.Vector{{Actor: "n1", Counter: 4}, {Actor: "n2", Counter: 5}},
	}
	tomb := object.Object{
		Kind:     object.KindRegister,
		Siblings: []object.Sibling{{Dot: version.Dot{Actor: "n1", Counter: 9}, Timestamp: ts, Tombstone: true}},
		Context:  version.Vector{{Actor: "n1", Counter: 9}},
	}
	err := e.Commit(&record.Batch{
		Objects: []record.ObjectWrite{
			{Key: object.Key{Keyspace: "users", Key: "alice"}, Object: reg(`{"age": 30}`)},
			{Key: object.Key{Keyspace: "carts", Key: "bob/1"}, Object: siblings},
			{Key: object.Key{Keyspace: "a/b", Key: "\x00\xff%"}, Object: tomb},
		},
		Meta:    []record.MetaWrite{{Name: "hlc", Value: []byte{1, 2}}},
		Hints:   []record.Hint{{ID: 7, Target: "n3", Key: object.Key{Keyspace: "users", Key: "carol"}, Object: reg(`"x"`), CreatedAt: 1_700_000_000_000, ExpiresAt: 1_700_010_800_000}},
		Repairs: []record.Repair{{Key: object.Key{Keyspace: "users", Key: "alice"}, StaleNode: "n2", RepairedAt: 1_700_000_000_500}},
	})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		type row struct {
			Key, Keyspace, Kind, Value, Clock string
			RawKey                            []byte
			Tombstone                         bool
			Expires                           *time.Time
		}
		get := func(key string) row {
			t.Helper()
			var r row
			err := conn.QueryRow(ctx, `SELECT key, keyspace, kind, value::text, vector_clock::text, raw_key, tombstone, expires_at
				FROM ReplicaState WHERE node_id = $1 AND key = $2`, node, key).
				Scan(&r.Key, &r.Keyspace, &r.Kind, &r.Value, &r.Clock, &r.RawKey, &r.Tombstone, &r.Expires)
			if err != nil {
				t.Fatalf("row %q: %v", key, err)
			}
			return r
		}
		alice := get("users/alice")
		if alice.Value != `{"age": 30}` || alice.Clock != `{"n1": 3}` || alice.Keyspace != "users" || string(alice.RawKey) != "alice" || alice.Kind != "register" {
			t.Errorf("users/alice row = %+v", alice)
		}
		cart := get("carts/bob/1")
		var env struct {
			Chorus   int
			Kind     string
			Siblings []map[string]any
		}
		if err := json.Unmarshal([]byte(cart.Value), &env); err != nil || env.Chorus != 1 || len(env.Siblings) != 2 {
			t.Errorf("carts/bob/1 value = %s (%v), want an envelope with 2 siblings", cart.Value, err)
		} else if v, _ := json.Marshal(env.Siblings[0]["value"]); string(v) != `{"item":"a"}` || env.Siblings[1]["text"] != "b" {
			t.Errorf("carts/bob/1 siblings = %v", env.Siblings)
		}
		if cart.Expires != nil {
			t.Errorf("carts/bob/1 expires_at = %v, want NULL (one sibling never expires)", cart.Expires)
		}
		odd := get("a%2Fb/%00%FF%25")
		if !odd.Tombstone || odd.Keyspace != "a%2Fb" || string(odd.RawKey) != "\x00\xff%" {
			t.Errorf("escaped row = %+v", odd)
		}

		var target, hkey, holder, value string
		var hid int64
		var delivered *time.Time
		err := conn.QueryRow(ctx, `SELECT target_node, key, holder_node, holder_hint_id, value::text, delivered_at
			FROM HintedHandoff WHERE holder_node = $1`, node).Scan(&target, &hkey, &holder, &hid, &value, &delivered)
		if err != nil || target != "n3" || hkey != "users/carol" || hid != 7 || value != `"x"` || delivered != nil {
			t.Errorf("hint row = %q %q %q %d %s %v, %v", target, hkey, holder, hid, value, delivered, err)
		}
		var rkey, stale string
		var at time.Time
		err = conn.QueryRow(ctx, `SELECT key, stale_node_id, repaired_at FROM ReadRepairLog WHERE node_id = $1`, node).Scan(&rkey, &stale, &at)
		if err != nil || rkey != "users/alice" || stale != "n2" || at.UnixMilli() != 1_700_000_000_500 {
			t.Errorf("repair row = %q %q %v, %v", rkey, stale, at, err)
		}
	})

	// Delivering the hint marks the row; the janitor purges it later.
	if err := e.Commit(&record.Batch{HintDeletes: []uint64{7}}); err != nil {
		t.Fatal(err)
	}
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		var delivered *time.Time
		if err := conn.QueryRow(ctx, `SELECT delivered_at FROM HintedHandoff WHERE holder_node = $1`, node).Scan(&delivered); err != nil || delivered == nil {
			t.Errorf("delivered hint: delivered_at = %v, %v", delivered, err)
		}
	})
	var hs []record.Hint
	_ = e.ScanHints("", func(h record.Hint) bool { hs = append(hs, h); return true })
	if len(hs) != 0 {
		t.Errorf("ScanHints returns delivered hints: %+v", hs)
	}
}

// TestJanitor checks that delivered hints are purged and the repair log trimmed in
// the background.
func TestJanitor(t *testing.T) {
	dsn := testDSN(t)
	node := uniqueNode(t)
	t.Cleanup(func() { deleteNode(t, dsn, node) })
	e := openTest(t, Options{DSN: dsn, NodeID: node, MaxRepairs: 10, PurgeInterval: 100 * time.Millisecond})
	var b record.Batch
	for i := range 5 {
		b.Hints = append(b.Hints, record.Hint{ID: uint64(i + 1), Target: "n2", Key: object.Key{Keyspace: "ks", Key: "k"}, Object: reg("v"), ExpiresAt: 1})
	}
	for i := range 25 {
		b.Repairs = append(b.Repairs, record.Repair{Key: object.Key{Keyspace: "ks", Key: "k"}, StaleNode: "n2", RepairedAt: int64(i)})
	}
	if err := e.Commit(&b); err != nil {
		t.Fatal(err)
	}
	for i := range 25 { // one at a time, so the window is crossed many times
		if err := e.Commit(&record.Batch{Repairs: []record.Repair{{StaleNode: "n3", RepairedAt: int64(100 + i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Commit(&record.Batch{HintDeletes: []uint64{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		var n int
		withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
			if err := conn.QueryRow(ctx, q, node).Scan(&n); err != nil {
				t.Fatal(err)
			}
		})
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		hints := count(`SELECT count(*) FROM HintedHandoff WHERE holder_node = $1`)
		repairs := count(`SELECT count(*) FROM ReadRepairLog WHERE node_id = $1`)
		if hints == 2 && repairs == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the janitor ran: %d hint rows (want the 2 undelivered), %d repair rows (want 10)", hints, repairs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rs, err := e.RecentRepairs(100)
	if err != nil || len(rs) != 10 || rs[0].RepairedAt != 124 || rs[9].RepairedAt != 115 {
		t.Fatalf("RecentRepairs = %+v, %v; want entries 124 down to 115", rs, err)
	}
}

// TestExamples runs every query of EXAMPLES.sql against the schema.
func TestExamples(t *testing.T) {
	dsn := testDSN(t)
	openTest(t, Options{DSN: dsn}) // make sure the schema exists
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		n := 0
		for _, stmt := range strings.Split(stripComments(examplesSQL), ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			n++
			rows, err := conn.Query(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
			if err == nil {
				rows.Close()
				err = rows.Err()
			}
			if err != nil {
				t.Errorf("example %d failed: %v\n%s", n, err, stmt)
			}
		}
		if n < 5 {
			t.Fatalf("found only %d examples", n)
		}
	})
}

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
