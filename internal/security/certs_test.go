package security

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeDir makes a CA, a node certificate for hosts and client.cairn in a
// temp dir.
func makeDir(t *testing.T, hosts ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := CreateCA(dir, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "localhost"}
	}
	if err := CreateNode(dir, hosts, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := CreateClient(dir, "cairn", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCreateAndList(t *testing.T) {
	dir := makeDir(t, "127.0.0.1", "db.example.com")
	for _, f := range []string{CAKeyFile, NodeKeyFile, ClientKeyFile("cairn")} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	infos, err := ListCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 {
		t.Fatalf("listed %d certificates, want 3: %+v", len(infos), infos)
	}
	want := []struct{ file, kind, name, hosts string }{
		{"ca.crt", KindCA, "Cairn CA", ""},
		{"node.crt", KindNode, "node", "db.example.com,127.0.0.1"},
		{"client.cairn.crt", KindClient, "cairn", ""},
	}
	for i, w := range want {
		ci := infos[i]
		if ci.File != w.file || ci.Kind != w.kind || ci.Name != w.name || strings.Join(ci.Hosts, ",") != w.hosts || !ci.ChainsToCA || ci.Err != "" {
			t.Errorf("certificate %d: %+v, want %+v chaining to the CA", i, ci, w)
		}
	}
	if life := time.Until(infos[0].NotAfter); life < 9*365*24*time.Hour {
		t.Errorf("the CA lives %s, want about 10 years", life)
	}
	if life := time.Until(infos[1].NotAfter); life < 4*365*24*time.Hour || life > 5*365*24*time.Hour+time.Minute {
		t.Errorf("the node certificate lives %s, want about 5 years", life)
	}
}

func TestCreateRefusals(t *testing.T) {
	dir := t.TempDir()
	if err := CreateNode(dir, []string{"localhost"}, CreateOptions{}); !errors.Is(err, ErrNoCA) || !strings.Contains(err.Error(), "create-ca") {
		t.Fatalf("node cert without a CA: %v, want ErrNoCA saying create-ca", err)
	}
	if err := CreateCA(dir, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := CreateCA(dir, CreateOptions{}); !errors.Is(err, ErrCertExists) || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("second CA: %v, want ErrCertExists with --overwrite", err)
	}
	if err := CreateCA(dir, CreateOptions{Overwrite: true}); err != nil {
		t.Fatalf("CA with overwrite: %v", err)
	}
	if err := CreateClient(dir, "Bob", CreateOptions{}); err == nil {
		t.Fatal("a client certificate for Bob (upper case) was made")
	}
	if err := CreateClient(dir, "../x", CreateOptions{}); err == nil {
		t.Fatal("a client certificate for ../x was made")
	}
	if err := CreateClient(dir, "public", CreateOptions{}); err == nil {
		t.Fatal("a client certificate for public was made")
	}
	if err := CreateNode(dir, nil, CreateOptions{}); err == nil {
		t.Fatal("a node certificate without hosts was made")
	}
	if err := CreateNode(dir, []string{"host:5432"}, CreateOptions{}); err == nil {
		t.Fatal("a node certificate for host:5432 was made")
	}
	if err := CreateClient(dir, "bob", CreateOptions{Lifetime: 20 * 365 * 24 * time.Hour}); err == nil || !strings.Contains(err.Error(), "outlive the CA") {
		t.Fatalf("a client certificate outliving the CA: %v", err)
	}
	// A CA key kept elsewhere.
	other := t.TempDir()
	keyPath := filepath.Join(t.TempDir(), "ca.key")
	if err := CreateCA(other, CreateOptions{CAKey: keyPath}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, CAKeyFile)); err == nil {
		t.Fatal("the CA key was written to the certs dir despite CAKey")
	}
	if err := CreateClient(other, "bob", CreateOptions{}); !errors.Is(err, ErrNoCA) {
		t.Fatalf("client cert without the CA key path: %v, want ErrNoCA", err)
	}
	if err := CreateClient(other, "bob", CreateOptions{CAKey: keyPath}); err != nil {
		t.Fatal(err)
	}
}

func TestListFlagsForeignCerts(t *testing.T) {
	dir := makeDir(t)
	foreign := makeDir(t)
	data, err := os.ReadFile(filepath.Join(foreign, ClientCertFile("cairn")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ClientCertFile("eve")), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ClientCertFile("junk")), []byte("not pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	infos, err := ListCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]CertInfo{}
	for _, ci := range infos {
		got[ci.File] = ci
	}
	if ci := got["client.eve.crt"]; ci.ChainsToCA || ci.Err != "" {
		t.Errorf("a certificate of another CA: %+v, want ChainsToCA false", ci)
	}
	if ci := got["client.junk.crt"]; ci.Err == "" {
		t.Errorf("a file that is not PEM: %+v, want an error", ci)
	}
	if ci := got["client.cairn.crt"]; !ci.ChainsToCA {
		t.Errorf("our own client certificate: %+v, want ChainsToCA", ci)
	}
}

// serve answers TLS handshakes on a loopback port with cfg and returns
// the address; each connection reads one byte then closes.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
				var b [1]byte
				_, _ = c.Read(b[:])
			}()
		}
	}()
	return ln.Addr().String()
}

