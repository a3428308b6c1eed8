// Package consoletest drives the web console (package console) in a real headless
// Chromium through the DevTools protocol (github.com/chromedp/chromedp), for the
// end-to-end tests of test/e2e and test/docker. It is imported only by tests.
//
//	consoletest.Require(t) // before starting servers: skips without Chromium
//	page := consoletest.Open(t, "http://"+httpAddr+"/ui/")
//	page.WaitMembers(30*time.Second, map[string]string{"n1": "up", "n2": "down"})
//	page.Screenshot("console.png")
package consoletest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chrome returns the Chromium (or Chrome) binary to use: $CHORUS_CHROME if set, else
// the first of chromium, chromium-browser, google-chrome, google-chrome-stable found
// in PATH; "" if there is none.
func Chrome() string {
	if p := os.Getenv("CHORUS_CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Require returns Chrome(), or skips the test with the reason when there is none —
// except under CI (CI set), where .ci/run installs Chromium and a missing one fails.
func Require(t *testing.T) string {
	t.Helper()
	bin := Chrome()
	if bin == "" {
		const why = "no Chromium found (install Debian's chromium package, or set CHORUS_CHROME): the console cannot be tested in a browser"
		if os.Getenv("CI") != "" {
			t.Fatal(why + "; .ci/run must install it")
		}
		t.Skip(why)
	}
	return bin
}

// Page is the console open in a headless browser tab. Its methods fail the test on
// error; they must be called from the test's goroutine.
type Page struct {
	t   *testing.T
	ctx context.Context
	url string
}

// Open starts a headless Chromium, loads url and waits until the console has drawn
// its first poll. The browser is closed when the test ends. Without Chromium the test
// is skipped as by Require.
func Open(t *testing.T, url string) *Page {
	t.Helper()
	bin := Require(t)
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // tests run as root, where Chromium's sandbox refuses to start
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1100),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first call starts the browser, which lives as long as that call's context:
	// it gets none of its own, later calls get timeouts.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	p := &Page{t: t, ctx: ctx, url: url}
	load, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(load, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#members tr[data-member]`))); err != nil {
		t.Fatalf("console at %s did not show any member within 60s: %v", url, err)
	}
	return p
}

// Member is how the console shows one member.
type Member struct {
	Status  string // the row's state: up, suspect, down or left
	Text    string // the status cell's text
	Colour  string // the computed colour of the status text
	RedArcs int    // ring arcs owned by the member and drawn red (down)
	Arcs    int    // ring arcs owned by the member
}

// Members reads the members table and the ring picture.
func (p *Page) Members() map[string]Member {
	p.t.Helper()
	return eval[map[string]Member](p, `Object.fromEntries([...document.querySelectorAll('#members tr[data-member]')].map((r) => {
		const id = r.dataset.member;
		const st = r.querySelector('.status');
		const arcs = [...document.querySelectorAll('#ring path.member')].filter((a) => a.dataset.owner === id);
		return [id, {Status: r.dataset.status, Text: st ? st.textContent : '', Colour: st ? getComputedStyle(st).color : '',
			RedArcs: arcs.filter((a) => a.classList.contains('down')).length, Arcs: arcs.length}];
	}))`)
}

// WaitMembers waits until the console shows every member of want with the given
// status (up, suspect, down, left); a down member must also be drawn red on the ring.
func (p *Page) WaitMembers(timeout time.Duration, want map[string]string) map[string]Member {
	p.t.Helper()
	var got map[string]Member
	err := p.waitFor(timeout, func() error {
		got = p.Members()
		for id, st := range want {
			m, ok := got[id]
			switch {
			case !ok:
				return fmt.Errorf("member %s not shown (shown: %v)", id, got)
			case m.Status != st || m.Text != st:
				return fmt.Errorf("member %s shown as %q, want %q", id, m.Status, st)
			case m.Arcs == 0:
				return fmt.Errorf("member %s has no arcs on the ring", id)
			case st == "down" && (m.RedArcs != m.Arcs || m.Colour != "rgb(209, 36, 47)"):
				return fmt.Errorf("member %s is down but not red: %+v", id, m)
			case st != "down" && m.RedArcs != 0:
				return fmt.Errorf("member %s is %s but drawn red: %+v", id, st, m)
			}
		}
		return nil
	})
	if err != nil {
		p.t.Fatalf("console at %s: %v", p.url, err)
	}
	return got
}

// Text returns the text of the first element matching a CSS selector ("" if none).
func (p *Page) Text(selector string) string {
	p.t.Helper()
	return eval[string](p, fmt.Sprintf(`(document.querySelector(%q) || {textContent: ''}).textContent`, selector))
}

// Bool evaluates a JavaScript expression that yields true or false in the page.
func (p *Page) Bool(expr string) bool {
	p.t.Helper()
	return eval[bool](p, expr)
}

// WaitFor polls cond every 200ms until it returns nil, failing the test with cond's
// last error after timeout.
func (p *Page) WaitFor(timeout time.Duration, what string, cond func() error) {
	p.t.Helper()
	if err := p.waitFor(timeout, cond); err != nil {
		p.t.Fatalf("console at %s: %s: %v", p.url, what, err)
	}
}

// Inspect types a key into the key inspector and submits it.
func (p *Page) Inspect(keyspace, key string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#inspect-keyspace`), keyspace),
		chromedp.SetValue(chromedp.CSS(`#inspect-key`), key),
		chromedp.Click(chromedp.CSS(`#inspect-form button[type=submit]`)),
	)
	if err != nil {
		p.t.Fatalf("inspecting %s/%s: %v", keyspace, key, err)
	}
}

// Screenshot saves a PNG of the whole page as name in ArtifactDir and returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(ArtifactDir(p.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot of the console: %s", path)
	return path
}

// ArtifactDir is where a test keeps what it produced for people to look at:
// $CHORUS_ARTIFACTS/<test name> when that is set, else t.ArtifactDir() (kept under
// the output directory with go test -artifacts, removed after the test otherwise).
func ArtifactDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("CHORUS_ARTIFACTS")
	if base == "" {
		return t.ArtifactDir()
	}
	dir := filepath.Join(base, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// eval evaluates a JavaScript expression in the page and decodes its value as T.
func eval[T any](p *Page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluating in the console: %v", err)
	}
	return v
}

func (p *Page) waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s: %w", timeout, err)
		}
		if p.ctx.Err() != nil {
			return errors.Join(err, p.ctx.Err())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
