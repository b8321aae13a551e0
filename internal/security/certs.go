package security

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The files of a certs dir, under CockroachDB's names.
const (
	CACertFile   = "ca.crt"
	CAKeyFile    = "ca.key"
	NodeCertFile = "node.crt"
	NodeKeyFile  = "node.key"
)

// ClientCertFile is the file name of user's client certificate.
func ClientCertFile(user string) string { return "client." + user + ".crt" }

// ClientKeyFile is the file name of user's client key.
func ClientKeyFile(user string) string { return "client." + user + ".key" }

// Default lifetimes: the CA outlives every certificate it signs.
const (
	DefaultCALifetime   = 10 * 365 * 24 * time.Hour
	DefaultCertLifetime = 5 * 365 * 24 * time.Hour
)

// NodeCN is the common name of every node certificate (as in CockroachDB):
// a peer presenting a certificate of the cluster CA with CN=node is a node.
const NodeCN = "node"

// Kinds of certificate, the kind column of ListCerts and the kind label of
// cairn_cert_expiration_seconds.
const (
	KindCA     = "ca"
	KindNode   = "node"
	KindClient = "client"
)

// ErrCertExists is wrapped when a create would replace a file and
// CreateOptions.Overwrite is off.
var ErrCertExists = errors.New("file exists")

// ErrNoCA is wrapped when a node or client certificate is asked for before
// there is a CA to sign it.
var ErrNoCA = errors.New("no CA")

// ErrBadInput is wrapped when a host, user name or lifetime given to a
// create is not usable.
var ErrBadInput = errors.New("bad input")

// kindErr is an error that Is its kind without the kind's text in its
// message.
type kindErr struct {
	error
	kind error
}

func (e kindErr) Is(target error) bool { return target == e.kind }

func badInputf(format string, args ...any) error {
	return kindErr{fmt.Errorf(format, args...), ErrBadInput}
}

// CreateOptions are the options of CreateCA, CreateNode and CreateClient.
type CreateOptions struct {
	// Lifetime of the new certificate (0: DefaultCALifetime for a CA,
	// DefaultCertLifetime otherwise). A certificate may not outlive its CA.
	Lifetime time.Duration
	// Overwrite replaces existing files; without it a create that would
	// replace one fails with ErrCertExists.
	Overwrite bool
	// CAKey is the CA key's path when it is kept out of the certs dir
	// ("" = <dir>/ca.key).
	CAKey string
	// Now is the clock (nil: time.Now); tests make expired certificates.
	Now func() time.Time
}

func (o CreateOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o CreateOptions) caKeyPath(dir string) string {
	if o.CAKey != "" {
		return o.CAKey
	}
	return filepath.Join(dir, CAKeyFile)
}

// ValidUserName reports why user cannot be a SQL role name with a client
// certificate (nil if it can): like an unquoted SQL identifier, lower-case
// letters, digits, _ and $, starting with a letter or _, at most 63 bytes.
// The name also becomes part of a file name, so nothing else is allowed.
func ValidUserName(user string) error {
	if user == "" {
		return errors.New("the user name is empty")
	}
	if len(user) > 63 {
		return fmt.Errorf("user name %q is longer than 63 bytes", user)
	}
	for i, r := range user {
		switch {
		case r >= 'a' && r <= 'z', r == '_':
		case (r >= '0' && r <= '9') || r == '$':
			if i == 0 {
				return fmt.Errorf("user name %q must start with a lower-case letter or _", user)
			}
		default:
			return fmt.Errorf("user name %q may hold only lower-case letters, digits, _ and $ (as an unquoted SQL role name)", user)
		}
	}
	if user == "public" {
		return errors.New(`"public" is a pseudo-role that cannot log in`)
	}
	return nil
}

// CreateCA makes a new CA (ECDSA P-256) and writes ca.crt and its key.
func CreateCA(dir string, opts CreateOptions) error {
	if err := checkFree(opts.Overwrite, filepath.Join(dir, CACertFile), opts.caKeyPath(dir)); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := opts.now()
	life := opts.Lifetime
	if life == 0 {
		life = DefaultCALifetime
	}
	tmpl, err := template(now, life)
	if err != nil {
		return err
	}
	tmpl.Subject = pkix.Name{Organization: []string{"Cairn"}, CommonName: "Cairn CA"}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return writePair(filepath.Join(dir, CACertFile), opts.caKeyPath(dir), der, key)
}

