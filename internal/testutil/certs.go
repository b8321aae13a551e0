package testutil

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/cairndb/cairn/internal/security"
)

// MakeCerts makes a certs dir at dir for a secure test node or cluster:
// a CA, a node certificate for 127.0.0.1, localhost and hosts, and
// client.cairn. It returns dir.
func MakeCerts(t TB, dir string, hosts ...string) string {
	t.Helper()
	if err := CreateCerts(dir, hosts...); err != nil {
		t.Fatal(err)
	}
	return dir
}

// CreateCerts is MakeCerts for tools (cairn chaos --secure, cairn bench
// --secure): the same certificates, an error instead of a test failure.
func CreateCerts(dir string, hosts ...string) error {
	if err := security.CreateCA(dir, security.CreateOptions{}); err != nil {
		return err
	}
	if err := security.CreateNode(dir, append([]string{"127.0.0.1", "localhost"}, hosts...), security.CreateOptions{}); err != nil {
		return err
	}
	return security.CreateClient(dir, "cairn", security.CreateOptions{})
}

// SecureURL is the PostgreSQL URL of user at addr (host:port) verifying
// the server fully against certsDir/ca.crt and presenting
// client.<user>.crt.
func SecureURL(addr, user, certsDir string) string {
	q := url.Values{}
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", filepath.Join(certsDir, security.CACertFile))
	q.Set("sslcert", filepath.Join(certsDir, security.ClientCertFile(user)))
	q.Set("sslkey", filepath.Join(certsDir, security.ClientKeyFile(user)))
	return fmt.Sprintf("postgres://%s@%s/cairn?%s", user, addr, q.Encode())
}

// HTTPBase is the node's HTTP API root: https:// for a secure node.
func (n *Node) HTTPBase() string {
	if n.CertsDir != "" {
		return "https://" + n.HTTP
	}
	return "http://" + n.HTTP
}

// HTTPClient is a client for the node's HTTP API: for a secure node it
// verifies the node against ca.crt and presents client.cairn.crt.
func (n *Node) HTTPClient(timeout time.Duration) (*http.Client, error) {
	if n.CertsDir == "" {
		return &http.Client{Timeout: timeout}, nil
	}
	cfg, err := ClientTLS(n.CertsDir, "cairn")
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: cfg}}, nil
}

// ClientTLS is a TLS client config for user from certsDir (its CA and
// client.<user> certificate).
func ClientTLS(certsDir, user string) (*tls.Config, error) {
	certs, err := security.LoadCerts(certsDir, security.LoadOptions{ClientOnly: true})
	if err != nil {
		return nil, err
	}
	return certs.ClientFor(user)
}
