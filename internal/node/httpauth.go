package node

import (
	"context"
	"net"
	"os"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/security"
)

// The HTTP API's authentication and authorization (httpapi/auth.go) read
// the catalog's roles and privileges through these methods of httpBackend.

// LoginRole implements httpapi.Backend with the catalog's role.
func (h httpBackend) LoginRole(name string) (httpapi.LoginRole, bool) {
	r := h.n.meta.Catalog().Role(name)
	if r == nil {
		return httpapi.LoginRole{}, false
	}
	return httpapi.LoginRole{Login: r.Login, Verifier: r.Verifier, ValidUntil: r.ValidUntil}, true
}

// dummyVerifier is checked when there is no verifier to check, so that a
// failure takes as long either way.
var dummyVerifier = func() *security.Verifier {
	v, err := security.NewVerifier("no such user, no password")
	if err != nil {
		panic(err) // a constant password and parameters
	}
	return v
}()

// PasswordMatches implements httpapi.Backend with the SCRAM verifier.
func (h httpBackend) PasswordMatches(verifier, password string) bool {
	if verifier == "" {
		dummyVerifier.CheckPassword(password)
		return false
	}
	v, err := security.ParseVerifier(verifier)
	if err != nil {
		dummyVerifier.CheckPassword(password)
		return false
	}
	return v.CheckPassword(password)
}

// Authorize implements httpapi.Backend with security.Authorize over the
// current catalog; httpapi's privilege names are SQL's, as security's are.
func (h httpBackend) Authorize(user string, priv httpapi.Privilege, obj httpapi.Object) error {
	return security.Authorize(h.n.meta.Catalog(), user, security.Privilege(priv), security.Object{Kind: obj.Kind, Name: obj.Name})
}

// Audit implements httpapi.Backend: the node's audit log (audit.go).
// ev.What is the method and path, never a body, so it holds no secret.
func (h httpBackend) Audit(ctx context.Context, ev httpapi.AuditEvent) {
	h.n.Audit(ctx, catalog.AuditEvent{At: ev.At, User: ev.User, Source: ev.Source, Kind: ev.Kind, What: ev.What, Outcome: ev.Outcome})
}

// httpHosts lists the names a Host header may carry for this node: the
// host of --http-addr (every interface address and the machine's name when
// it listens on all of them) and --http-host. Loopback names are added by
// httpapi; a secure node's certificate names by certHosts.
func (n *Node) httpHosts() []string {
	hosts := append([]string(nil), n.cfg.HTTPHosts...)
	if n.cfg.AdvertiseHost != "" {
		hosts = append(hosts, n.cfg.AdvertiseHost)
	}
	host := hostOnly(n.httpLn.Addr().String())
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsUnspecified() {
		return append(hosts, host)
	}
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			hosts = append(hosts, ipn.IP.String())
		}
	}
	return hosts
}

// certHosts returns the DNS names and addresses of the node certificate
// now loaded (nil when insecure): clients that verify it call the node by
// one of them.
func (n *Node) certHosts() []string {
	if n.certs == nil {
		return nil
	}
	var out []string
	for _, ci := range n.certs.Infos() {
		if ci.Kind == security.KindNode {
			out = append(out, ci.Hosts...)
		}
	}
	return out
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
