package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/chorusdb/chorus/internal/api/http/console/consoletest"
	"github.com/chorusdb/chorus/internal/testutil"
)

const composeFile = "../../deploy/docker-compose.yml"

// nodes are the compose file's services, in order.
var nodes = []string{"n1", "n2", "n3"}

// TestComposeFile checks the topology deploy/docker-compose.yml describes without
// Docker: three nodes that join each other by service name on one network, each with
// its own named volume at /data, publishing only on loopback. Where a compose tool is
// installed, it must accept the file too.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image       string
			Hostname    string
			Environment map[string]string
			Ports       []string
			Volumes     []string
			Networks    []string
		}
		Volumes  map[string]any
		Networks map[string]any
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range f.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(names, nodes) {
		t.Fatalf("services %v, want %v", names, nodes)
	}
	for _, name := range nodes {
		s := f.Services[name]
		env := s.Environment
		var others []string
		for _, o := range nodes {
			if o != name {
				others = append(others, o+":8380")
			}
		}
		switch {
		case s.Hostname != name || env["CHORUS_NODE_ID"] != name:
			t.Errorf("%s: hostname %q, node id %q", name, s.Hostname, env["CHORUS_NODE_ID"])
		case env["CHORUS_GOSSIP_ADDR"] != name+":8380" || env["CHORUS_RPC_ADDR"] != name+":9380":
			t.Errorf("%s: gossip %q, rpc %q: must be the service's own name", name, env["CHORUS_GOSSIP_ADDR"], env["CHORUS_RPC_ADDR"])
		case env["CHORUS_JOIN"] != strings.Join(others, ","):
			t.Errorf("%s: joins %q, want %q", name, env["CHORUS_JOIN"], strings.Join(others, ","))
		case !slices.Equal(s.Volumes, []string{name + "-data:/data"}) || f.Volumes[name+"-data"] == nil:
			t.Errorf("%s: volumes %v; want its own named volume at /data, declared", name, s.Volumes)
		case !slices.Equal(s.Networks, []string{"chorus"}) || f.Networks["chorus"] == nil:
			t.Errorf("%s: networks %v", name, s.Networks)
		case s.Image != "${CHORUS_IMAGE:-chorus:latest}":
			t.Errorf("%s: image %q", name, s.Image)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is not published on loopback only", name, p)
			}
		}
	}
	if compose := findCompose(); compose != nil {
		cmd := exec.Command(compose[0], append(compose[1:], "-f", composeFile, "config", "--quiet")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s config: %v\n%s", strings.Join(compose, " "), err, out)
		}
	}
}

// TestDockerCluster builds the image, starts the compose cluster, writes and reads
// with redis-cli, stops one container and checks that QUORUM writes and reads still
// work while /v1/cluster and the console show the node down. Everything it created
// (containers, network, volumes, image) is removed at the end, also on failure.
func TestDockerCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and runs containers")
	}
	requireDocker(t)
	compose := findCompose()
	if compose == nil {
		t.Skip("neither `docker compose` nor `docker-compose` is installed (Debian: apt-get install docker-compose)")
	}
	redisCLI := requireRedisCLI(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	image, project := "chorus-test:"+id, "chorus-test-"+id
	begin := time.Now()

	// The image.
	t.Cleanup(func() { run(t, 2*time.Minute, "docker", "image", "rm", "--force", image) })
	if out, err := command(10*time.Minute, filepath.Join(root, "scripts", "docker-build.sh"), image); err != nil {
		t.Fatalf("scripts/docker-build.sh: %v\n%s", err, out)
	}
	t.Logf("image %s built in %s", image, time.Since(begin).Round(time.Millisecond))

	// The cluster, on loopback ports picked now.
	ports := testutil.FreePorts(t, 2*len(nodes))
	env := []string{"CHORUS_IMAGE=" + image}
	resp, api := map[string]string{}, map[string]string{}
	for i, n := range nodes {
		resp[n] = fmt.Sprintf("127.0.0.1:%d", ports[2*i])
		api[n] = fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		up := strings.ToUpper(n)
		env = append(env, fmt.Sprintf("CHORUS_%s_RESP_PORT=%d", up, ports[2*i]), fmt.Sprintf("CHORUS_%s_HTTP_PORT=%d", up, ports[2*i+1]))
	}
	dc := func(timeout time.Duration, args ...string) (string, error) {
		full := append(slices.Clone(compose[1:]), append([]string{"-p", project, "-f", filepath.Join(root, "deploy", "docker-compose.yml")}, args...)...)
		return commandEnv(timeout, env, compose[0], full...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := dc(time.Minute, "logs", "--no-color", "--tail", "40")
			t.Logf("container logs:\n%s", out)
		}
		if out, err := dc(3*time.Minute, "down", "--volumes", "--remove-orphans", "--timeout", "20"); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
	})
	started := time.Now()
	if out, err := dc(3*time.Minute, "up", "--detach"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	for _, n := range nodes {
		waitFor(t, 2*time.Minute, n+" to see three members alive and be filled", func() error {
			return clusterState(api[n], map[string]string{"n1": "alive", "n2": "alive", "n3": "alive"}, true)
		})
	}
	for _, n := range nodes {
		waitFor(t, time.Minute, "a read at ALL through "+n, func() error {
			code, body, err := httpGet(api[n] + "/v1/kv/default/__settled?r=ALL")
			if err == nil && code != http.StatusNotFound {
				err = fmt.Errorf("%d %s", code, body)
			}
			return err
		})
	}
	t.Logf("cluster up in %s", time.Since(started).Round(time.Millisecond))

	// Writes through one node are read through the others, with stock redis-cli.
	if out := redisCLI(t, resp["n1"], "SET", "greeting", "hello from n1"); out != "OK" {
		t.Fatalf("SET through n1: %q", out)
	}
	for _, n := range nodes[1:] {
		if out := redisCLI(t, resp[n], "GET", "greeting"); out != "hello from n1" {
			t.Fatalf("GET through %s: %q", n, out)
		}
	}
	var page *consoletest.Page
	if consoletest.Chrome() != "" {
		page = consoletest.Open(t, api["n1"]+"/ui/")
		page.WaitMembers(30*time.Second, map[string]string{"n1": "up", "n2": "up", "n3": "up"})
	} else {
		t.Log("no Chromium found: the console is checked over HTTP only, not in a browser")
	}

	// One container stopped: QUORUM still works; the node is reported down.
	stopped := time.Now()
	if out, err := dc(time.Minute, "stop", "--timeout", "20", "n3"); err != nil {
		t.Fatalf("compose stop n3: %v\n%s", err, out)
	}
	t.Logf("n3 stopped in %s", time.Since(stopped).Round(time.Millisecond))
	script := "CONSISTENCY QUORUM\nSET during-outage written-with-n3-down\nGET during-outage\nGET greeting\n"
	if out := redisCLI(t, resp["n1"], script); out != "OK\nOK\nwritten-with-n3-down\nhello from n1" {
		t.Fatalf("QUORUM through n1 with n3 stopped:\n%s", out)
	}
	if out := redisCLI(t, resp["n2"], "CONSISTENCY QUORUM\nGET during-outage\n"); out != "OK\nwritten-with-n3-down" {
		t.Fatalf("QUORUM GET through n2 with n3 stopped:\n%s", out)
	}
	for _, n := range nodes[:2] {
		waitFor(t, time.Minute, n+" to report n3 dead", func() error {
			return clusterState(api[n], map[string]string{"n1": "alive", "n2": "alive", "n3": "dead"}, false)
		})
	}
	t.Logf("n3 reported dead %s after the stop", time.Since(stopped).Round(time.Millisecond))
	code, body, err := httpGet(api["n1"] + "/ui/")
	if err != nil || code != http.StatusOK || !strings.Contains(body, "<title>Chorus console</title>") {
		t.Fatalf("GET /ui/ on n1 = %d, %v:\n%.300s", code, err, body)
	}
	if page != nil {
		page.WaitMembers(30*time.Second, map[string]string{"n1": "up", "n2": "up", "n3": "down"})
		page.Screenshot("console-docker.png")
	}
	t.Logf("whole test before teardown: %s", time.Since(begin).Round(time.Millisecond))
}

