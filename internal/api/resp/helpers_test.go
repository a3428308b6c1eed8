package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/api/apitest"
	"github.com/chorusdb/chorus/internal/core"
)

// start serves a Server on 127.0.0.1:0 backed by a fresh fake Backend; mod may adjust
// the configuration. The server is shut down when the test ends, and Serve must then
// return ErrServerClosed.
func start(t testing.TB, mod func(*Config)) (*Server, string, *apitest.Backend) {
	t.Helper()
	be := apitest.NewBackend("n1")
	cfg := Config{Backend: be}
	if mod != nil {
		mod(&cfg)
	}
	if starting {
		cfg.Backend = startingBackend{cfg.Backend}
	}
	s := NewServer(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, l.Addr().String(), be
}

// starting makes start and startDirect give the server a Backend that can start
// requests (a startingBackend), as node.Node can. TestStarterBackend sets it.
var starting bool

// startingBackend adds Start to a Backend, so that tests cover the server's path for
// Backends that can start requests without waiting.
type startingBackend struct{ api.Backend }

// Start runs Do on a goroutine; a panic there is raised again by the wait function.
func (b startingBackend) Start(ctx context.Context, req core.Request) func() core.Reply {
	done := make(chan core.Reply, 1)
	var panicked any
	go func() {
		defer func() {
			if panicked = recover(); panicked != nil {
				close(done)
			}
		}()
		done <- b.Do(ctx, req)
	}()
	return func() core.Reply {
		rep, ok := <-done
		if !ok {
			panic(panicked)
		}
		return rep
	}
}

// rawConn speaks RESP by hand, to check replies byte for byte.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes raw bytes.
func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.nc, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// do sends a command as a RESP array and returns its reply's raw text.
func (r *rawConn) do(args ...string) string {
	r.t.Helper()
	r.send(encodeCommand(args...))
	return r.reply()
}

// reply reads one whole reply and returns its raw text.
func (r *rawConn) reply() string {
	r.t.Helper()
	s, err := readReply(r.br)
	if err != nil {
		r.t.Fatalf("reading reply: %v (so far %q)", err, s)
	}
	return s
}

// expectClosed checks that the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := r.br.ReadByte()
	if err == nil {
		r.t.Fatalf("connection still open; read %q", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatal("connection still open after 5s")
	}
}

func encodeCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// readReply reads one RESP2 reply and returns it verbatim.
func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return line, fmt.Errorf("bad reply line %q", line)
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		n, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil {
			return line, err
		}
		if n < 0 {
			return line, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return line, err
		}
		return line + string(buf), nil
	case '*':
		n, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil {
			return line, err
		}
		out := line
		for i := 0; i < n; i++ {
			s, err := readReply(br)
			out += s
			if err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return line, fmt.Errorf("unknown reply type in %q", line)
}

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

func array(items ...string) string {
	return fmt.Sprintf("*%d\r\n", len(items)) + strings.Join(items, "")
}

// served is a server whose shutdown the test drives itself.
type served struct {
	*apitest.Backend
	srv  *Server
	l    net.Listener
	errc chan error // Serve's result
}

func startDirect(t testing.TB) served {
	t.Helper()
	be := apitest.NewBackend("n1")
	var backend api.Backend = be
	if starting {
		backend = startingBackend{be}
	}
	s := NewServer(Config{Backend: backend})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	return served{Backend: be, srv: s, l: l, errc: errc}
}
