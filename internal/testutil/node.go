package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// readyTimeout bounds the wait for a started node to answer.
const readyTimeout = 30 * time.Second

// Node is one `cairn start` process, started again on the same data dir
// and addresses after every stop. Only processes it started are signalled,
// by PID. The exported fields are set before the first start and fixed
// after it.
type Node struct {
	Name    string // --node-id; empty passes none
	Bin     string // the cairn binary
	DataDir string
	PGAddr  string // --pg-addr
	HTTP    string // --http-addr
	Cluster string // --cluster-addr
	Args    []string
	// CertsDir, when set, starts the node secure (--certs-dir; see
	// MakeCerts): URL, HTTPBase and HTTPClient then use TLS and
	// client.cairn.
	CertsDir string
	// LogPath, when set, collects the output of every run, with a line at
	// each start and exit naming Label; otherwise Log holds the last run's.
	LogPath string
	Label   string
	// Echo also receives the output (a benchmark's stderr).
	Echo io.Writer
	// OwnGroup puts the process in its own process group, so a terminal's
	// Ctrl-C reaches only the tool, which stops the nodes in order.
	OwnGroup bool

	mu struct {
		sync.Mutex
		cmd    *exec.Cmd
		exited chan struct{} // closed when cmd has exited
		err    error         // cmd's exit, once exited is closed
		log    *SyncBuffer
	}
}

// FreeAddr returns a loopback address whose port is free right now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// NewNode prepares (does not start) a node of bin with data dir dataDir
// and three free loopback ports.
func NewNode(bin, name, dataDir string) (*Node, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	return &Node{Name: name, Bin: bin, DataDir: dataDir, PGAddr: addrs[0], HTTP: addrs[1], Cluster: addrs[2]}, nil
}

// URL is the node's PostgreSQL URL: for a secure node, user cairn with
// its client certificate and sslmode=verify-full.
func (n *Node) URL() string {
	if n.CertsDir != "" {
		return SecureURL(n.PGAddr, "cairn", n.CertsDir)
	}
	return fmt.Sprintf("postgres://cairn@%s/cairn?sslmode=disable", n.PGAddr)
}

// args are the command line of a start: the addresses, Args, then extra.
func (n *Node) args(extra []string) []string {
	args := []string{"start"}
	if n.Name != "" {
		args = append(args, "--node-id", n.Name)
	}
	args = append(args, "--data-dir", n.DataDir, "--pg-addr", n.PGAddr, "--http-addr", n.HTTP, "--cluster-addr", n.Cluster)
	if n.CertsDir != "" {
		args = append(args, "--certs-dir", n.CertsDir)
	}
	args = append(append(args, n.Args...), extra...)
	return args
}

// name is how messages call the node.
func (n *Node) name() string {
	if n.Name != "" {
		return n.Name
	}
	return "cairn"
}

func (n *Node) stamp() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// Launch starts the process with extra flags after Args and returns at
// once (nodes of a cluster that was stopped whole must start together:
// each waits for a meta quorum). A node already running is left alone.
func (n *Node) Launch(extra ...string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.cmd != nil && !closed(n.mu.exited) {
		return nil
	}
	args := n.args(extra)
	var out io.Writer
	var logf *os.File
	if n.LogPath != "" {
		var err error
		if logf, err = os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(logf, "=== %s: starting %s at %s: %s %s\n", n.Label, n.Name, n.stamp(), n.Bin, strings.Join(args, " "))
		out = logf
	} else {
		n.mu.log = &SyncBuffer{}
		out = n.mu.log
	}
	if n.Echo != nil {
		out = io.MultiWriter(out, n.Echo)
	}
	cmd := exec.Command(n.Bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if n.OwnGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		if logf != nil {
			logf.Close()
		}
		return err
	}
	exited := make(chan struct{})
	n.mu.cmd, n.mu.exited, n.mu.err = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		if logf != nil {
			fmt.Fprintf(logf, "=== %s: %s exited at %s: %v\n", n.Label, n.Name, n.stamp(), err)
			logf.Close()
		}
		n.mu.Lock()
		n.mu.err = err
		n.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Start launches the node and waits until it is ready.
func (n *Node) Start(ctx context.Context, extra ...string) error {
	if err := n.Launch(extra...); err != nil {
		return err
	}
	return n.WaitReady(ctx)
}

// exitAddrInUse is cairn start's exit status when a listen address is
// taken (cmd/cairn).
const exitAddrInUse = 3

// StartNew starts a node for the first time: when one of the free
// addresses NewNode picked was taken by another process before the node
// bound it (tests run in parallel), it picks new ones and starts again,
// up to 3 times. The node exits before it opens its store or contacts
// the cluster when it cannot listen, so the retry starts it afresh.
func (n *Node) StartNew(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := n.Start(ctx)
		var ee *exec.ExitError
		if err == nil || attempt == 3 || !errors.As(n.ExitErr(), &ee) || ee.ExitCode() != exitAddrInUse {
			return err
		}
		for _, a := range []*string{&n.PGAddr, &n.HTTP, &n.Cluster} {
			if *a, err = FreeAddr(); err != nil {
				return err
			}
		}
	}
}

