package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium (scripts/test-deps.sh installs it).
func chromiumPath() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium on PATH: run scripts/test-deps.sh (apt-get install chromium)")
}

// screenshotDir is $CAIRN_SCREENSHOTS when set, else a temp dir of the test.
func screenshotDir(t *testing.T) (string, error) {
	if d := os.Getenv("CAIRN_SCREENSHOTS"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	return t.TempDir(), nil
}

// browser is one headless Chromium tab, ended with the test.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string
}

// newBrowserOrNil is newBrowser for a goroutine other than the test's:
// it logs a failure and returns nil instead of ending the test.
func newBrowserOrNil(t *testing.T) *browser {
	b, err := startBrowser(t)
	if err != nil {
		t.Log(err)
		return nil
	}
	return b
}

func startBrowser(t *testing.T) (*browser, error) {
	path, err := chromiumPath()
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(func(string, ...any) {}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	dir, err := screenshotDir(t)
	if err != nil {
		return nil, err
	}
	b := &browser{t: t, ctx: ctx, dir: dir}
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		return nil, fmt.Errorf("starting chromium %s: %v", path, err)
	}
	return b, nil
}

// do runs steps with a bound.
func (b *browser) do(timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page.
func evalIn[T any](b *browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// waitPage polls expr (a JavaScript expression giving a string) until it
// equals want, without reloading the page: what changes comes from the
// page's live updates.
func (b *browser) waitPage(timeout time.Duration, what, expr, want string) time.Duration {
	b.t.Helper()
	start := time.Now()
	var got string
	var err error
	for time.Since(start) < timeout {
		got, err = evalIn[string](b, expr)
		if err == nil && got == want {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.screenshot("timeout-" + strings.ReplaceAll(what, " ", "-"))
	b.t.Fatalf("%s: after %s the page shows %q (err %v), want %q", what, timeout, got, err, want)
	return 0
}

// screenshot saves the whole page as name.png and logs its path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// Page expressions the test reads (the console marks its elements with
// data- attributes for this).
const (
	// nodeStates lists "name=state" of every node card, sorted.
	jsNodeStates = `[...document.querySelectorAll('#node-map .node')].map(e => e.dataset.node + '=' + e.dataset.state).sort().join(' ')`
	// shardLeaders lists every shard row's leader, sorted and deduplicated.
	jsShardLeaders = `[...new Set([...document.querySelectorAll('#shards tr[data-shard]')].map(e => e.dataset.leader || 'none'))].sort().join(' ')`
)

// TestConsoleBrowser drives the web console in headless Chromium against a
// real 3-node cluster: the page shows three live nodes with health scores,
// the shards, a view and a rebalance operation; after n3 is killed (SIGKILL) the same page, never reloaded, shows
// n3 dead, its replicas down and every shard led by n1 or n2, with the
// failover in the timeline; the SQL page runs a query and refuses a
// write. Screenshots go to $CAIRN_SCREENSHOTS or a temp dir.
func TestConsoleBrowser(t *testing.T) {
	start := time.Now()
	// Chromium starts while the cluster does (CPU is mostly idle waiting
	// for elections).
	bch := make(chan *browser, 1)
	go func() { bch <- newBrowserOrNil(t) }()
	c := startOpsCluster(t, 3)
	b := <-bch
	if b == nil {
		t.Fatal("chromium did not start (see the log above)")
	}
	c.must("ALTER SYSTEM SET dead_after = '2s'")
	c.must(`CREATE STREAM clicks (page text, ms int8) WITH (shards = 3, replicas = 3)`)
	c.must(`CREATE MATERIALIZED VIEW clicks_by_page AS SELECT page, count(*) AS n, avg(ms) AS avg_ms FROM clicks GROUP BY page`)
	n1 := c.p("n1")
	t.Logf("cluster and browser up after %s", time.Since(start).Round(100*time.Millisecond))

	// A light load through n1, so the charts have something to draw.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn := n1.Connect(t)
		for i := 0; i < 3000; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = conn.Exec(ctx, fmt.Sprintf("INSERT INTO clicks VALUES ('/p%d', %d), ('/home', %d)", i%5, i%300, i%70))
			cancel()
		}
	}()
	defer func() { close(stop); <-done }()

	url := "http://" + n1.HTTP + "/"
	b.do(20*time.Second, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`#node-map .node`)))
	b.waitPage(20*time.Second, "three live nodes", jsNodeStates, "n1=live n2=live n3=live")
	b.waitPage(20*time.Second, "shards listed", `String(document.querySelectorAll('#shards tr[data-shard]').length > 3)`, "true")
	b.waitPage(20*time.Second, "the view listed", `String(!!document.querySelector('#views tr[data-view="clicks_by_page"]'))`, "true")
	b.waitPage(20*time.Second, "health scores shown (cairn_cluster.health)",
		`String([...document.querySelectorAll('#node-map .node [data-score]')].every(e => /^[0-9]+$/.test(e.textContent)))`, "true")
	b.waitPage(20*time.Second, "throughput drawn", `String(document.querySelectorAll('#chart-throughput polyline').length)`, "1")
	// An operation shows with its progress bar and in the timeline.
	c.must("ALTER SYSTEM REBALANCE")
	b.waitPage(20*time.Second, "the rebalance operation listed",
		`String(!!document.querySelector('#operations tr[data-op] .progress > div') && [...document.querySelectorAll('#operations tr[data-op]')].some(r => r.textContent.includes('rebalance')))`, "true")
	b.waitPage(20*time.Second, "the rebalance in the timeline",
		`String([...document.querySelectorAll('#timeline li[data-kind="operation"]')].some(e => e.textContent.includes('rebalance')))`, "true")
	b.screenshot("console-healthy")

	// What the page shows before the kill: n3 leads some shards (the
	// cluster balances leaders), and the page's snapshot time advances.
	at0, _ := evalIn[string](b, `document.body.dataset.snapshotAt`)
	c.kill("n3")
	killed := time.Now()
	took := b.waitPage(30*time.Second, "n3 dead", jsNodeStates, "n1=live n2=live n3=dead")
	t.Logf("the page showed n3 dead %s after the kill (dead_after 2s)", took.Round(100*time.Millisecond))
	if at1, _ := evalIn[string](b, `document.body.dataset.snapshotAt`); at1 == at0 {
		t.Fatalf("the page's snapshot did not change (%s): no live updates", at1)
	}
	b.waitPage(30*time.Second, "leaders moved off n3", jsShardLeaders, "n1 n2")
	b.waitPage(10*time.Second, "n3's replicas shown down",
		`String([...document.querySelectorAll('#shards .replica[data-node="n3"]')].every(e => e.dataset.alive === 'false'))`, "true")
	b.waitPage(10*time.Second, "the timeline has n3's death",
		`String([...document.querySelectorAll('#timeline li[data-kind="node"]')].some(e => e.textContent.includes('n3') && e.textContent.includes('dead')))`, "true")
	t.Logf("every shard led by n1 or n2 %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	b.screenshot("console-n3-dead")

	// The SQL page (same page, hash navigation): a query runs, a write is
	// refused by the server with 25006.
	if _, err := evalIn[string](b, `location.hash = '#sql'`); err != nil {
		t.Fatal(err)
	}
	b.do(10*time.Second, chromedp.WaitVisible(chromedp.CSS(`#sql-text`)))
	b.do(10*time.Second,
		chromedp.SetValue(chromedp.CSS(`#sql-text`), `SELECT node_id, state FROM cairn_cluster.nodes ORDER BY node_id`),
		chromedp.Click(chromedp.CSS(`#sql-run`)))
	b.waitPage(10*time.Second, "query result",
		`[...document.querySelectorAll('#sql-table tr')].slice(1).map(r => [...r.cells].map(c => c.textContent).join('=')).join(' ')`,
		"n1=live n2=live n3=dead")
	b.do(10*time.Second,
		chromedp.SetValue(chromedp.CSS(`#sql-text`), `INSERT INTO clicks VALUES ('/evil', 1)`),
		chromedp.Click(chromedp.CSS(`#sql-run`)))
	b.waitPage(10*time.Second, "write refused",
		`String(!document.getElementById('sql-error').hidden && document.getElementById('sql-error').textContent.startsWith('25006: the console'))`, "true")
	b.screenshot("console-sql-refused")
	if out := c.must(`SELECT count(*) FROM clicks WHERE page = '/evil'`); out != "0" {
		t.Fatalf("the refused INSERT wrote %s rows", out)
	}
}
