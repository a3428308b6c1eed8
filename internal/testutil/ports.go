// Package testutil holds helpers shared by tests that start real processes or
// listeners. It is imported only from _test.go files.
package testutil

import (
	"fmt"
	"net"
	"testing"
)

// FreePorts returns n distinct loopback ports that were free for both TCP and UDP
// (gossip uses both) a moment ago. Another process may take one before the caller
// binds it; tests that use them tolerate a failed start.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l) // held until return, so the same port is not handed out twice
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		u.Close()
		ports = append(ports, port)
	}
	return ports
}
