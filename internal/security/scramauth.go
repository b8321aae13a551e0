package security

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// The SASL mechanisms of SCRAM-SHA-256 (RFC 7677), as PostgreSQL names
// them; the -PLUS variant binds the exchange to the TLS channel with
// tls-server-end-point (RFC 5929).
const (
	SCRAMSHA256     = "SCRAM-SHA-256"
	SCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
)

// ErrSCRAMAuthFailed is returned when the client's proof does not match,
// or the user has no verifier (the fake exchange always ends so); the
// client sees 28P01 either way. A message that does not follow RFC 5802
// is a *pgerr.Error instead (08P01, pgerr.SCRAMMalformed), as is a wrong
// channel binding (pgerr.SCRAMBinding: a client that believes the server
// cannot bind, "y", while it can is a downgrade attack).
var ErrSCRAMAuthFailed = errors.New("SCRAM authentication failed")

// Bounds on a SCRAM exchange: every field is checked against them before
// it is decoded, so a hostile client cannot make the server allocate or
// hash much.
const (
	scramMaxMessage = 1024 // one client message
	scramMaxNonce   = 256  // the client's nonce
	scramNonceBytes = 18   // random bytes in the server's nonce (24 base64 characters)
	scramFakeSalt   = 16   // bytes of a fake salt
)

func malformed(format string, args ...any) error {
	return pgerr.SCRAMMalformed.New(fmt.Sprintf(format, args...))
}

func badBinding(format string, args ...any) error {
	return pgerr.SCRAMBinding.New("SCRAM channel binding check failed: " + fmt.Sprintf(format, args...))
}

// SCRAMServer is the server side of one SCRAM-SHA-256 exchange:
// ClientFirst, then ClientFinal. It is used once and is not safe for
// concurrent use.
type SCRAMServer struct {
	v    *Verifier // the user's verifier, or a fake one that always fails
	fake bool
	// cbind is the tls-server-end-point data of the connection; nil on a
	// plaintext connection (then -PLUS is not offered and "y" is fine).
	cbind []byte

	step            int    // 0: want client-first, 1: want client-final, 2: done
	plus            bool   // the client chose SCRAM-SHA-256-PLUS
	gs2Header       string // as the client sent it ("n,,", "y,,", "p=tls-server-end-point,,")
	clientFirstBare string
	serverFirst     string
	nonce           string // client nonce + server nonce
	testNonce       string // tests only: the server's nonce instead of a random one
}

// NewSCRAMServer starts an exchange for user. v is the user's verifier;
// nil means the user does not exist, cannot log in or has no password:
// the exchange then runs against a fake verifier whose salt is derived
// from user and fakeSecret (a per-node secret), so its messages and timing
// look like a real user's and do not reveal whether the user exists, and
// ClientFinal fails with ErrSCRAMAuthFailed. cbind is the connection's
// tls-server-end-point channel-binding data (RFC 5929), nil on
// plaintext.
func NewSCRAMServer(user string, v *Verifier, fakeSecret []byte, cbind []byte) *SCRAMServer {
	s := &SCRAMServer{v: v, cbind: cbind}
	if v == nil {
		s.fake = true
		m := hmac.New(sha256.New, fakeSecret)
		m.Write([]byte("cairn scram fake salt\x00"))
		m.Write([]byte(user))
		sum := m.Sum(nil)
		// StoredKey and ServerKey of a fake verifier are random: no
		// password matches them.
		stored, server := make([]byte, sha256.Size), make([]byte, sha256.Size)
		rand.Read(stored)
		rand.Read(server)
		s.v = &Verifier{Iterations: SCRAMIterations, Salt: sum[:scramFakeSalt], StoredKey: stored, ServerKey: server}
	}
	return s
}

