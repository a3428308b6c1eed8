package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chorusdb/chorus/internal/object"
	"github.com/chorusdb/chorus/internal/record"
)

// freshSchema creates an empty schema, dropped when the test ends, and returns a DSN
// whose search_path puts Chorus's tables in it: a database of its own, as far as the
// engine can tell.
func freshSchema(t *testing.T) string {
	t.Helper()
	dsn := testDSN(t)
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "chorus_test_" + hex.EncodeToString(b[:])
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("create schema: %v", err)
		}
	})
	t.Cleanup(func() {
		withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
			if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
	})
	return withParam(t, dsn, "search_path", schema)
}

// withParam adds a connection parameter to a URL or key=value DSN.
func withParam(t *testing.T, dsn, name, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse DSN: %v", err)
		}
		q := u.Query()
		q.Set(name, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + name + "=" + value
}

// TestSeedSchema checks that the seed tables are exactly as specified: every seed
// column with its type, nullability and default, the primary key, the hint index.
func TestSeedSchema(t *testing.T) {
	dsn := freshSchema(t)
	openTest(t, Options{DSN: dsn})
	type col struct{ table, name, typ, nullable, def string }
	want := []col{
		{"replicastate", "node_id", "text", "NO", ""},
		{"replicastate", "key", "text", "NO", ""},
		{"replicastate", "value", "jsonb", "NO", ""},
		{"replicastate", "vector_clock", "jsonb", "NO", "'{}'::jsonb"},
		{"replicastate", "updated_at", "timestamp with time zone", "NO", "now()"},
		{"hintedhandoff", "hint_id", "bigint", "NO", "nextval('hintedhandoff_hint_id_seq'::regclass)"},
		{"hintedhandoff", "target_node", "text", "NO", ""},
		{"hintedhandoff", "key", "text", "NO", ""},
		{"hintedhandoff", "value", "jsonb", "NO", ""},
		{"hintedhandoff", "created_at", "timestamp with time zone", "NO", "now()"},
		{"hintedhandoff", "delivered_at", "timestamp with time zone", "YES", ""},
		{"hintedhandoff", "expires_at", "timestamp with time zone", "NO", ""},
		{"readrepairlog", "id", "bigint", "NO", "nextval('readrepairlog_id_seq'::regclass)"},
		{"readrepairlog", "key", "text", "NO", ""},
		{"readrepairlog", "stale_node_id", "text", "NO", ""},
		{"readrepairlog", "repaired_at", "timestamp with time zone", "NO", "now()"},
	}
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		for _, c := range want {
			var got col
			err := conn.QueryRow(ctx, `SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
				FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`, c.table, c.name).
				Scan(&got.table, &got.name, &got.typ, &got.nullable, &got.def)
			if err != nil {
				t.Errorf("column %s.%s: %v", c.table, c.name, err)
				continue
			}
			if got != c {
				t.Errorf("column %s.%s = %+v, want %+v", c.table, c.name, got, c)
			}
		}
		indexes := map[string]string{
			"replicastate_pkey":  "(node_id, key)",
			"hintedhandoff_pkey": "(hint_id)",
			"readrepairlog_pkey": "(id)",
			"idx_hints_target":   "(target_node, delivered_at NULLS FIRST)",
		}
		for name, cols := range indexes {
			var def string
			err := conn.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1`, name).Scan(&def)
			if err != nil || !strings.HasSuffix(def, cols) {
				t.Errorf("index %s = %q, %v; want one on %s", name, def, err, cols)
			}
		}
		var versions []int
		rows, _ := conn.Query(ctx, "SELECT version FROM "+versionTable+" ORDER BY version")
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil || fmt.Sprint(versions) != "[1 2 3 4 5]" {
			t.Errorf("schema versions = %v, %v; want [1 2 3 4 5]", versions, err)
		}
	})
}

// TestMigrateConcurrently starts several nodes at once on an empty database: one
// migrates, the others wait on the advisory lock and find nothing to do.
func TestMigrateConcurrently(t *testing.T) {
	dsn := freshSchema(t)
	const nodes = 6
	var wg sync.WaitGroup
	engines := make([]*Engine, nodes)
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			engines[i], errs[i] = Open(ctx, Options{DSN: dsn, NodeID: fmt.Sprintf("n%d", i)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: Open: %v", i, err)
		}
		defer engines[i].Close()
	}
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		var n, distinct int
		if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT version) FROM "+versionTable).Scan(&n, &distinct); err != nil {
			t.Fatal(err)
		}
		if n != 5 || distinct != 5 {
			t.Fatalf("version table holds %d rows (%d distinct), want each of the 5 migrations once", n, distinct)
		}
	})
	// All of them work.
	for i, e := range engines {
		k := object.Key{Keyspace: "ks", Key: "k"}
		if err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: k, Object: reg(fmt.Sprint(i))}}}); err != nil {
			t.Fatalf("node %d: Commit: %v", i, err)
		}
	}
	for i, e := range engines {
		got, found, err := e.Get(object.Key{Keyspace: "ks", Key: "k"})
		if err != nil || !found || !object.Equal(got, reg(fmt.Sprint(i))) {
			t.Fatalf("node %d reads %v, %v, %v; want its own write", i, got, found, err)
		}
	}
}

// TestMigrateAdoptsSeedTables opens an engine on a database where a user created the
// seed tables from the specification beforehand.
func TestMigrateAdoptsSeedTables(t *testing.T) {
	dsn := freshSchema(t)
	seed, err := migrationFiles.ReadFile("migrations/0001_seed.sql")
	if err != nil {
		t.Fatal(err)
	}
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, strings.ReplaceAll(string(seed), " IF NOT EXISTS", "")); err != nil {
			t.Fatalf("create seed tables: %v", err)
		}
	})
	e := openTest(t, Options{DSN: dsn})
	k := object.Key{Keyspace: "ks", Key: "k"}
	if err := e.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: k, Object: reg(`"v"`)}}}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// TestMigrateRefusesNewerSchema: a database migrated by a newer Chorus is not touched.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	dsn := freshSchema(t)
	openTest(t, Options{DSN: dsn}).Close()
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, "INSERT INTO "+versionTable+" (version, name) VALUES (99, 'future')"); err != nil {
			t.Fatal(err)
		}
	})
	_, err := Open(context.Background(), Options{DSN: dsn, NodeID: "n1"})
	if err == nil || !strings.Contains(err.Error(), "newer") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Open on a newer schema: %v; want a one-line error saying it is newer", err)
	}
}

// TestDatabasePerNode runs two nodes with the same node id on separate databases
// (schemas): they do not see each other.
func TestDatabasePerNode(t *testing.T) {
	a := openTest(t, Options{DSN: freshSchema(t), NodeID: "n1"})
	b := openTest(t, Options{DSN: freshSchema(t), NodeID: "n1"})
	k := object.Key{Keyspace: "ks", Key: "k"}
	if err := a.Commit(&record.Batch{Objects: []record.ObjectWrite{{Key: k, Object: reg("a")}}}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := b.Get(k); err != nil || found {
		t.Fatalf("node on another database sees the key: found=%v err=%v", found, err)
	}
}
