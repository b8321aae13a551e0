package security

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadOptions are the options of LoadCerts.
type LoadOptions struct {
	// MinVersion is the lowest TLS version spoken (0: TLS 1.3; tls.VersionTLS12
	// allows 1.2, nothing lower is accepted).
	MinVersion uint16
	// ClientOnly loads a dir without node.crt (a CLI's or a test client's):
	// only Client and ClientFor are usable.
	ClientOnly bool
	// Hosts are the hosts (no ports) this node advertises; a node
	// certificate whose SANs miss one gets a warning, since clients and
	// peers that verify the host name will refuse it.
	Hosts []string
	// Logger receives reload errors and warnings (nil: slog.Default()).
	Logger *slog.Logger
	// OnLoad is called after the first load and every successful reload,
	// with the new expiry dates (metrics, the node's SHOW NODES record).
	OnLoad func([]CertInfo)
}

// Certs is a certs dir loaded for TLS. Every *tls.Config it returns looks
// its certificates and CA pool up at each handshake, so Reload (on SIGHUP,
// or Watch on a file change) swaps them for new handshakes atomically and
// without a restart; established connections keep theirs. Users of the
// configs must not copy certificates or pools out of them.
type Certs struct {
	dir  string
	opts LoadOptions
	log  *slog.Logger
	cur  atomic.Pointer[certSet]
	mu   struct {
		sync.Mutex        // serializes reloads
		tried      string // the dir's stamp at the last load attempt, good or bad
	}
}

// certSet is one load of the dir; it never changes once built.
type certSet struct {
	cas     []*x509.Certificate
	pool    *x509.CertPool
	node    *tls.Certificate            // nil with ClientOnly
	clients map[string]*tls.Certificate // by user
	// clientErrs: why a client.<user>.crt did not load. A node does not
	// need client certificates, so a bad one is not fatal; ClientFor
	// reports it.
	clientErrs map[string]error
	stamp      string // names, sizes and mtimes of the files read, for Watch
	infos      []CertInfo
}

// LoadCerts loads dir: ca.crt, node.crt and node.key (unless
// ClientOnly) and every client.<user>.crt/key. The node certificate must
// verify against ca.crt and match its key.
func LoadCerts(dir string, opts LoadOptions) (*Certs, error) {
	if opts.MinVersion == 0 {
		opts.MinVersion = tls.VersionTLS13
	}
	if opts.MinVersion != tls.VersionTLS13 && opts.MinVersion != tls.VersionTLS12 {
		return nil, fmt.Errorf("TLS minimum version %#x is not supported: use 1.2 or 1.3", opts.MinVersion)
	}
	c := &Certs{dir: dir, opts: opts, log: opts.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	set, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cur.Store(set)
	c.mu.tried = set.stamp
	c.checkHosts(set)
	if opts.OnLoad != nil {
		opts.OnLoad(set.infos)
	}
	return c, nil
}

// ParseTLSVersion parses a --tls-min-version value: "1.2" or "1.3".
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "1.3", "":
		return tls.VersionTLS13, nil
	case "1.2":
		return tls.VersionTLS12, nil
	}
	return 0, fmt.Errorf("TLS version %q is not supported: use 1.2 or 1.3", s)
}

// Dir is the certs dir.
func (c *Certs) Dir() string { return c.dir }

// Infos describes the certificates currently in use.
func (c *Certs) Infos() []CertInfo { return c.cur.Load().infos }

// NodeNotAfter is when the node certificate in use expires (zero with
// ClientOnly).
func (c *Certs) NodeNotAfter() time.Time {
	if s := c.cur.Load(); s.node != nil {
		return s.node.Leaf.NotAfter
	}
	return time.Time{}
}

// Reload reads the dir again and, if everything in it is good, uses it
// for every new handshake; otherwise it keeps the certificates in use and
// returns (and logs) why.
func (c *Certs) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reloadLocked()
}

func (c *Certs) reloadLocked() error {
	if s, err := stampDir(c.dir); err == nil {
		c.mu.tried = s
	}
	set, err := c.load()
	if err != nil {
		c.log.Error("certificate reload failed; the certificates in use stay", "certs_dir", c.dir, "err", err)
		return err
	}
	old := c.cur.Swap(set)
	c.checkHosts(set)
	if c.opts.OnLoad != nil {
		c.opts.OnLoad(set.infos)
	}
	if old.node != nil && set.node != nil && old.node.Leaf.SerialNumber.Cmp(set.node.Leaf.SerialNumber) != 0 {
		c.log.Info("certificates reloaded", "certs_dir", c.dir, "node_serial", set.node.Leaf.SerialNumber.Text(16),
			"node_expires", set.node.Leaf.NotAfter.UTC().Format(time.RFC3339))
	} else {
		c.log.Info("certificates reloaded", "certs_dir", c.dir)
	}
	return nil
}

