package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/testutil"
	"github.com/cairndb/cairn/internal/transport"
)

// cairnCert runs `cairn cert args... --certs-dir dir` with the built binary.
func cairnCert(t *testing.T, dir string, args ...string) {
	t.Helper()
	out, err := exec.Command(Binary(t), append(append([]string{"cert"}, args...), "--certs-dir", dir)...).CombinedOutput()
	if err != nil {
		t.Fatalf("cairn cert %v: %v\n%s", args, err, out)
	}
}

// nodeSerial handshakes with addr (pgwire's SSLRequest first) and returns
// the serial of the node certificate it shows.
func nodeSerial(ctx context.Context, p *testutil.Node) (string, error) {
	cfg, err := pgx.ParseConfig(p.URL())
	if err != nil {
		return "", err
	}
	var serial string
	tlsCfg := cfg.TLSConfig
	orig := tlsCfg.VerifyConnection
	tlsCfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) > 0 {
			serial = cs.PeerCertificates[0].SerialNumber.Text(16)
		}
		if orig != nil {
			return orig(cs)
		}
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return "", err
	}
	c.Close(ctx)
	return serial, nil
}

// TestSecureCluster is issue 12's secure cluster end to end: certificates
// made with `cairn cert`, three nodes started with --certs-dir, psql with
// sslmode=verify-full and a client certificate; plaintext refused on the
// SQL, HTTP and cluster ports; a node whose certificate is of another CA
// cannot join or call in; node certificates rotated with SIGHUP under a
// load of new connections and statements that never fails.
func TestSecureCluster(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "certs")
	cairnCert(t, dir, "create-ca")
	cairnCert(t, dir, "create-node", "127.0.0.1", "localhost")
	cairnCert(t, dir, "create-client", "cairn")

	c := &testutil.Cluster{Bin: Binary(t), Dir: t.TempDir(), Args: []string{"--log-level", "info"}, CertsDir: dir}
	if err := testutil.StartCluster(ctx, c, 3); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	n1 := c.Node("n1")

	// psql with verify-full and the client certificate, on every node.
	for _, n := range c.Nodes() {
		out, err := exec.CommandContext(ctx, "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", n.URL(),
			"-c", "SELECT node_id, security, cert_expires_at > now() FROM cairn_cluster.nodes ORDER BY node_id").CombinedOutput()
		if err != nil {
			t.Fatalf("psql verify-full to %s: %v\n%s", n.Name, err, out)
		}
		if got, want := strings.TrimSpace(string(out)), "n1|secure|t\nn2|secure|t\nn3|secure|t"; got != want {
			t.Fatalf("SHOW NODES security through %s:\n%s\nwant:\n%s", n.Name, got, want)
		}
	}
	if _, err := testutil.Query(ctx, n1.URL(), 10*time.Second, "CREATE STREAM ev (id bigint)"); err != nil {
		t.Fatal(err)
	}

	// Plaintext is refused on every port.
	out, err := exec.CommandContext(ctx, "psql", "-X", "-At", fmt.Sprintf("postgres://cairn@%s/cairn?sslmode=disable", n1.PGAddr), "-c", "SELECT 1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "connection requires TLS") {
		t.Fatalf("plaintext psql: %v\n%s", err, out)
	}
	resp, err := http.Get("http://" + n1.HTTP + "/health")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "ok") {
			t.Fatalf("plain HTTP to a secure node: %s %s", resp.Status, body)
		}
	}
	hc, err := n1.HTTPClient(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := hc.Get(n1.HTTPBase() + "/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTPS /health with the CA: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if _, err := transport.CallAddr(cctx, n1.Cluster, rpc.Join, []byte(`{}`)); err == nil {
		t.Fatal("a plaintext internal call to a secure node's cluster port was answered")
	}
	cancel()

	// Another CA's node: no call gets through, and it cannot join.
	foreign := testutil.MakeCerts(t, filepath.Join(t.TempDir(), "foreign"))
	fc, err := security.LoadCerts(foreign, security.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel = context.WithTimeout(ctx, 5*time.Second)
	if _, err := transport.CallAddrTLS(fc.PeerClient())(cctx, n1.Cluster, rpc.Join, []byte(`{}`)); err == nil {
		t.Fatal("a node of another CA called the join RPC")
	}
	cancel()
	n4, err := testutil.NewNode(c.Bin, "n4", filepath.Join(c.Dir, "n4"))
	if err != nil {
		t.Fatal(err)
	}
	n4.CertsDir, n4.Args = foreign, []string{"--join", n1.Cluster}
	if err := n4.Launch(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n4.Kill() })
	time.Sleep(5 * time.Second)
	rows, err := testutil.Query(ctx, n1.URL(), 5*time.Second, "SELECT count(*) FROM cairn_cluster.nodes")
	if err != nil || len(rows) != 1 || rows[0][0] != "3" {
		t.Fatalf("after a foreign node tried to join: %v %v", rows, err)
	}
	_ = n4.Kill()

	// Rotation under load: clients open a new connection per statement
	// (each a new handshake) while every node's certificate is replaced
	// and SIGHUP'd; no statement fails and the new serial is served.
	before, err := nodeSerial(ctx, n1)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	for i, n := range c.Nodes()[:3] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; testutil.Pace(ctx, stop, 10*time.Millisecond) && j < 10000; j++ {
				_, err := testutil.Query(ctx, n.URL(), 10*time.Second, fmt.Sprintf("INSERT INTO ev VALUES (%d)", i*100000+j))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	// A new node certificate (same CA) replaces the old one on disk; the
	// nodes share the dir here, so one file change reaches all three.
	cairnCert(t, dir, "create-node", "127.0.0.1", "localhost", "--overwrite", "--lifetime", "1000h")
	for _, n := range c.Nodes()[:3] {
		if err := n.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() < 10 {
		t.Fatalf("under rotation: %d statements ok, %d failed (first: %v)", ok.Load(), failed.Load(), firstErr.Load())
	}
	after, err := nodeSerial(ctx, n1)
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatalf("n1 still serves certificate %s after the rotation", before)
	}
	infos, err := security.ListCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ci := range infos {
		if ci.Kind == security.KindNode && ci.Serial != after {
			t.Fatalf("n1 serves %s, node.crt on disk is %s", after, ci.Serial)
		}
	}
	if out, err := testutil.QueryText(n1.URL(), "SET read_from = leader; SELECT count(*) FROM ev"); err != nil || out != fmt.Sprint(ok.Load()) {
		t.Fatalf("events after the rotation: %q %v, want %d", out, err, ok.Load())
	}
	// Every node reported its new certificate's expiry (SHOW NODES).
	testutil.WaitUntil(t, 10*time.Second, func() (bool, string) {
		out, err := testutil.QueryText(n1.URL(), "SELECT count(*) FROM cairn_cluster.nodes WHERE cert_expires_at < now() + interval '1001 hours'")
		return err == nil && out == "3", fmt.Sprintf("%s %v", out, err)
	})
	// The cluster still talks to itself over the new certificates: a
	// restarted node rejoins (new mTLS connections both ways).
	n2 := c.Node("n2")
	if _, _, err := n2.Terminate(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitLive(ctx, 3, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(n1.Log(), "certificate reload failed") {
		t.Fatalf("a reload failed:\n%s", n1.Log())
	}
}