// dial handshakes with addr and returns the server certificate's serial.
func dial(addr string, cfg *tls.Config) (string, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	// TLS 1.3: the server's verdict on a client certificate arrives after
	// the client's handshake ends; a write and a read surface it.
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{0}); err != nil {
		return "", err
	}
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16), nil
}

func TestHandshakes(t *testing.T) {
	dir := makeDir(t)
	certs, err := LoadCerts(dir, LoadOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	client, err := certs.ClientFor("cairn")
	if err != nil {
		t.Fatal(err)
	}
	pg := serve(t, certs.PGServer())
	if _, err := dial(pg, client); err != nil {
		t.Fatalf("client cert to the pg listener: %v", err)
	}
	if _, err := dial(pg, certs.Client()); err != nil {
		t.Fatalf("no client cert to the pg listener (allowed): %v", err)
	}
	peer := serve(t, certs.PeerServer())
	if _, err := dial(peer, certs.PeerClient()); err != nil {
		t.Fatalf("node to node: %v", err)
	}
	if _, err := dial(peer, certs.Client()); err == nil {
		t.Fatal("a client without a certificate reached the peer listener")
	}
	if _, err := dial(peer, client); err == nil {
		t.Fatal("a client certificate (CN=cairn) passed for a node")
	}
	// Another CA's node cannot talk to this one, either way.
	foreign, err := LoadCerts(makeDir(t), LoadOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(peer, foreign.PeerClient()); err == nil {
		t.Fatal("a node of another CA reached the peer listener")
	}
	if _, err := dial(serve(t, foreign.PeerServer()), certs.PeerClient()); err == nil {
		t.Fatal("this node accepted a peer of another CA")
	}
	// TLS 1.2 is refused by default.
	old := certs.Client()
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, err := dial(pg, old); err == nil {
		t.Fatal("a TLS 1.2 client was accepted without --tls-min-version 1.2")
	}
	certs12, err := LoadCerts(dir, LoadOptions{MinVersion: tls.VersionTLS12, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(serve(t, certs12.PGServer()), old); err != nil {
		t.Fatalf("a TLS 1.2 client with min version 1.2: %v", err)
	}
	// The host name is checked.
	wrong := certs.Client()
	wrong.ServerName = "elsewhere.example.com"
	if _, err := dial(pg, wrong); err == nil {
		t.Fatal("a server certificate without the dialled name was accepted")
	}
	if _, err := certs.ClientFor("nobody"); err == nil || !strings.Contains(err.Error(), "create-client nobody") {
		t.Fatalf("ClientFor a user without a certificate: %v", err)
	}
}

func TestLoadRefusals(t *testing.T) {
	dir := makeDir(t)
	foreign := makeDir(t)
	copyFile := func(from, to string) {
		t.Helper()
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A node certificate of another CA does not load.
	copyFile(filepath.Join(foreign, NodeCertFile), filepath.Join(dir, NodeCertFile))
	copyFile(filepath.Join(foreign, NodeKeyFile), filepath.Join(dir, NodeKeyFile))
	if _, err := LoadCerts(dir, LoadOptions{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("a node cert of another CA: %v", err)
	}
	// A key that is not the certificate's.
	dir = makeDir(t)
	copyFile(filepath.Join(dir, ClientKeyFile("cairn")), filepath.Join(dir, NodeKeyFile))
	if _, err := LoadCerts(dir, LoadOptions{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Fatalf("a mismatched key: %v", err)
	}
	// A key readable by others.
	dir = makeDir(t)
	if err := os.Chmod(filepath.Join(dir, NodeKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCerts(dir, LoadOptions{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "chmod 0600") {
		t.Fatalf("a world-readable key: %v", err)
	}
	// No node cert: fine for a client, not for a node.
	dir = t.TempDir()
	if err := CreateCA(dir, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCerts(dir, LoadOptions{Logger: quiet()}); err == nil || !strings.Contains(err.Error(), "create-node") {
		t.Fatalf("no node cert: %v", err)
	}
	if _, err := LoadCerts(dir, LoadOptions{ClientOnly: true, Logger: quiet()}); err != nil {
		t.Fatalf("a client dir: %v", err)
	}
	// A bad client certificate does not stop a node; ClientFor says why.
	dir = makeDir(t)
	if err := os.WriteFile(filepath.Join(dir, ClientCertFile("cairn")), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	certs, err := LoadCerts(dir, LoadOptions{Logger: quiet()})
	if err != nil {
		t.Fatalf("a node with a bad client certificate in its dir: %v", err)
	}
	if _, err := certs.ClientFor("cairn"); err == nil || !strings.Contains(err.Error(), "not usable") {
		t.Fatalf("ClientFor a bad certificate: %v", err)
	}
	if _, err := ParseTLSVersion("1.1"); err == nil {
		t.Fatal("TLS 1.1 was accepted")
	}
}

func TestReloadRotatesNodeCert(t *testing.T) {
	dir := makeDir(t)
	var loads []int
	certs, err := LoadCerts(dir, LoadOptions{Logger: quiet(), OnLoad: func(infos []CertInfo) { loads = append(loads, len(infos)) }})
	if err != nil {
		t.Fatal(err)
	}
	client, err := certs.ClientFor("cairn")
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, certs.PGServer())
	before, err := dial(addr, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateNode(dir, []string{"127.0.0.1"}, CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	after, err := dial(addr, client)
	if err != nil {
		t.Fatal(err)
	}
	if before == after {
		t.Fatalf("the server still shows serial %s after a reload", before)
	}
	// A bad file keeps the certificates in use.
	if err := os.WriteFile(filepath.Join(dir, NodeCertFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err == nil {
		t.Fatal("a reload of a garbage node.crt succeeded")
	}
	still, err := dial(addr, client)
	if err != nil || still != after {
		t.Fatalf("after a failed reload: serial %s, %v; want %s", still, err, after)
	}
	if len(loads) != 2 || loads[0] != 3 {
		t.Fatalf("OnLoad calls: %v, want two of 3 certificates", loads)
	}
}

func TestWatchReloadsOnChange(t *testing.T) {
	dir := makeDir(t)
	certs, err := LoadCerts(dir, LoadOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { certs.Watch(ctx, 20*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()
	before := certs.cur.Load().node.Leaf.SerialNumber
	if err := CreateNode(dir, []string{"127.0.0.1"}, CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if certs.cur.Load().node.Leaf.SerialNumber.Cmp(before) != 0 {
			return
		}
	}
	t.Fatal("the watcher did not pick up a new node.crt within 5s")
}

func TestCARotation(t *testing.T) {
	// A new CA appended to ca.crt: old and new certificates both verify.
	dir := makeDir(t)
	oldCA, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := LoadCerts(dir, LoadOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateCA(dir, CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	newCA, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CACertFile), append(newCA, oldCA...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CreateNode(dir, []string{"127.0.0.1"}, CreateOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	// client.cairn.crt is still of the old CA.
	oldClient, err := certs.ClientFor("cairn")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(serve(t, certs.PGServer()), oldClient); err != nil {
		t.Fatalf("an old client certificate after the CA rotation: %v", err)
	}
	if n := len(certs.Infos()); n != 4 {
		t.Fatalf("%d certificates in use, want 4 (two CAs)", n)
	}
}
