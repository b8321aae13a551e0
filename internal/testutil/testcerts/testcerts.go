// Package testcerts makes throwaway certificates for tests: a CA, a node
// certificate for 127.0.0.1 and localhost, and client certificates whose
// CN is a user name, written under CockroachDB's file names (ca.crt,
// node.crt/key, client.<user>.crt/key) so external clients (psql) can use
// them too. ECDSA P-256 throughout, as `cairn cert` makes them.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a test certificate authority and the directory it writes to.
type CA struct {
	Dir  string
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	Pool *x509.CertPool
}

// New makes a CA in a new temporary directory and writes ca.crt, node.crt
// and node.key (for 127.0.0.1, ::1 and localhost) there.
func New(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "Cairn test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Dir: t.TempDir(), Cert: cert, Key: key, Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	writePEM(t, filepath.Join(ca.Dir, "ca.crt"), "CERTIFICATE", der)
	ca.issue(t, "node", "node", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	return ca
}

// Client writes client.<user>.crt/key (CN = user) and returns its paths.
func (ca *CA) Client(t testing.TB, user string) (certFile, keyFile string) {
	t.Helper()
	return ca.issue(t, "client."+user, user, nil, nil)
}

// ServerConfig is a TLS config for a server with the node certificate
// that verifies client certificates against the CA when given.
func (ca *CA) ServerConfig(t testing.TB) *tls.Config {
	t.Helper()
	return &tls.Config{
		Certificates: []tls.Certificate{ca.pair(t, "node")},
		ClientCAs:    ca.Pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS12,
	}
}

// PeerServerConfig is a mutual-TLS server config: a client certificate
// signed by the CA is required.
func (ca *CA) PeerServerConfig(t testing.TB) *tls.Config {
	t.Helper()
	c := ca.ServerConfig(t)
	c.ClientAuth = tls.RequireAndVerifyClientCert
	return c
}

// PeerClientConfig is the node's client config for mutual TLS: it presents
// the node certificate and trusts only the CA.
func (ca *CA) PeerClientConfig(t testing.TB) *tls.Config {
	t.Helper()
	return &tls.Config{
		Certificates: []tls.Certificate{ca.pair(t, "node")},
		RootCAs:      ca.Pool,
		MinVersion:   tls.VersionTLS12,
	}
}

// ClientConfig is a client config for user (its certificate is made if
// missing) that trusts only the CA.
func (ca *CA) ClientConfig(t testing.TB, user string) *tls.Config {
	t.Helper()
	if _, err := os.Stat(filepath.Join(ca.Dir, "client."+user+".crt")); err != nil {
		ca.Client(t, user)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{ca.pair(t, "client."+user)},
		RootCAs:      ca.Pool,
		MinVersion:   tls.VersionTLS12,
	}
}

func (ca *CA) pair(t testing.TB, name string) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(filepath.Join(ca.Dir, name+".crt"), filepath.Join(ca.Dir, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (ca *CA) issue(t testing.TB, file, cn string, dns []string, ips []net.IP) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.Dir, file+".crt"), filepath.Join(ca.Dir, file+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	// 0600: libpq refuses a key file others can read.
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
