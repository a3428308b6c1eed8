package resp

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/api/apitest"
)

func startAuth(t *testing.T) (*apitest.Backend, string) {
	t.Helper()
	auth, err := api.NewAuth(map[string]string{"default": "s3cret-token", "alice": "alice-token"})
	if err != nil {
		t.Fatal(err)
	}
	be := apitest.NewBackend("n1")
	s := NewServer(Config{Backend: be, Auth: auth})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return be, l.Addr().String()
}

func TestAuthRequired(t *testing.T) {
	be, addr := startAuth(t)
	c := dial(t, addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"SET", "k", "v"}, "-NOAUTH Authentication required.\r\n"},
		{[]string{"GET", "k"}, "-NOAUTH Authentication required.\r\n"},
		{[]string{"KEYSPACE", "x"}, "-NOAUTH Authentication required.\r\n"},
		{[]string{"AUTH", "wrong-token"}, "-WRONGPASS invalid username-password pair or user is disabled\r\n"},
		{[]string{"AUTH", "alice", "s3cret-token"}, "-WRONGPASS invalid username-password pair or user is disabled\r\n"},
		{[]string{"AUTH", "alice", "alice-token"}, "+OK\r\n"},
		{[]string{"SET", "k", "v"}, "+OK\r\n"},
		{[]string{"GET", "k"}, "$1\r\nv\r\n"},
	} {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
	if n := len(be.Requests()); n != 2 {
		t.Errorf("%d requests reached the backend, want the 2 authenticated ones", n)
	}
	// HELLO 2 AUTH authenticates too.
	h := dial(t, addr)
	if got := h.do("HELLO", "2", "AUTH", "default", "s3cret-token"); !strings.HasPrefix(got, "*14") {
		t.Errorf("HELLO 2 AUTH = %q", got)
	}
	if got := h.do("GET", "k"); got != "$1\r\nv\r\n" {
		t.Errorf("GET after HELLO AUTH = %q", got)
	}
}

// TestAuthLimitsBeforeAuth: before AUTH a connection may not declare large arguments
// or many of them; memory follows what an anonymous client may send.
func TestAuthLimitsBeforeAuth(t *testing.T) {
	_, addr := startAuth(t)
	c := dial(t, addr)
	c.send("*2\r\n$4\r\nAUTH\r\n$100000000\r\n")
	if got := c.reply(); !strings.HasPrefix(got, "-") {
		t.Errorf("a 100 MB argument before AUTH = %q, want an error", got)
	}
	d := dial(t, addr)
	d.send("*1000\r\n")
	if got := d.reply(); !strings.Contains(got, "multibulk") {
		t.Errorf("1000 arguments declared before AUTH = %q, want a protocol error", got)
	}
}

func TestAuthWithoutPasswords(t *testing.T) {
	be := startDirect(t)
	c := dial(t, be.l.Addr().String())
	if got := c.do("AUTH", "x"); !strings.HasPrefix(got, "-ERR AUTH <password> called without any password configured") {
		t.Errorf("AUTH on a server without passwords = %q", got)
	}
	if got := c.do("SET", "k", "v"); got != "+OK\r\n" {
		t.Errorf("SET without auth configured = %q", got)
	}
}

// TestConnectionLimits: past MaxClients a connection is refused with an error; an
// idle connection is closed after IdleTimeout.
func TestConnectionLimits(t *testing.T) {
	be := apitest.NewBackend("n1")
	s := NewServer(Config{Backend: be, MaxClients: 2, IdleTimeout: 300 * time.Millisecond})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	a, b := dial(t, l.Addr().String()), dial(t, l.Addr().String())
	if a.do("PING") != "+PONG\r\n" || b.do("PING") != "+PONG\r\n" {
		t.Fatal("the first two connections are not served")
	}
	c := dial(t, l.Addr().String())
	if got := c.reply(); got != "-ERR max number of clients reached\r\n" {
		t.Fatalf("third connection = %q", got)
	}
	c.expectClosed()
	// a and b say nothing: both are closed after the idle timeout, and a new client
	// gets in.
	a.expectClosed()
	b.expectClosed()
	if got := dial(t, l.Addr().String()).do("PING"); got != "+PONG\r\n" {
		t.Fatalf("after the idle ones were closed: %q", got)
	}
}