// clusterState checks that the node at base reports the members with the statuses
// in want, and, with filled, that it is not refilling.
func clusterState(base string, want map[string]string, filled bool) error {
	code, body, err := httpGet(base + "/v1/cluster")
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("GET /v1/cluster: %d %v %s", code, err, body)
	}
	var c struct {
		Members []struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return err
	}
	got := map[string]string{}
	for _, m := range c.Members {
		got[m.ID] = m.Status
	}
	for id, st := range want {
		if got[id] != st {
			return fmt.Errorf("members %v, want %v", got, want)
		}
	}
	if filled {
		if _, body, err := httpGet(base + "/healthz"); err != nil || !strings.Contains(body, `"filling":false`) {
			return fmt.Errorf("healthz %s %v", body, err)
		}
	}
	return nil
}

// requireDocker skips the test unless a Docker engine answers.
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker command: the container image cannot be tested here")
	}
	if out, err := command(30*time.Second, "docker", "version", "--format", "{{.Server.Version}}"); err != nil {
		t.Skipf("no Docker engine reachable (docker version: %v): the container image cannot be tested here\n%s", err, out)
	}
}

// findCompose returns the compose command: docker compose (the plugin) or
// docker-compose; nil if there is neither.
func findCompose() []string {
	for _, c := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		if _, err := command(30*time.Second, c[0], append(c[1:], "version")...); err == nil {
			return c
		}
	}
	return nil
}

// requireRedisCLI returns a function that runs redis-cli against addr with either
// arguments (one command) or, given one argument holding newlines, a script of
// commands on one connection. Without redis-cli the test is skipped, except under CI,
// where .ci/run installs it.
func requireRedisCLI(t *testing.T) func(t *testing.T, addr string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-cli is not installed (CI must install redis-tools)")
		}
		t.Skip("redis-cli not installed; apt-get install redis-tools")
	}
	return func(t *testing.T, addr string, args ...string) string {
		t.Helper()
		host, port, _ := strings.Cut(addr, ":")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, "-h", host, "-p", port)
		if len(args) == 1 && strings.Contains(args[0], "\n") {
			cmd.Stdin = strings.NewReader(args[0])
		} else {
			cmd.Args = append(cmd.Args, args...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
}

func httpGet(url string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// command runs a program with a timeout and returns its combined output.
func command(timeout time.Duration, name string, args ...string) (string, error) {
	return commandEnv(timeout, nil, name, args...)
}

func commandEnv(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run is command for cleanups: a failure is reported, not fatal.
func run(t *testing.T, timeout time.Duration, name string, args ...string) {
	if out, err := command(timeout, name, args...); err != nil {
		t.Errorf("%s %v: %v\n%s", name, args, err, out)
	}
}

// waitFor polls cond every 250ms until it returns nil, or fails the test.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