// Watch reloads when a file of the dir changes (polled every interval)
// until ctx ends. A failed reload is retried only after the next change;
// a change Reload (SIGHUP) already read is not read again.
func (c *Certs) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := stampDir(c.dir)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if s != c.mu.tried {
			_ = c.reloadLocked()
		}
		c.mu.Unlock()
	}
}

// load reads the dir into a new set.
func (c *Certs) load() (*certSet, error) {
	stamp, err := stampDir(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the certs dir %s does not exist: make the certificates with cairn cert create-ca --certs-dir %s (docs/security.md)", c.dir, c.dir)
	}
	if err != nil {
		return nil, err
	}
	set := &certSet{clients: map[string]*tls.Certificate{}, clientErrs: map[string]error{}, stamp: stamp}
	caPath := filepath.Join(c.dir, CACertFile)
	data, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("read the CA certificate: %w (make one with cairn cert create-ca --certs-dir %s)", err, c.dir)
	}
	if set.cas, err = ParseCertsPEM(data); err != nil {
		return nil, fmt.Errorf("%s: %v", caPath, err)
	}
	set.pool = x509.NewCertPool()
	for _, ca := range set.cas {
		if !ca.IsCA {
			return nil, fmt.Errorf("%s: certificate %q is not a CA", caPath, ca.Subject.CommonName)
		}
		set.pool.AddCert(ca)
		set.infos = append(set.infos, CertInfo{File: CACertFile, Kind: KindCA, Name: ca.Subject.CommonName,
			NotBefore: ca.NotBefore, NotAfter: ca.NotAfter, Serial: ca.SerialNumber.Text(16), ChainsToCA: true})
	}
	if !c.opts.ClientOnly {
		set.node, err = c.loadPair(set.pool, NodeCertFile, NodeKeyFile, x509.ExtKeyUsageServerAuth)
		if err != nil {
			return nil, fmt.Errorf("%w (make it with cairn cert create-node <host>... --certs-dir %s)", err, c.dir)
		}
		set.infos = append(set.infos, infoOf(NodeCertFile, KindNode, set.node.Leaf))
	}
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		user, pre := strings.CutPrefix(e.Name(), "client.")
		user, suf := strings.CutSuffix(user, ".crt")
		if !pre || !suf || ValidUserName(user) != nil {
			continue
		}
		cert, err := c.loadPair(set.pool, ClientCertFile(user), ClientKeyFile(user), x509.ExtKeyUsageClientAuth)
		if err == nil && cert.Leaf.Subject.CommonName != user {
			err = fmt.Errorf("%s has CN %q, not %q", ClientCertFile(user), cert.Leaf.Subject.CommonName, user)
		}
		if err != nil {
			set.clientErrs[user] = err
			c.log.Warn("a client certificate in the certs dir is not usable; skipped", "file", ClientCertFile(user), "err", err)
			continue
		}
		set.clients[user] = cert
		set.infos = append(set.infos, infoOf(ClientCertFile(user), KindClient, cert.Leaf))
	}
	return set, nil
}

func infoOf(file, kind string, leaf *x509.Certificate) CertInfo {
	return CertInfo{File: file, Kind: kind, Name: leaf.Subject.CommonName, Hosts: certHosts(leaf),
		NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, Serial: leaf.SerialNumber.Text(16), ChainsToCA: true}
}

// loadPair loads a certificate and its key and checks the certificate
// verifies against pool for usage.
func (c *Certs) loadPair(pool *x509.CertPool, certFile, keyFile string, usage x509.ExtKeyUsage) (*tls.Certificate, error) {
	certPath, keyPath := filepath.Join(c.dir, certFile), filepath.Join(c.dir, keyFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(keyPath); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %v): chmod 0600 it", keyPath, fi.Mode().Perm())
	}
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", certPath, err)
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", keyPath, err)
	}
	leaf := certs[0]
	if !publicKeyEqual(leaf.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%s does not belong to %s (their public keys differ)", keyPath, certPath)
	}
	inter := x509.NewCertPool()
	for _, ic := range certs[1:] {
		inter.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return nil, fmt.Errorf("%s does not verify against %s: %v", certPath, CACertFile, err)
	}
	tc := &tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, ic := range certs {
		tc.Certificate = append(tc.Certificate, ic.Raw)
	}
	return tc, nil
}

// checkHosts warns when the node certificate does not cover an
// advertised host.
func (c *Certs) checkHosts(set *certSet) {
	if set.node == nil {
		return
	}
	for _, h := range c.opts.Hosts {
		if h == "" || isWildcardHost(h) {
			continue
		}
		if err := set.node.Leaf.VerifyHostname(h); err != nil {
			c.log.Warn("the node certificate does not cover an advertised host: clients and nodes that check host names will refuse it; make it again with cairn cert create-node including this host",
				"host", h, "cert_hosts", strings.Join(certHosts(set.node.Leaf), ","))
		}
	}
}

