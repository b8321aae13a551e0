package pgwire

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cairndb/cairn/internal/pgerr"
)

// AuthMethod is how a connection proves who it is.
type AuthMethod uint8

// Authentication methods, as PostgreSQL's pg_hba.conf names them.
const (
	// AuthReject fails the login with the same error as a wrong password.
	AuthReject AuthMethod = iota
	// AuthTrust logs in without a proof.
	AuthTrust
	// AuthCert logs in when the client's certificate verified against the
	// CA and its common name is the user.
	AuthCert
	// AuthSCRAM runs the SASL exchange of AuthDecision.SASL.
	AuthSCRAM
)

// AuthRequest is what an Authenticator decides on.
type AuthRequest struct {
	User     string
	Database string
	// Addr is the client's address.
	Addr net.Addr
	// TLS is the connection's TLS state, nil on plaintext. A client
	// certificate that verified against the server's CA is in
	// VerifiedChains (the server's config verifies it if given).
	TLS *tls.ConnectionState
	// ChannelBinding is the tls-server-end-point data SCRAM-SHA-256-PLUS
	// binds to; nil on plaintext.
	ChannelBinding []byte
}

// AuthDecision is an Authenticator's answer.
type AuthDecision struct {
	Method AuthMethod
	// SASL is the exchange to run for AuthSCRAM. For a user that does
	// not exist or cannot log in it must be one that looks the same and
	// always fails.
	SASL SASLExchange
	// Reason names why a login fails, for LoginFailed (never shown to
	// the client): AuthReject's reason, or what a failed SCRAM proof means
	// ("wrong_password", or "unknown_role" for a fake exchange).
	Reason string
}

// SASLExchange is the server side of one SASL exchange (SCRAM-SHA-256,
// security.SCRAMServer). An error that is a *pgerr.Error is sent to the
// client as is (a malformed message); any other error means the proof
// was wrong and the client sees "password authentication failed".
type SASLExchange interface {
	// Mechanisms are offered in AuthenticationSASL, preferred first.
	Mechanisms() []string
	// ClientFirst takes the SASLInitialResponse and returns the data of
	// AuthenticationSASLContinue.
	ClientFirst(mechanism string, msg []byte) ([]byte, error)
	// ClientFinal takes the SASLResponse and returns the data of
	// AuthenticationSASLFinal.
	ClientFinal(msg []byte) ([]byte, error)
}

// Authenticator decides how each connection authenticates
// (Config.Auth). pgwire runs the method; the Authenticator only decides.
type Authenticator interface {
	Authenticate(req AuthRequest) AuthDecision
	// LoginFailed is told of every failed login (after the client was
	// sent its error): who it claimed to be, its IP and why (a short
	// snake_case reason, for a metric label and the audit log).
	LoginFailed(user, source, method, reason string)
}

// Reasons a login fails, passed to LoginFailed.
const (
	ReasonRateLimited  = "rate_limited"
	ReasonNoCert       = "no_certificate"
	ReasonCertMismatch = "certificate_user_mismatch"
	ReasonProtocol     = "protocol_violation"
	ReasonRejected     = "rejected"
	ReasonTimeout      = "timeout"
)

const (
	// authTimeout bounds the authentication exchange.
	authTimeout = 10 * time.Second
	// authMaxMessage bounds a client message during authentication.
	authMaxMessage = 4096
)

// String is the method's name as pg_hba.conf writes it.
func (m AuthMethod) String() string {
	switch m {
	case AuthTrust:
		return "trust"
	case AuthCert:
		return "cert"
	case AuthSCRAM:
		return "scram-sha-256"
	default:
		return "reject"
	}
}

// errAuthAbandoned: the client went away or went silent mid-exchange.
// psql does that on purpose (it closes when asked for a password it does
// not have, asks the user, and connects again), so it is not a failure.
var errAuthAbandoned = errors.New("pgwire: client left during authentication")

// authFailure is a failed login: what the client is sent and why.
type authFailure struct {
	err    *pgerr.Error
	reason string
}

func (f *authFailure) Error() string { return f.err.Message }

