package cli

import (
	"crypto/tls"
	"fmt"

	"github.com/cairndb/cairn/internal/security"
)

// defaultUser is the user the commands authenticate as without --user.
const defaultUser = "cairn"

// clientTLS is the TLS config of a client of a secure node, from a certs
// dir as `cairn cert` writes it: it trusts the cluster CA (ca.crt) only,
// checks the node's host name, and presents user's client certificate
// (client.<user>.crt/key).
func clientTLS(certsDir, user string) (*tls.Config, error) {
	certs, err := security.LoadCerts(certsDir, security.LoadOptions{ClientOnly: true})
	if err != nil {
		return nil, fmt.Errorf("--certs-dir %s: %w", certsDir, err)
	}
	cfg, err := certs.ClientFor(user)
	if err != nil {
		return nil, fmt.Errorf("%w\nHINT: choose the user with --user", err)
	}
	return cfg, nil
}
