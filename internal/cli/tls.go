package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// defaultUser is the user the commands authenticate as without --user.
const defaultUser = "cairn"

// clientTLS is the TLS config of a client of a secure node: it trusts the
// cluster CA (certsDir/ca.crt) only and presents user's client
// certificate (client.<user>.crt/key, as `cairn cert create-client`
// writes them).
func clientTLS(certsDir, user string) (*tls.Config, error) {
	caFile := filepath.Join(certsDir, "ca.crt")
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--certs-dir %s: %v\nHINT: the directory must hold the cluster's ca.crt (cairn cert create-ca --certs-dir %s makes one)", certsDir, err, certsDir)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--certs-dir %s: %s holds no PEM certificate", certsDir, caFile)
	}
	crt := filepath.Join(certsDir, "client."+user+".crt")
	key := filepath.Join(certsDir, "client."+user+".key")
	pair, err := tls.LoadX509KeyPair(crt, key)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--certs-dir %s has no client certificate for user %q (%s)\nHINT: make one with cairn cert create-client %s --certs-dir %s, or choose the user with --user", certsDir, user, crt, user, certsDir)
	}
	if err != nil {
		return nil, fmt.Errorf("--certs-dir %s: client certificate of %q: %v", certsDir, user, err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}
