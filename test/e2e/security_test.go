package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chorusdb/chorus/internal/testutil"
	"github.com/chorusdb/chorus/internal/tlsutil"
)

// certDir makes a CA and certificates for nodes n0…n{n-1} with `chorus certs`, the
// way the README's secure quick start does.
func certDir(t *testing.T, dir, cluster string, n int) {
	t.Helper()
	if out, err := runChorus(t, "certs", "init", "--dir", dir, "--cluster", cluster); err != nil {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	for i := range n {
		if out, err := runChorus(t, "certs", "issue", fmt.Sprintf("n%d", i), "--dir", dir, "--cluster", cluster); err != nil {
			t.Fatalf("certs issue: %v\n%s", err, out)
		}
	}
}

func clientTLS(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pool, err := tlsutil.ClientPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// TestSecureCluster: three nodes with mutual TLS between them, encrypted gossip, TLS
// and authentication on the client ports. Authenticated clients work (go-redis,
// redis-cli, HTTP, the CLI); unauthenticated and plaintext clients are refused; a node
// with a certificate from another CA, or from the right CA for another cluster, cannot
// join; rotating every node's certificate to a new CA, with both CAs in the bundle,
// fails no request.
func TestSecureCluster(t *testing.T) {
	dir := t.TempDir()
	certDir(t, dir, "prod", 3)
	bundle := filepath.Join(dir, "bundle.pem")
	ca1, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err := os.WriteFile(bundle, ca1, 0o644); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	gossipKey := base64.StdEncoding.EncodeToString(key)
	const password = "correct-horse-battery"
	secure := func(id string) []string {
		return []string{"--cluster-name", "prod", "--tls-cert", filepath.Join(dir, id+".pem"), "--tls-key", filepath.Join(dir, id+"-key.pem"),
			"--tls-ca", bundle, "--client-tls", "--gossip-key", gossipKey, "--auth-password", password}
	}
	tc := clientTLS(t, bundle)
	c := newClusterWith(t, 3, func(i int) []string { return secure(fmt.Sprintf("n%d", i)) },
		func(_ int, s *server) { s.tls, s.token = tc, password })
	bg := context.Background()

	// Authenticated clients work.
	r := redis.NewClient(c.servers[0].redisOptions())
	defer r.Close()
	if err := r.Set(bg, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET over TLS with AUTH: %v", err)
	}
	if got, err := redis.NewClient(c.servers[1].redisOptions()).Get(bg, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET through n1 = %q, %v", got, err)
	}
	if out := redisCLITLS(t, c.servers[2].resp, filepath.Join(dir, "ca.pem"), password, "GET", "k"); out != "v" {
		t.Fatalf("redis-cli --tls GET = %q", out)
	}
	cmd := exec.Command(binary, "get", "k", "--addr", c.servers[2].http)
	cmd.Env = append(os.Environ(), "CHORUS_CA_FILE="+bundle, "CHORUS_TOKEN="+password)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "v") {
		t.Fatalf("chorus get with CHORUS_CA_FILE and CHORUS_TOKEN: %v\n%s", err, out)
	}

	// Unauthenticated clients get only PING/AUTH/HELLO and a clear error.
	anon := redis.NewClient(&redis.Options{Addr: c.servers[0].resp, TLSConfig: tc, MaxRetries: -1})
	defer anon.Close()
	if err := anon.Ping(bg).Err(); err != nil {
		t.Fatalf("PING without AUTH: %v", err)
	}
	if err := anon.Get(bg, "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("GET without AUTH = %v, want NOAUTH", err)
	}
	wrong := redis.NewClient(&redis.Options{Addr: c.servers[0].resp, TLSConfig: tc, Password: "guess-guess", MaxRetries: -1})
	defer wrong.Close()
	if err := wrong.Get(bg, "k").Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("GET with a wrong password = %v, want WRONGPASS", err)
	}
	noauth := *c.servers[0]
	noauth.token = ""
	if resp, err := noauth.get("/v1/kv/default/k"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("HTTP without a token: %v %v", resp, err)
	}
	// Plaintext clients are refused by the TLS ports.
	plain := redis.NewClient(&redis.Options{Addr: c.servers[0].resp, Password: password, MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	defer plain.Close()
	if err := plain.Ping(bg).Err(); err == nil {
		t.Fatal("a plaintext RESP client was served by a TLS port")
	}
	if resp, err := http.Get("http://" + c.servers[0].http + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP was served by a TLS port")
	}

	// Rotation: add a second CA to the bundle, move each node to a certificate of the
	// new CA (the files are re-read while the nodes run), then drop the old CA; a
	// client writing all along sees no failure.
	dir2 := t.TempDir()
	certDir(t, dir2, "prod", 3)
	ca2, _ := os.ReadFile(filepath.Join(dir2, "ca.pem"))
	writeAtomic(t, bundle, append(append([]byte{}, ca1...), ca2...))
	var stop atomic.Bool
	var failures, writes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rt := redis.NewClient(c.servers[0].redisOptions())
		defer rt.Close()
		for i := 0; !stop.Load(); i++ {
			if err := rt.Set(bg, fmt.Sprintf("rot-%d", i), "v", 0).Err(); err != nil {
				failures.Add(1)
				t.Logf("write during rotation: %v", err)
			}
			writes.Add(1)
		}
	}()
	time.Sleep(1500 * time.Millisecond) // the bundle change is picked up within a second
	for i := range 3 {
		id := fmt.Sprintf("n%d", i)
		for _, ext := range []string{".pem", "-key.pem"} {
			b, _ := os.ReadFile(filepath.Join(dir2, id+ext))
			writeAtomic(t, filepath.Join(dir, id+ext), b)
		}
		time.Sleep(1500 * time.Millisecond)
	}
	writeAtomic(t, bundle, ca2)
	time.Sleep(1500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 || writes.Load() < 10 {
		t.Fatalf("%d of %d writes failed during the certificate rotation", failures.Load(), writes.Load())
	}
	// New connections between nodes use the new certificates: kill and restart one.
	for _, s := range c.servers {
		s.tls = clientTLS(t, bundle) // clients now trust only the new CA too
	}
	c.servers[1].kill9()
	c.servers[1].start()
	c.waitAlive(3)
	if err := redis.NewClient(c.servers[1].redisOptions()).Set(bg, "after-rotation", "ok", 0).Err(); err != nil {
		t.Fatalf("write at QUORUM after the rotation: %v", err)
	}
	t.Logf("%d writes during the rotation, none failed", writes.Load())

	// Intruders (last: they stay in the ring as dead members): another CA's
	// certificate, or the right CA for another cluster. Gossip lets them in (they have
	// the key); RPC must not.
	other := t.TempDir()
	certDir(t, other, "prod", 1)
	runChorus(t, "certs", "issue", "intruder", "--dir", dir, "--cluster", "staging")
	for name, files := range map[string][2]string{
		"another CA":      {filepath.Join(other, "n0.pem"), filepath.Join(other, "n0-key.pem")},
		"another cluster": {filepath.Join(dir, "intruder.pem"), filepath.Join(dir, "intruder-key.pem")},
	} {
		ports := testutil.FreePorts(t, 4)
		x := &server{t: t, id: "intruder-" + strings.ReplaceAll(name, " ", "-"), dir: filepath.Join(t.TempDir(), "x"),
			resp: fmt.Sprintf("127.0.0.1:%d", ports[0]), http: fmt.Sprintf("127.0.0.1:%d", ports[1]),
			gossip: fmt.Sprintf("127.0.0.1:%d", ports[2]), rpc: fmt.Sprintf("127.0.0.1:%d", ports[3]),
			join:  []string{c.servers[0].gossip},
			extra: []string{"--cluster-name", "prod", "--tls-cert", files[0], "--tls-key", files[1], "--tls-ca", bundle, "--gossip-key", gossipKey},
		}
		x.start()
		// Gossip lets it in (it has the key); RPC must not: its writes cannot reach the
		// others, and theirs cannot reach it.
		waitFor(t, 20*time.Second, name+": the intruder refused by RPC", func() error {
			xs := redis.NewClient(&redis.Options{Addr: x.resp, MaxRetries: -1})
			defer xs.Close()
			xs.Do(bg, "CONSISTENCY", "ALL")
			err := xs.Set(bg, "intruder-key", "x", 0).Err()
			if err == nil {
				return fmt.Errorf("the intruder wrote at ALL")
			}
			if !strings.Contains(err.Error(), "TIMEOUT") && !strings.Contains(err.Error(), "UNAVAILABLE") {
				return fmt.Errorf("unexpected: %v", err)
			}
			return nil
		})
		if got, err := r.Get(bg, "intruder-key").Result(); err != redis.Nil {
			t.Fatalf("%s: the intruder's write reached the cluster: %q, %v", name, got, err)
		}
		x.stop()
	}

}

// writeAtomic replaces a file by renaming a complete new one over it.
func writeAtomic(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// redisCLITLS runs redis-cli over TLS with a password.
func redisCLITLS(t *testing.T, addr, caFile, password string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	return redisCLIRaw(t, append([]string{"--tls", "--cacert", caFile, "-h", host, "-p", port, "--no-auth-warning", "-a", password}, args...)...)
}
