package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// TB is the part of testing.TB the test helpers use; *testing.T and
// *testing.B satisfy it, and this package need not import testing.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// MustBinary is Binary for a test: a failed build ends it.
func MustBinary(t TB) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Proc is a Node owned by a test: a failure to start ends the test, and
// the process is killed when the test ends.
type Proc struct {
	*Node
	t TB
}

// NewProc prepares (does not start) a node of the freshly built binary
// with a data dir under t.TempDir(), free ports, and --log-level warn.
func NewProc(t TB) *Proc {
	t.Helper()
	n, err := NewNode(MustBinary(t), "", filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	n.Args = []string{"--log-level", "warn"}
	return Own(t, n)
}

// Own hands n to a test: a failure to start ends it, and the process is
// killed when it ends.
func Own(t TB, n *Node) *Proc {
	p := &Proc{Node: n, t: t}
	t.Cleanup(p.Kill)
	return p
}

// Start starts the process with extra flags and waits until it accepts
// PostgreSQL connections (at most 30 s).
func (p *Proc) Start(extra ...string) {
	p.t.Helper()
	p.Launch(extra...)
	p.WaitReady()
}

// Launch starts the process and returns at once.
func (p *Proc) Launch(extra ...string) {
	p.t.Helper()
	if err := p.Node.Launch(extra...); err != nil {
		p.t.Fatal(err)
	}
}

// WaitReady waits until the launched node answers (see Node.WaitReady).
func (p *Proc) WaitReady() {
	p.t.Helper()
	if err := p.Node.WaitReady(context.Background()); err != nil {
		p.t.Fatal(err)
	}
}

// Kill sends SIGKILL if the node runs and waits for the exit.
func (p *Proc) Kill() {
	if p.Running() {
		_ = p.Node.Kill()
	}
}

// Stop sends SIGTERM and waits up to 20 s for a clean exit; the error is
// the exit status, or the hang with the node's output (and stacks).
func (p *Proc) Stop() error {
	_, exit, err := p.Terminate(20 * time.Second)
	if err != nil {
		return fmt.Errorf("%v; its output:\n%s", err, p.Log())
	}
	return exit
}

// Connect opens a pgx connection to the node, closed when the test ends.
func (p *Proc) Connect(t TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// ReadJSON decodes the JSON file at path (a tool's report) into v.
func ReadJSON(t TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// WaitUntil polls cond every 20 ms until it holds, or ends the test when
// timeout passes, with cond's last word on why not.
func WaitUntil(t TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("condition not met within %s: %s", timeout, last)
}
