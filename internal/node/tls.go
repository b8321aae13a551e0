package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/security"
)

// ErrInsecureListen is wrapped when a node without certificates and
// without --insecure would listen on a non-loopback address, or is given
// both --certs-dir and --insecure.
var ErrInsecureListen = errors.New("insecure listen")

// ErrCerts is wrapped when --certs-dir cannot be loaded (a missing,
// bad or mismatched file): a configuration error.
var ErrCerts = errors.New("bad certs dir")

// insecureErr is an ErrInsecureListen whose message is only its text.
type insecureErr struct{ error }

func (insecureErr) Is(target error) bool { return target == ErrInsecureListen }

// certsErr is an ErrCerts whose message is only its text.
type certsErr struct{ error }

func (certsErr) Is(target error) bool { return target == ErrCerts }

// certPollInterval is how often the certs dir is checked for changed
// files (SIGHUP reloads at once).
const certPollInterval = 5 * time.Second

// CheckSecurity refuses a configuration that would expose an insecure
// node: --certs-dir with --insecure, or a non-loopback listen address
// with neither. Loopback with neither is the zero-config insecure node.
func CheckSecurity(cfg Config) error {
	if cfg.CertsDir != "" && cfg.Insecure {
		return insecureErr{errors.New("--certs-dir and --insecure contradict each other: give --certs-dir for a secure node, or --insecure (and no --certs-dir, nor CAIRN_CERTS_DIR) for an insecure one")}
	}
	if cfg.CertsDir == "" && cfg.TLSMinVersion != 0 {
		return insecureErr{errors.New("--tls-min-version needs --certs-dir: an insecure node speaks no TLS")}
	}
	if cfg.CertsDir != "" || cfg.Insecure {
		return nil
	}
	for _, a := range []struct{ flag, addr string }{{"pg-addr", cfg.PGAddr}, {"http-addr", cfg.HTTPAddr}, {"cluster-addr", cfg.ClusterAddr}} {
		if !isLoopbackAddr(a.addr) {
			return insecureErr{fmt.Errorf(`--%s %s is not a loopback address, and this node has no certificates: anyone who can reach it could read and change all data.
Make certificates and start with them:
  cairn cert create-ca --certs-dir DIR
  cairn cert create-node <this node's hosts...> --certs-dir DIR
  cairn cert create-client cairn --certs-dir DIR
  cairn start --certs-dir DIR ...
or, on a network you trust, pass --insecure (docs/security.md)`, a.flag, a.addr)}
		}
	}
	return nil
}

// isLoopbackAddr reports whether host:port listens on loopback only
// (127.0.0.0/8, ::1 or localhost); an empty host is every interface.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostsOf lists the hosts of the listen addresses, to check the node
// certificate covers them.
func hostsOf(addrs ...string) []string {
	var out []string
	for _, a := range addrs {
		if h, _, err := net.SplitHostPort(a); err == nil && h != "" {
			out = append(out, h)
		}
	}
	return out
}

// loadCerts loads --certs-dir (nothing when insecure) and keeps the
// metric cairn_cert_expiration_seconds and, once registered, this node's
// catalog record up to date on every reload.
func (n *Node) loadCerts() error {
	if n.cfg.CertsDir == "" {
		if n.cfg.Insecure {
			n.log.Warn("INSECURE: --insecure: no TLS on any port, nodes are not authenticated; use only on a network you trust (docs/security.md)")
		} else {
			n.log.Info("insecure: no --certs-dir, listening on loopback only (docs/security.md)")
		}
		return nil
	}
	certs, err := security.LoadCerts(n.cfg.CertsDir, security.LoadOptions{
		MinVersion: n.cfg.TLSMinVersion,
		Hosts:      append(hostsOf(n.cfg.PGAddr, n.cfg.HTTPAddr, n.cfg.ClusterAddr), n.cfg.AdvertiseHost),
		Logger:     n.log,
		OnLoad:     n.certsLoaded,
	})
	if err != nil {
		return certsErr{fmt.Errorf("--certs-dir %s: %w", n.cfg.CertsDir, err)}
	}
	n.certs = certs
	return nil
}

// certsLoaded updates the expiry metric and, after a reload of a
// registered node, its catalog record (SHOW NODES). It runs in the
// reloading goroutine (SIGHUP or the watcher); the proposal is bounded.
func (n *Node) certsLoaded(infos []security.CertInfo) {
	exp := make([]metrics.CertExpiry, 0, len(infos))
	for _, ci := range infos {
		name := ci.File
		if ci.Kind == security.KindCA {
			name = ci.Name + " " + ci.Serial // ca.crt may hold several CAs
		}
		exp = append(exp, metrics.CertExpiry{Kind: ci.Kind, Name: name, NotAfter: ci.NotAfter})
	}
	n.metrics.SetCertExpirations(exp)
	if !n.registered.Load() {
		return // the registration at start carries the report
	}
	sec, at := n.securityReport()
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	if _, err := n.proposeMeta(ctx, &catalog.SetNodeSecurity{Node: n.cfg.NodeID, Security: sec, CertExpiresAt: at}); err != nil {
		n.log.Warn("could not record the reloaded certificate's expiry in the catalog; SHOW NODES shows the old one until the next reload or restart", "err", err)
	}
}

// securityReport is this node's security mode and node certificate
// expiry (unix seconds, 0 when insecure) for the catalog.
func (n *Node) securityReport() (string, int64) {
	if n.certs == nil {
		return catalog.NodeInsecure, 0
	}
	return catalog.NodeSecure, n.certs.NodeNotAfter().Unix()
}

// ReloadCerts reloads the certs dir now (SIGHUP). A bad file keeps the
// certificates in use and is returned.
func (n *Node) ReloadCerts() error {
	if n.certs == nil {
		return errors.New("this node has no --certs-dir: nothing to reload")
	}
	return n.certs.Reload()
}

// watchCerts reloads on a change in the certs dir until the node stops.
func (n *Node) watchCerts() {
	if n.certs == nil {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.certs.Watch(n.ctx, certPollInterval)
	}()
}

// tlsConf returns f(certs), nil for an insecure node.
func (n *Node) tlsConf(f func(*security.Certs) *tls.Config) *tls.Config {
	if n.certs == nil {
		return nil
	}
	return f(n.certs)
}
