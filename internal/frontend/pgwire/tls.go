package pgwire

import (
	"bytes"
	"context"
	"crypto"
	_ "crypto/sha256" // the hashes TLSServerEndPoint uses
	_ "crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cairndb/cairn/internal/pgerr"
)

// maxStartupLength bounds a startup-phase message (PostgreSQL's
// MAX_STARTUP_PACKET_LENGTH): before authentication a client gets no
// more than this.
const maxStartupLength = 10000

// alpnPostgres is the ALPN protocol PostgreSQL 17 clients send; a direct
// TLS connection (sslnegotiation=direct) must negotiate it.
const alpnPostgres = "postgresql"

// tlsRecordHandshake is the first byte of a TLS ClientHello: a client
// that starts with it skipped the SSLRequest (sslnegotiation=direct).
const tlsRecordHandshake = 0x16

// readStartupMessage reads one startup-phase message straight from the
// socket, byte-exact: nothing past the message is buffered, so bytes a
// client (or an attacker in the middle) sent after an SSLRequest cannot
// be read as if they came over the encrypted channel (CVE-2021-23214).
// first, if not zero, is a byte already read from the socket.
func readStartupMessage(r io.Reader, first []byte) (pgproto3.FrontendMessage, error) {
	var hdr [4]byte
	n := copy(hdr[:], first)
	if _, err := io.ReadFull(r, hdr[n:]); err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint32(hdr[:]))
	if size < 8 || size > maxStartupLength {
		return nil, pgerr.BadStartupLength.New(size)
	}
	buf := make([]byte, size)
	copy(buf, hdr[:])
	if _, err := io.ReadFull(r, buf[4:]); err != nil {
		return nil, err
	}
	return pgproto3.NewBackend(bytes.NewReader(buf), io.Discard).ReceiveStartupMessage()
}

// prefixConn is a net.Conn whose first reads return bytes already read.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// handshakeTLS runs the server side of a TLS handshake on nc (bounded by
// the startup deadline already set on the socket) and makes it the
// connection's transport. direct means the client skipped SSLRequest;
// it must then have negotiated ALPN "postgresql".
func (c *conn) handshakeTLS(nc net.Conn, direct bool) error {
	ctx, cancel := context.WithDeadline(c.ctx, c.startupDeadline)
	defer cancel()
	tc := tls.Server(nc, &tls.Config{GetConfigForClient: c.handshakeConfig})
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	st := tc.ConnectionState()
	if direct && st.NegotiatedProtocol != alpnPostgres {
		return pgerr.DirectTLSRefused.New()
	}
	c.nc = tc
	c.tlsState = &st
	return nil
}

// handshakeConfig is the connection's TLS config: the server's (or what
// its GetConfigForClient returns, so certificates reloaded by callbacks
// stay current), with ALPN "postgresql", and with certificate selection
// wrapped so the connection learns which certificate it presented (for
// channel binding: ConnectionState names only the peer's).
func (c *conn) handshakeConfig(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	base := c.s.cfg.TLS
	if base.GetConfigForClient != nil {
		cfg, err := base.GetConfigForClient(hello)
		if err != nil {
			return nil, err
		}
		if cfg != nil {
			base = cfg
		}
	}
	cfg := base.Clone()
	cfg.GetConfigForClient = nil
	cfg.NextProtos = []string{alpnPostgres}
	getCert, certs := cfg.GetCertificate, cfg.Certificates
	cfg.Certificates = nil
	cfg.GetCertificate = func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		cert, err := pickCertificate(h, getCert, certs)
		if err == nil && cert != nil && len(cert.Certificate) > 0 {
			c.serverCertDER = cert.Certificate[0]
		}
		return cert, err
	}
	return cfg, nil
}

// pickCertificate chooses the server certificate as crypto/tls would.
func pickCertificate(h *tls.ClientHelloInfo, get func(*tls.ClientHelloInfo) (*tls.Certificate, error), certs []tls.Certificate) (*tls.Certificate, error) {
	if get != nil {
		cert, err := get(h)
		if cert != nil || err != nil {
			return cert, err
		}
	}
	switch len(certs) {
	case 0:
		return nil, errors.New("pgwire: TLS is configured without a certificate")
	case 1:
		return &certs[0], nil
	}
	for i := range certs {
		if h.SupportsCertificate(&certs[i]) == nil {
			return &certs[i], nil
		}
	}
	return &certs[0], nil
}

// channelBinding returns the tls-server-end-point channel binding data
// of the connection (RFC 5929 §4.1), which SCRAM-SHA-256-PLUS binds to;
// an error when the connection is not TLS.
func (c *conn) channelBinding() ([]byte, error) {
	if c.tlsState == nil || c.serverCertDER == nil {
		return nil, errors.New("pgwire: channel binding needs a TLS connection")
	}
	cert, err := x509.ParseCertificate(c.serverCertDER)
	if err != nil {
		return nil, err
	}
	return TLSServerEndPoint(cert)
}

// TLSServerEndPoint is the tls-server-end-point channel binding data of a
// server certificate (RFC 5929 §4.1): its hash with the hash function of
// its signature algorithm, SHA-256 in place of MD5 and SHA-1.
func TLSServerEndPoint(cert *x509.Certificate) ([]byte, error) {
	var h crypto.Hash
	switch cert.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1,
		x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.ECDSAWithSHA256, x509.DSAWithSHA256:
		h = crypto.SHA256
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		h = crypto.SHA384
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("pgwire: no tls-server-end-point hash for certificate signature algorithm %v", cert.SignatureAlgorithm)
	}
	d := h.New()
	d.Write(cert.Raw)
	return d.Sum(nil), nil
}
