package resp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/api/apitest"
)

// pipeConn is a net.Conn that reads a fixed input and records what is written, and
// in how many writes.
type pipeConn struct {
	in     io.Reader
	out    bytes.Buffer
	writes int
}

func (p *pipeConn) Read(b []byte) (int, error)       { return p.in.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error)      { p.writes++; return p.out.Write(b) }
func (p *pipeConn) Close() error                     { return nil }
func (p *pipeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (p *pipeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (p *pipeConn) SetDeadline(time.Time) error      { return nil }
func (p *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (p *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// errorLog counts records at level Error (a recovered panic logs one).
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (e *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (e *errorLog) Handle(_ context.Context, r slog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	e.msgs = append(e.msgs, msg)
	return nil
}
func (e *errorLog) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e *errorLog) WithGroup(string) slog.Handler      { return e }

// FuzzRESPServer feeds arbitrary bytes to one connection of a server with small
// limits: it must never panic (a recovered panic is logged as an error), and what it
// writes back must be a sequence of well-formed RESP replies.
func FuzzRESPServer(f *testing.F) {
	for _, s := range []string{
		encodeCommand("SET", "k", "v") + encodeCommand("GET", "k"),
		encodeCommand("SET", "k", "v", "EX", "10") + encodeCommand("DEL", "k", "k2"),
		encodeCommand("CONSISTENCY", "READ", "ONE") + encodeCommand("CONSISTENCY"),
		encodeCommand("KEYSPACE", "ks") + encodeCommand("EXISTS", "a", "b"),
		encodeCommand("HELLO", "3") + encodeCommand("HELLO", "2", "SETNAME", "x"),
		encodeCommand("CLIENT", "SETINFO", "LIB-NAME", "go") + encodeCommand("INFO", "server"),
		encodeCommand("CONFIG", "GET", "save") + encodeCommand("COMMAND", "DOCS"),
		encodeCommand("GETSIBLINGS", "k") + encodeCommand("SELECT", "0"),
		encodeCommand("SET", "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", "v"),
		"PING\r\necho a\r\n*1\r\n$2147483647\r\n",
		"*1\r\n$9223372036854775807\r\nxx\r\n",
		encodeCommand("QUIT") + encodeCommand("PING"),
	} {
		f.Add([]byte(s))
	}
	be := apitest.NewBackend("n1")
	logs := &errorLog{}
	s := NewServer(Config{
		Backend: be,
		Limits:  api.Limits{MaxKeyBytes: 16, MaxValueBytes: 64},
		Logger:  slog.New(logs),
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		be.ResetRequests()
		pc := &pipeConn{in: bytes.NewReader(in)}
		c := s.newClient(pc)
		if s.register(c) != registered {
			t.Fatal("server closed")
		}
		s.serveClient(c)
		logs.mu.Lock()
		msgs := logs.msgs
		logs.msgs = nil
		logs.mu.Unlock()
		if len(msgs) > 0 {
			t.Fatalf("server logged errors: %q", msgs)
		}
		br := bufio.NewReader(&pc.out)
		for br.Buffered() > 0 || pc.out.Len() > 0 {
			if r, err := readReply(br); err != nil {
				t.Fatalf("malformed reply %q: %v", r, err)
			}
		}
	})
}
