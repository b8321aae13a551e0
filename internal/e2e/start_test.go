package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

// runCairn runs the binary to completion (at most 30 s) and returns its
// exit code and output.
func runCairn(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	return runCairnEnv(t, 30*time.Second, env, args...)
}

// runCairnTimeout is runCairn with a longer bound.
func runCairnTimeout(t *testing.T, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	return runCairnEnv(t, timeout, nil, args...)
}

func runCairnEnv(t *testing.T, timeout time.Duration, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("cairn %v: %v\n%s", args, err, out.String())
	return -1, ""
}

func TestVersion(t *testing.T) {
	code, out := runCairn(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "cairn ") {
		t.Fatalf("cairn version: exit %d, %q", code, out)
	}
}

func TestStartErrors(t *testing.T) {
	p := NewProc(t)
	p.Start()

	// The PostgreSQL port is taken by the running node.
	other := NewProc(t)
	code, out := runCairn(t, nil, "start", "--data-dir", other.DataDir, "--pg-addr", p.PGAddr, "--http-addr", other.HTTP, "--cluster-addr", other.Cluster)
	if code != 3 || !strings.Contains(out, p.PGAddr) || !strings.Contains(out, "already taken") {
		t.Fatalf("port taken: exit %d, output:\n%s", code, out)
	}

	// The data dir is locked by the running node.
	code, out = runCairn(t, nil, "start", "--data-dir", p.DataDir, "--pg-addr", other.PGAddr, "--http-addr", other.HTTP, "--cluster-addr", other.Cluster)
	if code != 4 || !strings.Contains(out, "in use by another cairn process") {
		t.Fatalf("locked data dir: exit %d, output:\n%s", code, out)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("clean stop: %v\n%s", err, p.Log())
	}

	// The data dir belongs to node n1; starting it as n2 is refused.
	code, out = runCairn(t, nil, "start", "--node-id", "n2", "--data-dir", p.DataDir, "--pg-addr", other.PGAddr, "--http-addr", other.HTTP, "--cluster-addr", other.Cluster)
	if code != 4 || !strings.Contains(out, `belongs to node "n1"`) {
		t.Fatalf("foreign data dir: exit %d, output:\n%s", code, out)
	}

	// A non-empty directory that is not a data dir is refused.
	junk := t.TempDir()
	if err := os.WriteFile(filepath.Join(junk, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = runCairn(t, nil, "start", "--data-dir", junk, "--pg-addr", other.PGAddr, "--http-addr", other.HTTP, "--cluster-addr", other.Cluster)
	if code != 4 || !strings.Contains(out, "not a cairn data dir") {
		t.Fatalf("junk data dir: exit %d, output:\n%s", code, out)
	}

	// Bad config: unknown key in the TOML file.
	cfg := filepath.Join(t.TempDir(), "cairn.toml")
	if err := os.WriteFile(cfg, []byte("data_dir = \"x\"\ncolour = \"red\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = runCairn(t, nil, "start", "--config", cfg)
	if code != 2 || !strings.Contains(out, `unknown key "colour"`) {
		t.Fatalf("bad config: exit %d, output:\n%s", code, out)
	}
}

// TestConfigSources checks that a TOML file and CAIRN_* variables set the
// same keys as flags, with flag > env > file.
func TestConfigSources(t *testing.T) {
	p := NewProc(t)
	cfg := filepath.Join(t.TempDir(), "cairn.toml")
	body := fmt.Sprintf("data_dir = %q\npg_addr = %q\nhttp-addr = %q\ncluster_addr = %q\nnode_id = \"from-file\"\n",
		p.DataDir, "127.0.0.1:1", p.HTTP, p.Cluster)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// pg_addr from the file is overridden by the environment.
	cmd := exec.Command(Binary(t), "start", "--config", cfg, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "CAIRN_PG_ADDR="+p.PGAddr)
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + p.HTTP + "/health")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), "from-file") {
				t.Fatalf("/health = %s, want node id from the config file", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node did not come up: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c, err := net.DialTimeout("tcp", p.PGAddr, time.Second)
	if err != nil {
		t.Fatalf("pg port from CAIRN_PG_ADDR not listening: %v", err)
	}
	c.Close()
	if _, err := os.Stat(filepath.Join(p.DataDir, "CAIRN_NODE")); err != nil {
		t.Fatalf("data dir from the config file not used: %v", err)
	}
}