func isWildcardHost(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsUnspecified()
}

// stampDir sums up the names, sizes and mtimes of the files of dir.
func stampDir(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".crt") && !strings.HasSuffix(n, ".key") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s %d %d\n", n, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String(), nil
}

// PGServer is the PostgreSQL listener's config: the node certificate;
// a client certificate is verified against ca.crt if the client sends
// one (certificate authentication), not required.
func (c *Certs) PGServer() *tls.Config { return c.server(tls.VerifyClientCertIfGiven, nil) }

// HTTPServer is the HTTP listener's config (ALPN h2 and http/1.1); a
// client certificate is verified if given.
func (c *Certs) HTTPServer() *tls.Config {
	return c.server(tls.VerifyClientCertIfGiven, []string{"h2", "http/1.1"})
}

// PeerServer is the cluster listener's config: mutual TLS, the peer must
// present a certificate of the cluster CA with CN=node (ALPN h2, for gRPC).
func (c *Certs) PeerServer() *tls.Config {
	cfg := c.server(tls.RequireAndVerifyClientCert, []string{"h2"})
	return cfg
}

// server builds a listener's config. GetConfigForClient hands each
// handshake a config made from the current set, so ClientCAs is current
// too; NextProtos is fixed here because that per-handshake config
// replaces the one the server was given.
func (c *Certs) server(auth tls.ClientAuthType, protos []string) *tls.Config {
	peer := auth == tls.RequireAndVerifyClientCert
	return &tls.Config{
		MinVersion: c.opts.MinVersion,
		NextProtos: protos,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.nodeCert()
		},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			set := c.cur.Load()
			if set.node == nil {
				return nil, errors.New("no node certificate loaded")
			}
			cfg := &tls.Config{
				MinVersion:   c.opts.MinVersion,
				NextProtos:   protos,
				Certificates: []tls.Certificate{*set.node},
				ClientAuth:   auth,
				ClientCAs:    set.pool,
			}
			if peer {
				cfg.VerifyConnection = func(cs tls.ConnectionState) error {
					if len(cs.PeerCertificates) == 0 || cs.PeerCertificates[0].Subject.CommonName != NodeCN {
						return errors.New("the peer's certificate is not a node certificate (CN=node)")
					}
					return nil
				}
			}
			return cfg, nil
		},
	}
}

func (c *Certs) nodeCert() (*tls.Certificate, error) {
	if set := c.cur.Load(); set.node != nil {
		return set.node, nil
	}
	return nil, errors.New("no node certificate loaded")
}

// PeerClient is the config a node dials peers with: it presents the node
// certificate and accepts only a node certificate (CN=node) of the
// cluster CA. The CA pool changes on reload, so the chain is verified in
// VerifyConnection against the current pool (Go's own check reads a fixed
// RootCAs); the host name is checked too when the dialler sent one (SNI:
// DNS names; Go sends none for an IP address, and then being a node of
// this cluster's CA is what is checked).
func (c *Certs) PeerClient() *tls.Config {
	return &tls.Config{
		MinVersion:           c.opts.MinVersion,
		InsecureSkipVerify:   true, // verified below, against the current pool
		VerifyConnection:     c.verifyPeer,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return c.nodeCert() },
	}
}

// ClientFor is a client config (CLI, tests) that presents user's client
// certificate (the current one at each handshake) and verifies the
// server against ca.crt as loaded now, and its host name.
func (c *Certs) ClientFor(user string) (*tls.Config, error) {
	if err := c.cur.Load().clientErrs[user]; err != nil {
		return nil, fmt.Errorf("the client certificate of %q is not usable: %w", user, err)
	}
	if _, ok := c.cur.Load().clients[user]; !ok {
		return nil, fmt.Errorf("no client certificate for user %q in %s (make one with cairn cert create-client %s --certs-dir %s)", user, c.dir, user, c.dir)
	}
	cfg := c.Client()
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert := c.cur.Load().clients[user]; cert != nil {
			return cert, nil
		}
		return nil, fmt.Errorf("the client certificate of %q is gone from %s", user, c.dir)
	}
	return cfg, nil
}

// Client is a client config that verifies the server against ca.crt as
// loaded now, and its host name, and presents no certificate (password
// logins).
func (c *Certs) Client() *tls.Config {
	return &tls.Config{MinVersion: c.opts.MinVersion, RootCAs: c.cur.Load().pool}
}

// verifyPeer checks a peer node's certificate against the current pool.
func (c *Certs) verifyPeer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.cur.Load().pool, Intermediates: inter, DNSName: cs.ServerName,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return err
	}
	if leaf.Subject.CommonName != NodeCN {
		return fmt.Errorf("the peer's certificate is not a node certificate (CN=%q, want %q)", leaf.Subject.CommonName, NodeCN)
	}
	return nil
}
