// Package e2e holds tests that run the real cairn binary: SQL scripts
// against a live node, and crash tests that kill it with SIGKILL.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/cairn once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cairn-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "cairn")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/cairndb/cairn/cmd/cairn")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out.String())
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Proc is a cairn start process.
type Proc struct {
	t       testing.TB
	DataDir string
	PGAddr  string
	HTTP    string
	Cluster string
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{}
	err     error
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// NewProc prepares (does not start) a node with a fresh data dir and ports.
func NewProc(t testing.TB) *Proc {
	return &Proc{t: t, DataDir: filepath.Join(t.TempDir(), "data"), PGAddr: freeAddr(t), HTTP: freeAddr(t), Cluster: freeAddr(t)}
}

// Start starts the process and waits until it accepts PostgreSQL
// connections (at most 30 s).
func (p *Proc) Start(extra ...string) {
	p.t.Helper()
	p.Launch(extra...)
	p.WaitReady()
}

// Launch starts the process and returns at once (nodes of a cluster that
// was stopped whole must start together: each waits for a meta quorum).
func (p *Proc) Launch(extra ...string) {
	p.t.Helper()
	args := append([]string{"start", "--data-dir", p.DataDir, "--pg-addr", p.PGAddr, "--http-addr", p.HTTP,
		"--cluster-addr", p.Cluster, "--log-level", "warn"}, extra...)
	p.cmd = exec.Command(Binary(p.t), args...)
	p.log = &syncBuffer{}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	p.t.Cleanup(func() { p.Kill() })
}

// WaitReady waits (at most 30 s) until the launched node answers the
// PostgreSQL protocol: a session, or the refusal of a node an operator
// took out of service (57P03).
func (p *Proc) WaitReady() {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			p.t.Fatalf("cairn exited during start: %v\n%s", p.err, p.log.String())
		default:
		}
		c, err := pgx.Connect(context.Background(), p.URL())
		if err == nil {
			c.Close(context.Background())
			return
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "57P03" && strings.Contains(pe.Message, "accepts no new sessions") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("cairn did not accept connections within 30s\n%s", p.log.String())
}

// Running reports whether the process was started and has not exited.
func (p *Proc) Running() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// URL is the node's PostgreSQL URL.
func (p *Proc) URL() string {
	return fmt.Sprintf("postgres://cairn@%s/cairn?sslmode=disable", p.PGAddr)
}

// Kill sends SIGKILL (if running) and waits for the exit.
func (p *Proc) Kill() {
	if p.cmd == nil || p.exited == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop sends SIGTERM and waits up to 20 s for a clean exit.
func (p *Proc) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(20 * time.Second):
		// Ask the Go runtime for every goroutine's stack, to show the hang.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			p.Kill()
		}
		return fmt.Errorf("cairn did not stop within 20s after SIGTERM; its output:\n%s", p.Log())
	}
}

// Log returns what the process printed.
func (p *Proc) Log() string { return p.log.String() }

// Connect opens a pgx connection to the node.
func (p *Proc) Connect(t testing.TB) *pgx.Conn {
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

// syncBuffer is a bytes.Buffer safe for the process's output goroutine
// and the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