// CreateNode makes node.crt/node.key for hosts (DNS names or IP
// addresses, the SANs), signed by the CA, for server and client use.
func CreateNode(dir string, hosts []string, opts CreateOptions) error {
	if len(hosts) == 0 {
		return badInputf("a node certificate needs at least one host (a DNS name or IP address that clients and other nodes use to reach it)")
	}
	tmpl := &x509.Certificate{}
	for _, h := range hosts {
		if h == "" || strings.ContainsAny(h, " /:") && net.ParseIP(h) == nil {
			return badInputf("host %q is not a DNS name or IP address (give hosts without ports)", h)
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	tmpl.Subject = pkix.Name{Organization: []string{"Cairn"}, CommonName: NodeCN}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	return createSigned(dir, NodeCertFile, NodeKeyFile, tmpl, opts)
}

// CreateClient makes client.<user>.crt/key (CN=user, client use only),
// signed by the CA.
func CreateClient(dir, user string, opts CreateOptions) error {
	if err := ValidUserName(user); err != nil {
		return badInputf("%v", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"Cairn"}, CommonName: user},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return createSigned(dir, ClientCertFile(user), ClientKeyFile(user), tmpl, opts)
}

// createSigned fills tmpl's serial, validity and key usage, signs it with
// the CA and writes it with a new key.
func createSigned(dir, certFile, keyFile string, tmpl *x509.Certificate, opts CreateOptions) error {
	certPath, keyPath := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	if err := checkFree(opts.Overwrite, certPath, keyPath); err != nil {
		return err
	}
	ca, caKey, err := loadCA(dir, opts.caKeyPath(dir))
	if err != nil {
		return err
	}
	now := opts.now()
	life := opts.Lifetime
	if life == 0 {
		life = DefaultCertLifetime
	}
	base, err := template(now, life)
	if err != nil {
		return err
	}
	if base.NotAfter.After(ca.NotAfter) {
		if opts.Lifetime != 0 {
			return badInputf("a lifetime of %s would outlive the CA, which expires %s: choose a shorter --lifetime or make a new CA", opts.Lifetime, ca.NotAfter.UTC().Format(time.RFC3339))
		}
		// The default lifetime stops with the CA.
		base.NotAfter = ca.NotAfter
	}
	if !base.NotAfter.After(now) {
		return fmt.Errorf("the CA in %s expired %s: make a new CA (cairn cert create-ca --overwrite)", filepath.Join(dir, CACertFile), ca.NotAfter.UTC().Format(time.RFC3339))
	}
	tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = base.SerialNumber, base.NotBefore, base.NotAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	return writePair(certPath, keyPath, der, key)
}

// template is a certificate with a random serial valid from an hour ago
// (clocks differ) for life.
func template(now time.Time, life time.Duration) (*x509.Certificate, error) {
	if life < 0 {
		return nil, badInputf("lifetime %s is negative", life)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{SerialNumber: serial, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(life)}, nil
}

// loadCA reads ca.crt and the CA key; the signing certificate is the one
// in ca.crt (which may hold old CAs too, during a rotation) whose public
// key is the key's.
func loadCA(dir, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	certPath := filepath.Join(dir, CACertFile)
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, kindErr{fmt.Errorf("%s does not exist: make a CA first with cairn cert create-ca --certs-dir %s", certPath, dir), ErrNoCA}
	}
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, kindErr{fmt.Errorf("the CA key %s does not exist: make a CA first with cairn cert create-ca --certs-dir %s (or give --ca-key where the key is kept)", keyPath, dir), ErrNoCA}
	}
	if err != nil {
		return nil, nil, err
	}
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", certPath, err)
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", keyPath, err)
	}
	for _, c := range certs {
		if c.IsCA && publicKeyEqual(c.PublicKey, key.Public()) {
			return c, key, nil
		}
	}
	return nil, nil, fmt.Errorf("no CA certificate in %s matches the key %s", certPath, keyPath)
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// checkFree fails if any of paths exists and overwrite is off.
func checkFree(overwrite bool, paths ...string) error {
	if overwrite {
		return nil
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return kindErr{fmt.Errorf("%s exists; pass --overwrite to replace it", p), ErrCertExists}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// writePair writes the certificate (0644) and key (0600), each by a
// rename so a reader (a node reloading) never sees half a file; the key
// first, so a new certificate never pairs with an old key for long.
func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ParseCertsPEM parses every CERTIFICATE block of data; anything else
// (other blocks, text between them) is an error, as is no certificate.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q where certificates were expected", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("data that is not PEM after the certificates")
	}
	return out, nil
}

// ParseKeyPEM parses one private key (PKCS#8, SEC 1 EC or PKCS#1 RSA) that
// can sign.
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM private key found")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("more than one PEM block where one private key was expected")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q where a private key was expected", b.Type)
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

