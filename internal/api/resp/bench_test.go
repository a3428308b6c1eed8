package resp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chorusdb/chorus/internal/api/apitest"
)

// benchmarkCommands runs n pipelined copies of one command through a connection's
// read-dispatch-write loop, with the fake backend behind it.
func benchmarkCommands(b *testing.B, args ...string) {
	s := NewServer(Config{Backend: apitest.NewBackend("n1")})
	one := encodeCommand(args...)
	input := []byte(strings.Repeat(one, 1000))
	b.ReportAllocs()
	b.SetBytes(int64(len(one)))
	b.ResetTimer()
	for i := 0; i < b.N; i += 1000 {
		pc := &pipeConn{in: bytes.NewReader(input)}
		c := s.newClient(pc)
		s.register(c)
		s.serveClient(c)
	}
}

func BenchmarkGet(b *testing.B)  { benchmarkCommands(b, "GET", "key:000000000001") }
func BenchmarkSet(b *testing.B)  { benchmarkCommands(b, "SET", "key:000000000001", "xxx") }
func BenchmarkPing(b *testing.B) { benchmarkCommands(b, "PING") }