// Mechanisms are the SASL mechanisms to offer in AuthenticationSASL: the
// -PLUS variant first when the connection can bind to TLS.
func (s *SCRAMServer) Mechanisms() []string {
	if s.cbind != nil {
		return []string{SCRAMSHA256Plus, SCRAMSHA256}
	}
	return []string{SCRAMSHA256}
}

// ClientFirst takes the mechanism and client-first-message of the
// SASLInitialResponse and returns the server-first-message.
func (s *SCRAMServer) ClientFirst(mechanism string, msg []byte) ([]byte, error) {
	if s.step != 0 {
		return nil, malformed("unexpected client-first-message")
	}
	s.step = 2 // any error ends the exchange
	switch mechanism {
	case SCRAMSHA256:
	case SCRAMSHA256Plus:
		if s.cbind == nil {
			return nil, malformed("SCRAM-SHA-256-PLUS needs a TLS connection")
		}
		s.plus = true
	default:
		return nil, malformed("unsupported SASL mechanism %q", mechanism)
	}
	if len(msg) > scramMaxMessage {
		return nil, malformed("client-first-message longer than %d bytes", scramMaxMessage)
	}
	m := string(msg)
	// gs2-header: cbind-flag "," [authzid] ","
	var flag string
	switch {
	case strings.HasPrefix(m, "n,"), strings.HasPrefix(m, "y,"):
		flag, m = m[:1], m[2:]
	case strings.HasPrefix(m, "p="):
		name, rest, ok := strings.Cut(m[2:], ",")
		if !ok {
			return nil, malformed("unterminated channel-binding flag")
		}
		if name != "tls-server-end-point" {
			return nil, badBinding("unsupported channel-binding type %q", name)
		}
		flag, m = "p="+name, rest
	default:
		return nil, malformed("client-first-message must start with a channel-binding flag n, y or p=")
	}
	switch {
	case flag == "n" && s.plus, flag == "y" && s.plus:
		return nil, badBinding("the client chose SCRAM-SHA-256-PLUS without channel binding")
	case flag == "y" && s.cbind != nil:
		// The client can bind but thinks the server cannot: someone
		// removed -PLUS from the mechanisms on the way.
		return nil, badBinding("the client believes the server does not support channel binding")
	case strings.HasPrefix(flag, "p=") && !s.plus:
		return nil, badBinding("channel binding requested with SCRAM-SHA-256")
	}
	authzid, bare, ok := strings.Cut(m, ",")
	if !ok {
		return nil, malformed("unterminated gs2-header")
	}
	if authzid != "" {
		return nil, malformed("authorization identities are not supported")
	}
	s.gs2Header = flag + ",,"
	s.clientFirstBare = bare
	// client-first-message-bare: [reserved-mext ","] username "," nonce ["," extensions]
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 {
		return nil, malformed("client-first-message-bare needs a username and a nonce")
	}
	if strings.HasPrefix(attrs[0], "m=") {
		return nil, malformed("mandatory extensions are not supported")
	}
	if !strings.HasPrefix(attrs[0], "n=") {
		return nil, malformed("expected the username attribute n=")
	}
	// The username is ignored, as in PostgreSQL: the startup message
	// names the user. It must still be well formed.
	if err := checkSaslname(attrs[0][2:]); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(attrs[1], "r=") {
		return nil, malformed("expected the nonce attribute r=")
	}
	cnonce := attrs[1][2:]
	if err := checkNonce(cnonce); err != nil {
		return nil, err
	}
	if len(attrs) > 2 {
		return nil, malformed("unexpected attribute %q in client-first-message", attrName(attrs[2]))
	}
	snonce := s.testNonce
	if snonce == "" {
		rnd := make([]byte, scramNonceBytes)
		if _, err := rand.Read(rnd); err != nil {
			return nil, err
		}
		snonce = base64.StdEncoding.EncodeToString(rnd)
	}
	s.nonce = cnonce + snonce
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.v.Salt) + ",i=" + strconv.Itoa(s.v.Iterations)
	s.step = 1
	return []byte(s.serverFirst), nil
}