// WaitReady waits (at most 30 s) until the launched node answers the
// PostgreSQL protocol: a session, or the refusal (57P03) of a node that
// is out of service (drained, offline, decommissioned or removed).
func (n *Node) WaitReady(ctx context.Context) error {
	exited := n.Exited()
	if exited == nil {
		return fmt.Errorf("%s is not running", n.name())
	}
	for deadline := time.Now().Add(readyTimeout); time.Now().Before(deadline); {
		if ready(ctx, n.URL()) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited during start: %v%s", n.name(), n.ExitErr(), n.logHint())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not accept connections on %s within %s%s", n.name(), n.PGAddr, readyTimeout, n.logHint())
}

// ready reports whether a PostgreSQL session opens at url, or is refused
// with 57P03 by a node that runs but serves no sessions.
func ready(ctx context.Context, url string) bool {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := pgconn.Connect(cctx, url)
	if err == nil {
		c.Close(context.Background())
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "57P03"
}

// logHint points at the output of a node that failed to start.
func (n *Node) logHint() string {
	if n.LogPath != "" {
		return " (see " + n.LogPath + ")"
	}
	return "\n" + n.Log()
}

// Exited returns a channel closed when the running process exits, or nil
// if the node was never started.
func (n *Node) Exited() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.exited == nil {
		return nil
	}
	return n.mu.exited
}

// ExitErr is the last run's exit (nil for status 0 or while it runs).
func (n *Node) ExitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.err
}

// Running reports whether the process was started and has not exited
// (a paused one runs: a client cannot tell).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.exited != nil && !closed(n.mu.exited)
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Signal sends sig to the running process.
func (n *Node) Signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.cmd == nil || closed(n.mu.exited) {
		return fmt.Errorf("%s is not running", n.name())
	}
	return n.mu.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits (at most 10 s) for the exit.
func (n *Node) Kill() error {
	exited := n.Exited()
	if err := n.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s did not exit 10s after SIGKILL", n.name())
	}
}

// Pause sends SIGSTOP: the process stays, frozen, until Resume.
func (n *Node) Pause() error { return n.Signal(syscall.SIGSTOP) }

// Resume sends SIGCONT.
func (n *Node) Resume() error { return n.Signal(syscall.SIGCONT) }

// Terminate sends SIGCONT (in case it is paused) and SIGTERM and waits up
// to grace for the exit; then it asks the Go runtime for every
// goroutine's stack (SIGQUIT, into the log) and SIGKILLs. exited reports
// whether the node exited by itself; exit is the process's exit (nil for
// status 0). A node that is not running has exited.
func (n *Node) Terminate(grace time.Duration) (exited bool, exit error, err error) {
	done := n.Exited()
	if !n.Running() {
		return true, n.ExitErr(), nil
	}
	_ = n.Signal(syscall.SIGCONT)
	_ = n.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return true, n.ExitErr(), nil
	case <-time.After(grace):
	}
	_ = n.Signal(syscall.SIGQUIT)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		if err := n.Kill(); err != nil {
			return false, n.ExitErr(), err
		}
	}
	return false, n.ExitErr(), fmt.Errorf("%s did not exit within %s of SIGTERM; killed it", n.name(), grace)
}

// Log returns what the last run printed (with LogPath: the whole file).
func (n *Node) Log() string {
	if n.LogPath != "" {
		b, _ := os.ReadFile(n.LogPath)
		return string(b)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.log == nil {
		return ""
	}
	return n.mu.log.String()
}

// SyncBuffer is a bytes.Buffer safe for a process's output goroutine
// and the reader.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
