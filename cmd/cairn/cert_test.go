package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/testutil"
)

// runCert runs `cairn cert args...` in-process and returns its output and
// exit code (0 on success).
func runCert(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	cmd := certCmd()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	code := 0
	if err != nil {
		code = -1
		var ee *exitErr
		if errors.As(err, &ee) {
			code = ee.Code
		}
	}
	return out.String(), code, err
}

func TestCertCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	// Before a CA: the error says what to run.
	if _, code, err := runCert(t, "create-node", "localhost", "--certs-dir", dir); code != exitUsage || !strings.Contains(err.Error(), "cairn cert create-ca") {
		t.Fatalf("create-node without a CA: exit %d, %v", code, err)
	}
	for _, args := range [][]string{
		{"create-ca", "--certs-dir", dir},
		{"create-node", "127.0.0.1", "localhost", "db.example.com", "--certs-dir", dir},
		{"create-client", "cairn", "--certs-dir", dir},
		{"create-client", "alice", "--certs-dir", dir, "--lifetime", "720h"},
	} {
		if out, code, err := runCert(t, args...); code != 0 || !strings.HasPrefix(out, "wrote ") {
			t.Fatalf("cert %v: exit %d, %v: %s", args, code, err, out)
		}
	}
	out, code, err := runCert(t, "list", "--certs-dir", dir)
	if code != 0 {
		t.Fatalf("list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("list printed %d lines, want a header and 4 certificates:\n%s", len(lines), out)
	}
	for i, want := range []string{"FILE", "ca.crt ", "node.crt ", "client.alice.crt ", "client.cairn.crt "} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d %q, want it to start with %q", i, lines[i], want)
		}
	}
	if f := strings.Fields(lines[2]); len(f) != 7 || f[3] != "localhost,db.example.com,127.0.0.1" || f[6] != "yes" {
		t.Errorf("node line: %q", lines[2])
	}
	// alice's certificate lives 30 days.
	f := strings.Fields(lines[3])
	notAfter, err := time.Parse(time.RFC3339, f[4])
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(notAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("alice's certificate expires in %s, want 30 days", d)
	}
	// Nothing is overwritten unless asked.
	before, _ := os.ReadFile(filepath.Join(dir, "node.key"))
	if _, code, err := runCert(t, "create-node", "localhost", "--certs-dir", dir); code != exitUsage || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("create-node again: exit %d, %v", code, err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "node.key")); !bytes.Equal(before, after) {
		t.Fatal("a refused create-node changed node.key")
	}
	if _, code, err := runCert(t, "create-node", "localhost", "--certs-dir", dir, "--overwrite"); code != 0 {
		t.Fatalf("create-node --overwrite: %v", err)
	}
	// Bad input is a usage error.
	for _, args := range [][]string{
		{"create-client", "Robert'); DROP", "--certs-dir", dir},
		{"create-client", "bob", "--certs-dir", dir, "--lifetime", "200000h"},
		{"create-node", "host:1234", "--certs-dir", dir},
	} {
		if _, code, err := runCert(t, args...); code != exitUsage {
			t.Errorf("cert %v: exit %d, %v; want a usage error", args, code, err)
		}
	}
	// An expired certificate says so.
	if err := security.CreateClient(dir, "old", security.CreateOptions{Now: func() time.Time { return time.Now().Add(-time.Hour) }, Lifetime: 30 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runCert(t, "list", "--certs-dir", dir); err != nil || !strings.Contains(out, "yes (EXPIRED)") || strings.Count(out, "EXPIRED") != 1 {
		t.Fatalf("list with an expired certificate: %v\n%s", err, out)
	}
	// CAIRN_CERTS_DIR is the default dir.
	t.Setenv("CAIRN_CERTS_DIR", dir)
	if out, _, err := runCert(t, "list"); err != nil || !strings.Contains(out, "client.alice.crt") {
		t.Fatalf("list with CAIRN_CERTS_DIR: %v\n%s", err, out)
	}
}

// TestStartRefusesInsecureNetwork: without certificates or --insecure a
// node does not listen beyond loopback; contradicting flags are refused.
func TestStartRefusesInsecureNetwork(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pg-addr", "0.0.0.0:0"}, "cairn cert create-ca"},
		{[]string{"--http-addr", ":0"}, "--insecure"},
		{[]string{"--cluster-addr", "10.1.2.3:7480"}, "--cluster-addr 10.1.2.3:7480 is not a loopback address"},
		{[]string{"--certs-dir", t.TempDir(), "--insecure"}, "contradict"},
		{[]string{"--tls-min-version", "1.2"}, "needs --certs-dir"},
		{[]string{"--certs-dir", t.TempDir(), "--tls-min-version", "1.0"}, "use 1.2 or 1.3"},
		{[]string{"--certs-dir", filepath.Join(t.TempDir(), "none")}, "cairn cert create-ca"},
	} {
		cmd := startCmd()
		cmd.SetArgs(append(tc.args, "--data-dir", filepath.Join(t.TempDir(), "d")))
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		var ee *exitErr
		if !errors.As(err, &ee) || ee.Code != exitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("start %v: %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}

// TestStartInsecureSaysSo: --insecure is said at start, in the log (WARN)
// and the ready line, and SHOW NODES reports it; SIGHUP does not stop an
// insecure node.
func TestStartInsecureSaysSo(t *testing.T) {
	p := testutil.NewProc(t)
	p.Args = []string{"--log-level", "info"}
	p.Start("--insecure")
	// The ready line is printed after the node serves /health, which is
	// what Start waits for: give it a moment.
	log := p.Log()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log, "ready (INSECURE: --insecure") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		log = p.Log()
	}
	if !strings.Contains(log, "level=WARN msg=\"INSECURE: --insecure") || !strings.Contains(log, "ready (INSECURE: --insecure") {
		t.Fatalf("the start of an --insecure node does not say so:\n%s", log)
	}
	rows, err := testutil.Query(t.Context(), p.URL(), 5*time.Second, "SELECT security, cert_expires_at IS NULL FROM cairn_cluster.nodes")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0][0] != "insecure" || rows[0][1] != "t" {
		t.Fatalf("cairn_cluster.nodes security: %v", rows)
	}
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if !p.Running() {
		t.Fatalf("SIGHUP stopped the node:\n%s", p.Log())
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
}
