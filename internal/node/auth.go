package node

import (
	"crypto/sha256"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/security"
)

// nodeAuth is the node as pgwire's Authenticator: it picks each SQL
// connection's method from the catalog's roles and the connection.
//
//   - A client certificate that verified against the cluster CA: cert
//     (pgwire checks that its CN is the user).
//   - An insecure node and a loopback client: trust.
//   - Otherwise SCRAM-SHA-256 with the role's verifier; a role that does
//     not exist, cannot log in, has no password or whose password
//     expired gets a fake exchange that fails like a wrong password.
//
// Whatever the method, the user must be a LOGIN role; the client is
// never told which check failed.
type nodeAuth struct {
	catalog func() *catalog.Catalog
	log     *slog.Logger
	// insecure: the node has no certificates (no --certs-dir).
	insecure bool
	// fakeSecret keys the fake SCRAM salts; every node of a cluster
	// derives the same one, so a user that does not exist has one salt
	// cluster-wide, as a real user does.
	fakeSecret []byte
	failures   *prometheus.CounterVec
	now        func() time.Time
	// audit, if set, records a failed login in the audit log.
	audit func(user, source, method, reason string)
}

// newNodeAuth makes the authenticator of a node of cluster clusterID (an
// id clients never see) that reads roles from cat; failures are counted
// in reg when it is not nil.
func newNodeAuth(cat func() *catalog.Catalog, clusterID string, insecure bool, reg prometheus.Registerer, log *slog.Logger) *nodeAuth {
	secret := sha256.Sum256([]byte("cairn scram fake salts\x00" + clusterID))
	a := &nodeAuth{catalog: cat, log: log, insecure: insecure, fakeSecret: secret[:], now: time.Now,
		failures: prometheus.NewCounterVec(metrics.DefAuthFailures.CounterOpts(), metrics.DefAuthFailures.Labels),
	}
	if reg != nil {
		reg.MustRegister(a.failures)
	}
	return a
}

// Authenticate implements pgwire.Authenticator.
func (a *nodeAuth) Authenticate(req pgwire.AuthRequest) pgwire.AuthDecision {
	role := a.catalog().Role(req.User)
	loginReason := ""
	switch {
	case role == nil:
		loginReason = "unknown_role"
	case !role.Login:
		loginReason = "not_login"
	}
	if req.TLS != nil && len(req.TLS.VerifiedChains) > 0 && len(req.TLS.VerifiedChains[0]) > 0 {
		// A certificate for another user fails in pgwire with 28000
		// whether or not the user exists, so that check comes first.
		if req.TLS.VerifiedChains[0][0].Subject.CommonName == req.User && loginReason != "" {
			return pgwire.AuthDecision{Method: pgwire.AuthReject, Reason: loginReason}
		}
		return pgwire.AuthDecision{Method: pgwire.AuthCert}
	}
	if a.insecure && isLoopback(req.Addr) {
		if loginReason != "" {
			return pgwire.AuthDecision{Method: pgwire.AuthReject, Reason: loginReason}
		}
		return pgwire.AuthDecision{Method: pgwire.AuthTrust}
	}
	v, reason := a.verifier(role, loginReason)
	return pgwire.AuthDecision{
		Method: pgwire.AuthSCRAM,
		SASL:   security.NewSCRAMServer(req.User, v, a.fakeSecret, req.ChannelBinding),
		Reason: reason,
	}
}

// verifier returns role's SCRAM verifier, or nil and why there is none
// to check a password against (the exchange is then a fake).
func (a *nodeAuth) verifier(role *catalog.Role, loginReason string) (*security.Verifier, string) {
	switch {
	case loginReason != "":
		return nil, loginReason
	case role.Verifier == "":
		return nil, "no_password"
	case !role.ValidUntil.IsZero() && a.now().After(role.ValidUntil):
		return nil, "password_expired"
	}
	v, err := security.ParseVerifier(role.Verifier)
	if err != nil {
		a.log.Error("authn: the stored verifier of a role is malformed; it cannot log in with a password", "role", role.Name)
		return nil, "bad_verifier"
	}
	return v, "wrong_password"
}

// LoginFailed implements pgwire.Authenticator: it counts the failure,
// logs it and records it in the audit log. A connection the rate limit
// refused is counted only (and logged at debug level): no credential was
// checked, and a client may open any number of them, which would flood
// the bounded audit log and push the failed logins that led to the limit
// (and every other event) out of it.
func (a *nodeAuth) LoginFailed(user, source, method, reason string) {
	a.failures.WithLabelValues(method, reason).Inc()
	if reason == pgwire.ReasonRateLimited {
		a.log.Debug("authn: login refused by the rate limit", "user", user, "source", source)
		return
	}
	a.log.Info("authn: login failed", "user", user, "source", source, "method", method, "reason", reason)
	if a.audit != nil {
		a.audit(user, source, method, reason)
	}
}

// exemptFromLimit says which clients the failed-login limit leaves
// alone: loopback clients of an insecure node, who are trusted anyway
// (their failures are logins as roles that cannot log in).
func (a *nodeAuth) exemptFromLimit(addr net.Addr) bool {
	return a.insecure && isLoopback(addr)
}

// isLoopback reports whether addr is a loopback address (127.0.0.0/8,
// ::1).
func isLoopback(addr net.Addr) bool {
	if t, ok := addr.(*net.TCPAddr); ok {
		return t.IP.IsLoopback()
	}
	return false
}
