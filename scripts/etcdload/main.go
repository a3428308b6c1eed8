// Command etcdload drives etcd with the workload redis-benchmark drives Chorus and
// redis-server with in scripts/bench-compare.sh: -n requests from -c concurrent
// clients, keys drawn uniformly from -r, values of -d bytes. It speaks etcd's v3 JSON
// gateway (POST /v3/kv/put and /v3/kv/range) over HTTP/1.1 keep-alive connections, so
// it needs no etcd client library; each client holds one connection.
//
// It prints one CSV line per test in redis-benchmark's --csv layout:
//
//	"test","rps","avg_ms","min_ms","p50_ms","p95_ms","p99_ms","max_ms"
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:2379", "etcd client URL to send every request to")
	n := flag.Int("n", 100000, "requests per test")
	c := flag.Int("c", 50, "concurrent clients")
	d := flag.Int("d", 100, "value size in bytes")
	r := flag.Int("r", 100000, "keys are drawn uniformly from this many")
	tests := flag.String("t", "put,get", "tests to run, in order: put, get")
	flag.Parse()
	if *n < 1 || *c < 1 || *d < 0 || *r < 1 {
		fmt.Fprintln(os.Stderr, "etcdload: -n, -c and -r must be positive, -d not negative")
		os.Exit(2)
	}
	fmt.Println(`"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"`)
	for _, t := range strings.Split(*tests, ",") {
		if t != "put" && t != "get" {
			fmt.Fprintf(os.Stderr, "etcdload: unknown test %q (want put or get)\n", t)
			os.Exit(2)
		}
		if err := run(*endpoint, t, *n, *c, *d, *r); err != nil {
			fmt.Fprintf(os.Stderr, "etcdload: %s: %v\n", t, err)
			os.Exit(1)
		}
	}
}

// run sends n requests of test from c clients and prints the result line.
func run(endpoint, test string, n, c, size, keys int) error {
	transport := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	path := endpoint + "/v3/kv/range"
	if test == "put" {
		path = endpoint + "/v3/kv/put"
	}
	value := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), size))
	var next atomic.Int64
	var failed atomic.Pointer[error] // the first error
	hists := make([]*hdrhistogram.Histogram, c)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c {
		hists[w] = hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
		wg.Add(1)
		go func(h *hdrhistogram.Histogram) {
			defer wg.Done()
			var body bytes.Buffer
			for next.Add(1) <= int64(n) && failed.Load() == nil {
				key := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "key:%012d", rand.IntN(keys)))
				body.Reset()
				req := map[string]string{"key": key}
				if test == "put" {
					req["value"] = value
				}
				_ = json.NewEncoder(&body).Encode(req)
				t0 := time.Now()
				if err := post(client, path, &body); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				_ = h.RecordValue(time.Since(t0).Microseconds())
			}
		}(hists[w])
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := failed.Load(); err != nil {
		return *err
	}
	all := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	for _, h := range hists {
		all.Merge(h)
	}
	ms := func(us int64) string { return fmt.Sprintf("%.3f", float64(us)/1000) }
	fmt.Printf("%q,\"%.2f\",%q,%q,%q,%q,%q,%q\n", strings.ToUpper(test), float64(n)/elapsed.Seconds(),
		fmt.Sprintf("%.3f", all.Mean()/1000), ms(all.Min()), ms(all.ValueAtQuantile(50)),
		ms(all.ValueAtQuantile(95)), ms(all.ValueAtQuantile(99)), ms(all.Max()))
	return nil
}

// post sends one gateway request and checks that etcd took it.
func post(client *http.Client, url string, body io.Reader) error {
	resp, err := client.Post(url, "application/json", body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if bytes.Contains(b, []byte(`"error"`)) {
		return errors.New(string(bytes.TrimSpace(b)))
	}
	return nil
}