// CertInfo describes one certificate of a certs dir.
type CertInfo struct {
	File      string    // base name, e.g. client.cairn.crt
	Kind      string    // KindCA, KindNode or KindClient
	Name      string    // the subject's common name (for a client: the user)
	Hosts     []string  // DNS and IP SANs
	NotBefore time.Time // zero when Err is set
	NotAfter  time.Time
	Serial    string // hex
	// ChainsToCA: the certificate verifies against ca.crt (a CA: it is in
	// ca.crt). False with no or a bad ca.crt.
	ChainsToCA bool
	Err        string // why the file could not be read, or ""
}

// ListCerts describes every certificate in dir: ca.crt (each CA in it),
// node.crt and client.*.crt, in that order.
func ListCerts(dir string) ([]CertInfo, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range ents {
		n := e.Name()
		if n == CACertFile || n == NodeCertFile || strings.HasPrefix(n, "client.") && strings.HasSuffix(n, ".crt") {
			files = append(files, n)
		}
	}
	rank := func(n string) int {
		switch n {
		case CACertFile:
			return 0
		case NodeCertFile:
			return 1
		}
		return 2
	}
	sort.SliceStable(files, func(i, j int) bool {
		if rank(files[i]) != rank(files[j]) {
			return rank(files[i]) < rank(files[j])
		}
		return files[i] < files[j]
	})
	pool := x509.NewCertPool()
	var cas []*x509.Certificate
	if data, err := os.ReadFile(filepath.Join(dir, CACertFile)); err == nil {
		if cs, err := ParseCertsPEM(data); err == nil {
			cas = cs
			for _, c := range cs {
				pool.AddCert(c)
			}
		}
	}
	var out []CertInfo
	for _, f := range files {
		kind := KindClient
		switch f {
		case CACertFile:
			kind = KindCA
		case NodeCertFile:
			kind = KindNode
		}
		data, err := os.ReadFile(filepath.Join(dir, f))
		var certs []*x509.Certificate
		if err == nil {
			certs, err = ParseCertsPEM(data)
		}
		if err != nil {
			out = append(out, CertInfo{File: f, Kind: kind, Err: err.Error()})
			continue
		}
		if kind != KindCA {
			certs = certs[:1] // the leaf; intermediates are not listed
		}
		for _, c := range certs {
			ci := CertInfo{File: f, Kind: kind, Name: c.Subject.CommonName, Hosts: certHosts(c),
				NotBefore: c.NotBefore, NotAfter: c.NotAfter, Serial: c.SerialNumber.Text(16)}
			if kind == KindCA {
				ci.ChainsToCA = cas != nil
			} else {
				// Signed by the CA is asked apart from expiry (shown
				// by itself): check at a moment the certificate is valid.
				at := time.Now()
				if at.After(c.NotAfter) {
					at = c.NotAfter.Add(-time.Second)
				} else if at.Before(c.NotBefore) {
					at = c.NotBefore.Add(time.Second)
				}
				_, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: at,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
				ci.ChainsToCA = err == nil
			}
			out = append(out, ci)
		}
	}
	return out, nil
}

// certHosts lists a certificate's DNS and IP SANs.
func certHosts(c *x509.Certificate) []string {
	out := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// DefaultCertsDir is where `cairn cert`, `cairn start --certs-dir` and
// the CLI look when not told: $CAIRN_CERTS_DIR, else ~/.cairn-certs.
func DefaultCertsDir() string {
	if d := os.Getenv("CAIRN_CERTS_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".cairn-certs"
	}
	return filepath.Join(home, ".cairn-certs")
}
