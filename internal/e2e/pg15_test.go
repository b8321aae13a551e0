package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pg15 is a PostgreSQL 15 server a test started for itself: in a temp
// dir, on a free 127.0.0.1 port, run as user postgres when the test runs
// as root (initdb refuses root); Cleanup stops it by its PID.
type pg15 struct {
	Port int
	User string // the superuser initdb created
}

const pg15Bin = "/usr/lib/postgresql/15/bin"

// startPG15 starts the server and waits until it accepts connections.
func startPG15(t *testing.T) *pg15 {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pg15Bin, "postgres")); err != nil {
		t.Fatalf("PostgreSQL 15 is needed for this test (scripts/test-deps.sh installs postgresql-15): %v", err)
	}
	dir, err := os.MkdirTemp("", "cairn-pg15-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// asUser runs a PostgreSQL program as postgres when we are root.
	var wrap []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user to run PostgreSQL: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		wrap = []string{"runuser", "-u", "postgres", "--"}
	}
	command := func(ctx context.Context, prog string, args ...string) *exec.Cmd {
		full := append(append(append([]string{}, wrap...), filepath.Join(pg15Bin, prog)), args...)
		return exec.CommandContext(ctx, full[0], full[1:]...)
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := command(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := command(context.Background(), "postgres", "-D", data, "-p", strconv.Itoa(port), "-h", "127.0.0.1", "-k", dir, "-c", "fsync=off")
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() {
		// The postmaster's own PID (srv may be runuser): a fast shutdown.
		if b, err := os.ReadFile(filepath.Join(data, "postmaster.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); err == nil {
				syscall.Kill(pid, syscall.SIGINT)
			}
		}
		done := make(chan error, 1)
		go func() { done <- srv.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			srv.Process.Kill()
			<-done
		}
		logf.Close()
	})
	p := &pg15{Port: port, User: "postgres"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := pgx.Connect(context.Background(), p.URL())
		if err == nil {
			c.Close(context.Background())
			return p
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("PostgreSQL 15 did not start: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// URL is a libpq URL of the server's postgres database.
func (p *pg15) URL() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", p.User, p.Port)
}

// Exec runs statements on the server.
func (p *pg15) Exec(t *testing.T, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("PostgreSQL: %s: %v", s, err)
		}
	}
}