// authenticate runs the authentication phase for the startup user; false
// means the connection must close (the client was told why). With no
// Config.Auth everyone is let in.
func (c *conn) authenticate(user, database string) bool {
	a := c.s.cfg.Auth
	if a == nil {
		return true
	}
	src := sourceIP(c.raw.RemoteAddr())
	limited := c.s.cfg.AuthFailureExempt == nil || !c.s.cfg.AuthFailureExempt(c.raw.RemoteAddr())
	deadline := time.Now().Add(authTimeout)
	if !c.startupDeadline.IsZero() && c.startupDeadline.Before(deadline) {
		deadline = c.startupDeadline
	}
	// release ends the attempt the limiter reserved (authlimit.go); a
	// failure is counted before the client hears of it, so its next
	// attempt sees the count.
	release := func(bool) {}
	if limited {
		r, wait := c.s.authLimit.acquire(src, deadline, c.ctx.Done())
		if r == nil {
			a.LoginFailed(user, src, "", ReasonRateLimited)
			c.sendFatal(pgerr.AuthRateLimited.New(src, wait.Round(time.Second)))
			return false
		}
		released := false
		release = func(failed bool) {
			if !released {
				released = true
				r(failed)
			}
		}
		defer release(false)
	}
	c.raw.SetDeadline(deadline)
	c.be.SetMaxBodyLen(authMaxMessage)
	defer c.be.SetMaxBodyLen(c.s.cfg.MaxMessageSize)

	req := AuthRequest{User: user, Database: database, Addr: c.raw.RemoteAddr(), TLS: c.tlsState}
	if c.tlsState != nil {
		if cb, err := c.channelBinding(); err == nil {
			req.ChannelBinding = cb
		}
	}
	d := a.Authenticate(req)
	err := c.runAuth(user, d, c.tlsState)
	if err == nil {
		return true
	}
	var f *authFailure
	switch {
	case errors.As(err, &f):
		release(true)
		a.LoginFailed(user, src, d.Method.String(), f.reason)
		c.sendFatal(f.err)
	case isTimeout(err):
		// Counted like a wrong password: a client that holds exchanges
		// open until they time out must not do so without limit.
		release(true)
		a.LoginFailed(user, src, d.Method.String(), ReasonTimeout)
		c.raw.SetWriteDeadline(time.Now().Add(time.Second))
		c.sendFatal(pgerr.AuthTimeout.New())
	default:
		c.s.log.Debug("pgwire: authentication abandoned", "remote", c.raw.RemoteAddr(), "user", user, "err", err)
	}
	return false
}

// runAuth runs method d for user: nil when the client proved who it is.
func (c *conn) runAuth(user string, d AuthDecision, st *tls.ConnectionState) error {
	switch d.Method {
	case AuthTrust:
		return nil
	case AuthCert:
		if st == nil || len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
			return &authFailure{pgerr.CertAuthFailed.New(user, "Connect over TLS with a client certificate signed by the cluster's CA (client."+user+".crt), or with a password."), ReasonNoCert}
		}
		if cn := st.VerifiedChains[0][0].Subject.CommonName; cn != user {
			return &authFailure{pgerr.CertAuthFailed.New(user, fmt.Sprintf("The client certificate is for user %q: connect as that user, or use client.%s.crt.", cn, user)), ReasonCertMismatch}
		}
		return nil
	case AuthSCRAM:
		if d.SASL == nil {
			return &authFailure{pgerr.PasswordAuthFailed.New(user), ReasonRejected}
		}
		return c.runSASL(user, d)
	default:
		reason := d.Reason
		if reason == "" {
			reason = ReasonRejected
		}
		return &authFailure{pgerr.PasswordAuthFailed.New(user), reason}
	}
}

// runSASL runs the SASL exchange: AuthenticationSASL, SASLInitialResponse,
// AuthenticationSASLContinue, SASLResponse, AuthenticationSASLFinal.
// AuthenticationOk follows in startSession.
func (c *conn) runSASL(user string, d AuthDecision) error {
	x := d.SASL
	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: x.Mechanisms()})
	if err := c.flush(); err != nil {
		return errAuthAbandoned
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	init, err := c.receiveAuth()
	if err != nil {
		return err
	}
	im, ok := init.(*pgproto3.SASLInitialResponse)
	if !ok {
		return &authFailure{pgerr.AuthUnexpected.New(rune(msgType(init))), ReasonProtocol}
	}
	out, err := x.ClientFirst(im.AuthMechanism, im.Data)
	if err != nil {
		return c.saslFailure(user, d, err)
	}
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: out})
	if err := c.flush(); err != nil {
		return errAuthAbandoned
	}
	if err := c.be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	resp, err := c.receiveAuth()
	if err != nil {
		return err
	}
	rm, ok := resp.(*pgproto3.SASLResponse)
	if !ok {
		return &authFailure{pgerr.AuthUnexpected.New(rune(msgType(resp))), ReasonProtocol}
	}
	out, err = x.ClientFinal(rm.Data)
	if err != nil {
		return c.saslFailure(user, d, err)
	}
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: out})
	return nil
}

func (c *conn) saslFailure(user string, d AuthDecision, err error) error {
	var pe *pgerr.Error
	if errors.As(err, &pe) {
		return &authFailure{pe, ReasonProtocol}
	}
	reason := d.Reason
	if reason == "" {
		reason = "wrong_password"
	}
	return &authFailure{pgerr.PasswordAuthFailed.New(user), reason}
}

// receiveAuth reads one client message during authentication.
func (c *conn) receiveAuth() (pgproto3.FrontendMessage, error) {
	msg, err := c.be.Receive()
	if err == nil {
		if _, ok := msg.(*pgproto3.Terminate); ok {
			return nil, errAuthAbandoned
		}
		return msg, nil
	}
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	switch {
	case errors.As(err, &tooBig):
		return nil, &authFailure{pgerr.MessageTooLarge.New(tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen), ReasonProtocol}
	case isTimeout(err):
		return nil, err
	case isEOF(err) || c.ctx.Err() != nil:
		return nil, errAuthAbandoned
	default:
		return nil, &authFailure{pgerr.BadFrontendMessage.New(err), ReasonProtocol}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sourceIP is the IP of addr (the key of the failed-login limit): the
// port changes with every connection.
func sourceIP(addr net.Addr) string {
	if a, ok := addr.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	if addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}
