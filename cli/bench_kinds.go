package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/chorusdb/chorus/client"
	"github.com/chorusdb/chorus/internal/api"
)

// setMembers is how many distinct members --kind set adds to a key (member:0 …).
const setMembers = 16

// readOp and writeOp name the operations of c.Kind in the report.
func (c *benchConfig) readOp() string {
	if c.Kind == kindSet {
		return "smembers"
	}
	return "get"
}

func (c *benchConfig) writeOp() string {
	switch c.Kind {
	case kindCounter:
		return "incr"
	case kindSet:
		return "sadd"
	}
	return "set"
}

// keyPrefix starts the names of c.Kind's keys.
func (c *benchConfig) keyPrefix() string {
	if c.Kind == kindRegister {
		return "key:"
	}
	return c.Kind + ":"
}

// shape turns a GET or SET of a register into the operation of c.Kind: INCR or an
// HTTP read of a counter, SADD or SMEMBERS of a set, GETSIBLINGS in a siblings
// keyspace.
func (c *benchConfig) shape(op *benchOp, rng *rand.Rand) {
	switch {
	case c.Kind == kindCounter && op.write:
		op.args = []any{"INCR", op.key}
	case c.Kind == kindCounter:
		op.viaHTTP = true
	case c.Kind == kindSet && op.write:
		op.args = []any{"SADD", op.key, "member:" + strconv.Itoa(rng.Intn(setMembers))}
	case c.Kind == kindSet:
		op.args = []any{"SMEMBERS", op.key}
	case !op.write && c.Resolution == "siblings":
		op.args = []any{"GETSIBLINGS", op.key}
	}
}

// settleReply records the reply of a command sent with Do: a write's error, or what
// a read found. An array reply holds the values (GETSIBLINGS puts the context first);
// an empty one is a miss, as is notFound.
func settleReply(op *benchOp, v any, err, notFound error) {
	if op.write {
		op.err = err
		return
	}
	if errors.Is(err, notFound) {
		return
	}
	if err != nil {
		op.err = err
		return
	}
	n := 1
	if arr, ok := v.([]any); ok {
		n = len(arr)
		if len(op.args) > 0 && op.args[0] == "GETSIBLINGS" {
			n-- // the context token
		}
	}
	op.values, op.hit = max(n, 0), n > 0
}

func hitValues(hit bool) int {
	if hit {
		return 1
	}
	return 0
}

// counterReader reads counters over HTTP (GET /v1/crdt/KEYSPACE/KEY?r=LEVEL): RESP has
// no command that reads a counter.
type counterReader struct {
	hc              *http.Client
	keyspace, level string
	token           string
	addrOf          func(key string) string // the HTTP address to read key from
}

func newCounterReader(cfg *benchConfig, addrOf func(string) string) *counterReader {
	conns := cfg.Clients * cfg.Pipeline
	return &counterReader{
		hc:       &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns}},
		keyspace: cfg.Keyspace, level: cfg.ReadLevel, token: os.Getenv("CHORUS_TOKEN"), addrOf: addrOf,
	}
}

func (r *counterReader) read(ctx context.Context, op *benchOp) {
	u := "http://" + r.addrOf(op.key) + "/v1/crdt/" + url.PathEscape(r.keyspace) + "/" + url.PathEscape(op.key) + "?r=" + url.QueryEscape(r.level)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		op.err = err
		return
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		op.err = err
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		op.err = err
	case resp.StatusCode == http.StatusOK:
		op.hit, op.values = true, 1
	case resp.StatusCode != http.StatusNotFound:
		op.err = httpError(resp.StatusCode, body)
	}
}

// httpError turns an HTTP error answer into an error errKind sorts like a RESP one.
func httpError(status int, body []byte) error {
	var e struct{ Error, Message string }
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error + ": " + e.Message
	}
	switch status {
	case http.StatusServiceUnavailable:
		return fmt.Errorf("%w: HTTP %d %s", client.ErrUnavailable, status, msg)
	case http.StatusGatewayTimeout:
		return fmt.Errorf("%w: HTTP %d %s", client.ErrTimeout, status, msg)
	}
	return fmt.Errorf("HTTP %d %s", status, msg)
}

// keyspaceResolution returns the resolution of keyspace as the node at httpAddr lists
// it, "" if the node does not answer the list, or an error if the keyspace is not in it.
func keyspaceResolution(httpAddr, keyspace string) (string, error) {
	_, body, err := call(http.MethodGet, "http://"+httpAddr+"/v1/keyspaces", nil)
	if err != nil {
		return "", nil // unknown: plain reads
	}
	var kss []struct{ Name, Resolution string }
	if json.Unmarshal(body, &kss) != nil {
		return "", nil
	}
	for _, ks := range kss {
		if ks.Name == keyspace {
			return ks.Resolution, nil
		}
	}
	return "", fmt.Errorf("keyspace %q does not exist: create it first (chorus keyspace create %s --resolution …)", keyspace, keyspace)
}

// httpAddrOf returns the HTTP address of the member whose RESP address is respAddr,
// asking the node at httpAddr.
func httpAddrOf(httpAddr, respAddr string) (string, error) {
	v, err := fetchCluster(httpAddr)
	if err != nil {
		return "", err
	}
	for _, m := range v.Members {
		if m.Addrs.RESP == respAddr && m.Addrs.HTTP != "" {
			return m.Addrs.HTTP, nil
		}
	}
	return "", fmt.Errorf("no member of the cluster at %s has the RESP address %s (counter reads need its HTTP address)", httpAddr, respAddr)
}

// fetchCluster returns GET /v1/cluster of the node at httpAddr.
func fetchCluster(httpAddr string) (*api.ClusterView, error) {
	_, body, err := call(http.MethodGet, "http://"+httpAddr+"/v1/cluster", nil)
	if err != nil {
		return nil, err
	}
	var v api.ClusterView
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("bad answer from %s: %w", httpAddr, err)
	}
	return &v, nil
}

// parseTList parses --t-ms: comma-separated non-negative milliseconds.
func parseTList(s string) ([]float64, error) {
	var out []float64
	for _, part := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("--t-ms %q is not a comma-separated list of non-negative milliseconds", s)
		}
		out = append(out, v)
	}
	return out, nil
}
