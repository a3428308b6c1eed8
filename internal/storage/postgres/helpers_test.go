package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// dsnEnv names the environment variable that gives the tests their database.
const dsnEnv = "CHORUS_TEST_POSTGRES_DSN"

// testDSN returns the test database's DSN. Without one the test is skipped — unless
// CI is set, where PostgreSQL tests must run and a missing DSN fails.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: PostgreSQL tests must run in CI (source scripts/ci-postgres.sh first)", dsnEnv)
		}
		t.Skipf("%s is not set: skipping PostgreSQL tests (run scripts/ci-postgres.sh as root and export the DSN it prints)", dsnEnv)
	}
	return dsn
}

// uniqueNode returns a node id no other test (or earlier run) uses, so that tests
// sharing the database do not see each other's rows.
func uniqueNode(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := t.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if len(name) > 24 {
		name = name[:24]
	}
	return "test-" + name + "-" + hex.EncodeToString(b[:])
}

// openTest opens an engine on the test database for opts.NodeID (a fresh node id if
// empty), closes it when the test ends, and then deletes the node's rows.
func openTest(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.DSN == "" {
		opts.DSN = testDSN(t)
	}
	if opts.NodeID == "" {
		opts.NodeID = uniqueNode(t)
		t.Cleanup(func() { deleteNode(t, opts.DSN, opts.NodeID) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// deleteNode deletes every row of node from the database.
func deleteNode(t testing.TB, dsn, node string) {
	t.Helper()
	withConn(t, dsn, func(ctx context.Context, conn *pgx.Conn) {
		n := escape(node, false)
		for _, q := range []string{
			`DELETE FROM ReplicaState WHERE node_id = $1`,
			`DELETE FROM HintedHandoff WHERE holder_node = $1`,
			`DELETE FROM ReadRepairLog WHERE node_id = $1`,
			`DELETE FROM chorus_meta WHERE node_id = $1`,
		} {
			if _, err := conn.Exec(ctx, q, n); err != nil {
				t.Errorf("cleanup of node %s: %v", node, err)
			}
		}
	})
}

// withConn runs fn on a fresh connection to dsn.
func withConn(t testing.TB, dsn string, fn func(ctx context.Context, conn *pgx.Conn)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	fn(ctx, conn)
}