// ClientFinal takes the client-final-message of the SASLResponse and,
// when the proof matches, returns the server-final-message (the client
// checks the server's signature in it). A wrong proof, or any proof in a
// fake exchange, is ErrSCRAMAuthFailed.
func (s *SCRAMServer) ClientFinal(msg []byte) ([]byte, error) {
	if s.step != 1 {
		return nil, malformed("unexpected client-final-message")
	}
	s.step = 2
	if len(msg) > scramMaxMessage {
		return nil, malformed("client-final-message longer than %d bytes", scramMaxMessage)
	}
	// client-final-message: "c=" cbind "," "r=" nonce ["," extensions] "," "p=" proof
	m := string(msg)
	withoutProof, proofAttr, ok := cutLast(m, ",")
	if !ok || !strings.HasPrefix(proofAttr, "p=") {
		return nil, malformed("client-final-message must end with the proof attribute p=")
	}
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) != 2 {
		return nil, malformed("client-final-message must hold exactly c=, r= and p=")
	}
	if !strings.HasPrefix(attrs[0], "c=") {
		return nil, malformed("expected the channel-binding attribute c=")
	}
	cb, err := decodeB64(attrs[0][2:], len(s.gs2Header)+sha512.Size)
	if err != nil {
		return nil, malformed("channel-binding attribute: %v", err)
	}
	want := []byte(s.gs2Header)
	if s.plus {
		want = append(want, s.cbind...)
	}
	if subtle.ConstantTimeCompare(cb, want) != 1 {
		return nil, badBinding("the channel-binding data does not match the connection")
	}
	if !strings.HasPrefix(attrs[1], "r=") {
		return nil, malformed("expected the nonce attribute r=")
	}
	if attrs[1][2:] != s.nonce {
		return nil, malformed("the nonce does not match the server's")
	}
	proof, err := decodeB64(proofAttr[2:], sha256.Size)
	if err != nil || len(proof) != sha256.Size {
		return nil, malformed("the proof must be %d bytes of base64", sha256.Size)
	}
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	sig := hmacSHA256(s.v.StoredKey, authMessage)
	clientKey := make([]byte, sha256.Size)
	for i := range clientKey {
		clientKey[i] = proof[i] ^ sig[i]
	}
	got := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(got[:], s.v.StoredKey) != 1 || s.fake {
		return nil, ErrSCRAMAuthFailed
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSHA256(s.v.ServerKey, authMessage))), nil
}

// checkSaslname checks a SCRAM username: printable, "," only as "=2C"
// and "=" only as "=3D" (RFC 5802 section 5.1).
func checkSaslname(s string) error {
	if len(s) > 256 {
		return malformed("username longer than 256 bytes")
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '=':
			if !strings.HasPrefix(s[i:], "=2C") && !strings.HasPrefix(s[i:], "=3D") {
				return malformed("bad escape in username")
			}
		case s[i] < 0x20 || s[i] == 0x7f:
			return malformed("control character in username")
		}
	}
	return nil
}

// checkNonce checks a client nonce: 1 to 256 printable ASCII characters
// other than ",".
func checkNonce(s string) error {
	if len(s) == 0 || len(s) > scramMaxNonce {
		return malformed("the nonce must be 1 to %d characters", scramMaxNonce)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return malformed("the nonce must be printable ASCII")
		}
	}
	return nil
}

// decodeB64 decodes standard base64 of at most max decoded bytes.
func decodeB64(s string, max int) ([]byte, error) {
	if base64.StdEncoding.DecodedLen(len(s)) > max+2 {
		return nil, errors.New("too long")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// attrName is the name of an attribute, for error messages (never its
// value, which could be a secret).
func attrName(a string) string {
	if len(a) >= 1 && (len(a) == 1 || a[1] == '=') {
		return a[:1]
	}
	return "?"
}
