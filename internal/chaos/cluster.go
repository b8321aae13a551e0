package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one `cairn start` process of the cluster. Its fields other than
// mu-guarded ones are fixed at creation.
type proc struct {
	name    string
	args    []string // for every (re)start
	pg      string
	http    string
	cluster string
	dataDir string
	logPath string

	// guarded by cluster.mu
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	paused bool
}

// cluster runs the nodes of a campaign as child processes of this one,
// each in its own process group so a terminal's Ctrl-C reaches only us
// and we stop them in order. Only processes it started are signalled, by
// PID.
type cluster struct {
	bin      string
	dataRoot string
	logDir   string
	extra    []string // flags for every node

	mu    sync.Mutex
	procs map[string]*proc
	order []string
}

func newCluster(bin, dataRoot, logDir string, extra []string) *cluster {
	return &cluster{bin: bin, dataRoot: dataRoot, logDir: logDir, extra: extra, procs: map[string]*proc{}}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// add creates node name, joining through join (empty bootstraps), and
// starts it.
func (c *cluster) add(ctx context.Context, name, join string) error {
	var addrs [3]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return err
		}
		addrs[i] = a
	}
	p := &proc{name: name, pg: addrs[0], http: addrs[1], cluster: addrs[2],
		dataDir: filepath.Join(c.dataRoot, name), logPath: filepath.Join(c.logDir, name+".log")}
	p.args = []string{"start", "--node-id", name, "--data-dir", p.dataDir, "--pg-addr", p.pg,
		"--http-addr", p.http, "--cluster-addr", p.cluster, "--log-level", "info", "--unsafe-test-faults"}
	if join != "" {
		p.args = append(p.args, "--join", join)
	}
	p.args = append(p.args, c.extra...)
	c.mu.Lock()
	if _, ok := c.procs[name]; ok {
		c.mu.Unlock()
		return fmt.Errorf("node %s exists", name)
	}
	c.procs[name] = p
	c.order = append(c.order, name)
	c.mu.Unlock()
	return c.start(ctx, name)
}

// start (re)starts a node that is not running and waits until it accepts
// PostgreSQL connections (30 s at most).
func (c *cluster) start(ctx context.Context, name string) error {
	c.mu.Lock()
	p := c.procs[name]
	if p == nil {
		c.mu.Unlock()
		return fmt.Errorf("no node %s", name)
	}
	if p.cmd != nil {
		c.mu.Unlock()
		return nil
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	fmt.Fprintf(logf, "=== chaos: starting %s at %s: %s %s\n", name, time.Now().UTC().Format(time.RFC3339Nano), c.bin, strings.Join(p.args, " "))
	cmd := exec.Command(c.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.mu.Unlock()
		return err
	}
	exited := make(chan struct{})
	p.cmd, p.exited, p.paused = cmd, exited, false
	c.mu.Unlock()
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(logf, "=== chaos: %s exited at %s: %v\n", name, time.Now().UTC().Format(time.RFC3339Nano), err)
		logf.Close()
		c.mu.Lock()
		if p.cmd == cmd {
			p.cmd, p.paused = nil, false
		}
		c.mu.Unlock()
		close(exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", p.pg, 200*time.Millisecond); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited during start (see %s)", name, p.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not accept connections on %s within 30s", name, p.pg)
}

// running returns the process and its exit channel, or nil if the node is down.
func (c *cluster) running(name string) (*exec.Cmd, chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[name]
	if p == nil || p.cmd == nil {
		return nil, nil
	}
	return p.cmd, p.exited
}

// signal sends sig to the node's process if it runs.
func (c *cluster) signal(name string, sig syscall.Signal) error {
	cmd, _ := c.running(name)
	if cmd == nil {
		return fmt.Errorf("%s is not running", name)
	}
	return cmd.Process.Signal(sig)
}

// kill sends SIGKILL and waits for the exit.
func (c *cluster) kill(name string) error {
	cmd, exited := c.running(name)
	if cmd == nil {
		return fmt.Errorf("%s is not running", name)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s did not exit 10s after SIGKILL", name)
	}
}

// terminate sends SIGTERM (after SIGCONT, in case it is paused) and waits
// up to grace for the exit, then SIGKILLs. It reports whether the node
// exited by itself.
func (c *cluster) terminate(name string, grace time.Duration) (bool, error) {
	cmd, exited := c.running(name)
	if cmd == nil {
		return true, nil
	}
	c.setPaused(name, false)
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return true, nil
	case <-time.After(grace):
	}
	return false, c.kill(name)
}

// pause SIGSTOPs a node; resume SIGCONTs it.
func (c *cluster) pause(name string) error {
	if err := c.signal(name, syscall.SIGSTOP); err != nil {
		return err
	}
	c.setPaused(name, true)
	return nil
}

func (c *cluster) resume(name string) error {
	c.setPaused(name, false)
	return c.signal(name, syscall.SIGCONT)
}

func (c *cluster) setPaused(name string, v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.procs[name]; p != nil && p.cmd != nil {
		p.paused = v
	}
}

// names lists every node ever added, in order.
func (c *cluster) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// upNames lists the nodes whose process runs (paused ones included: a
// client cannot know).
func (c *cluster) upNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range c.order {
		if c.procs[n].cmd != nil {
			out = append(out, n)
		}
	}
	return out
}

func (c *cluster) get(name string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[name]
}

// url is the node's PostgreSQL URL.
func (c *cluster) url(name string) string {
	p := c.get(name)
	if p == nil {
		return ""
	}
	return fmt.Sprintf("postgres://cairn@%s/cairn?sslmode=disable&connect_timeout=3", p.pg)
}

// errFaultUnsupported means the node refused a fault request as unknown.
var errFaultUnsupported = errors.New("fault not supported by this build")

var faultClient = &http.Client{Timeout: 3 * time.Second}

// postFault sends one POST /debug/faults. A 404 or 400 is reported as
// errFaultUnsupported: the endpoint or that request kind is missing.
func (c *cluster) postFault(ctx context.Context, name, body string) error {
	p := c.get(name)
	if p == nil {
		return fmt.Errorf("no node %s", name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.http+"/debug/faults", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := faultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest:
		return fmt.Errorf("%w: %s: %s", errFaultUnsupported, resp.Status, strings.TrimSpace(string(msg)))
	}
	return fmt.Errorf("POST /debug/faults %s to %s: %s %s", body, name, resp.Status, strings.TrimSpace(string(msg)))
}

// stopAll resumes and SIGTERMs every running node, waits up to 10 s for
// each, and SIGKILLs the rest.
func (c *cluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.upNames() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.terminate(n, 10*time.Second)
		}()
	}
	wg.Wait()
}
