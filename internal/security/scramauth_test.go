package security

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
)

// testClient is the client side of SCRAM-SHA-256, written from RFC 5802
// for these tests (the server's code is not reused).
type testClient struct {
	password  string
	nonce     string
	gs2       string // "n,,", "y,,", "p=tls-server-end-point,,"
	cbind     []byte
	first     string // client-first-message-bare
	authMsg   string
	serverKey []byte
}

func (c *testClient) clientFirst() []byte {
	c.first = "n=ignored,r=" + c.nonce
	return []byte(c.gs2 + c.first)
}

func (c *testClient) clientFinal(t *testing.T, serverFirst []byte) []byte {
	t.Helper()
	parts := strings.Split(string(serverFirst), ",")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "r="+c.nonce) || !strings.HasPrefix(parts[1], "s=") || !strings.HasPrefix(parts[2], "i=") {
		t.Fatalf("server-first-message %q", serverFirst)
	}
	salt, err := base64.StdEncoding.DecodeString(parts[1][2:])
	if err != nil {
		t.Fatal(err)
	}
	iter := 0
	for _, ch := range parts[2][2:] {
		iter = iter*10 + int(ch-'0')
	}
	salted, err := SaltedPassword(c.password, salt, iter)
	if err != nil {
		t.Fatal(err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	c.serverKey = hmacSHA256(salted, "Server Key")
	cb := base64.StdEncoding.EncodeToString(append([]byte(c.gs2), c.cbind...))
	noProof := "c=" + cb + "," + parts[0]
	c.authMsg = c.first + "," + string(serverFirst) + "," + noProof
	sig := hmacSHA256(stored[:], c.authMsg)
	proof := make([]byte, len(sig))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	return []byte(noProof + ",p=" + base64.StdEncoding.EncodeToString(proof))
}

func (c *testClient) checkServerFinal(t *testing.T, final []byte) {
	t.Helper()
	want := "v=" + base64.StdEncoding.EncodeToString(hmacSHA256(c.serverKey, c.authMsg))
	if string(final) != want {
		t.Fatalf("server-final-message %q, want %q", final, want)
	}
}

// TestSCRAMServerRFC7677 runs the example exchange of RFC 7677 section 3
// (user "user", password "pencil") with the RFC's nonces and salt and
// checks the server's messages byte for byte.
func TestSCRAMServerRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := deriveVerifier("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSCRAMServer("user", v, []byte("secret"), nil)
	s.testNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	first, err := s.ClientFirst(SCRAMSHA256, []byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"; string(first) != want {
		t.Fatalf("server-first %q, want %q", first, want)
	}
	final, err := s.ClientFinal([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="; string(final) != want {
		t.Fatalf("server-final %q, want %q", final, want)
	}
}

func runExchange(t *testing.T, s *SCRAMServer, mech string, c *testClient) ([]byte, error) {
	t.Helper()
	first, err := s.ClientFirst(mech, c.clientFirst())
	if err != nil {
		return nil, err
	}
	return s.ClientFinal(c.clientFinal(t, first))
}

func TestSCRAMServerExchange(t *testing.T) {
	v, err := NewVerifier("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	endPoint := bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		name     string
		v        *Verifier
		cbind    []byte // the server's
		mech     string
		client   testClient
		wantErr  string
		wantMech []string
	}{
		{name: "right password", v: v, mech: SCRAMSHA256, client: testClient{password: "correct horse", gs2: "n,,"}, wantMech: []string{SCRAMSHA256}},
		{name: "wrong password", v: v, mech: SCRAMSHA256, client: testClient{password: "battery", gs2: "n,,"}, wantErr: "28P01"},
		{name: "no such user", v: nil, mech: SCRAMSHA256, client: testClient{password: "correct horse", gs2: "n,,"}, wantErr: "28P01"},
		{name: "plus", v: v, cbind: endPoint, mech: SCRAMSHA256Plus, client: testClient{password: "correct horse", gs2: "p=tls-server-end-point,,", cbind: endPoint}, wantMech: []string{SCRAMSHA256Plus, SCRAMSHA256}},
		{name: "plus wrong binding", v: v, cbind: endPoint, mech: SCRAMSHA256Plus, client: testClient{password: "correct horse", gs2: "p=tls-server-end-point,,", cbind: []byte("other")}, wantErr: "binding"},
		{name: "tls without binding", v: v, cbind: endPoint, mech: SCRAMSHA256, client: testClient{password: "correct horse", gs2: "n,,"}},
		{name: "y on plaintext", v: v, mech: SCRAMSHA256, client: testClient{password: "correct horse", gs2: "y,,"}},
		{name: "y on tls is a downgrade", v: v, cbind: endPoint, mech: SCRAMSHA256, client: testClient{password: "correct horse", gs2: "y,,"}, wantErr: "binding"},
		{name: "plus on plaintext", v: v, mech: SCRAMSHA256Plus, client: testClient{password: "correct horse", gs2: "p=tls-server-end-point,,"}, wantErr: "malformed"},
		{name: "plus without p", v: v, cbind: endPoint, mech: SCRAMSHA256Plus, client: testClient{password: "correct horse", gs2: "n,,"}, wantErr: "binding"},
		{name: "p with plain mechanism", v: v, cbind: endPoint, mech: SCRAMSHA256, client: testClient{password: "correct horse", gs2: "p=tls-server-end-point,,", cbind: endPoint}, wantErr: "binding"},
		{name: "other mechanism", v: v, mech: "SCRAM-SHA-1", client: testClient{password: "correct horse", gs2: "n,,"}, wantErr: "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSCRAMServer("alice", tc.v, []byte("node secret"), tc.cbind)
			if tc.wantMech != nil && strings.Join(s.Mechanisms(), " ") != strings.Join(tc.wantMech, " ") {
				t.Errorf("mechanisms %v, want %v", s.Mechanisms(), tc.wantMech)
			}
			tc.client.nonce = "fyko+d2lbbFgONRv9qkxdawL"
			final, err := runExchange(t, s, tc.mech, &tc.client)
			if tc.wantErr != "" {
				if got := errKind(err); got != tc.wantErr {
					t.Fatalf("err %v (%s), want %s", err, got, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.client.checkServerFinal(t, final)
		})
	}
}

// TestSCRAMFakeSalt: the fake exchange for a user that does not exist
// offers the same salt every time (a real user's salt does not change
// either) and a different one per user and per node secret.
func TestSCRAMFakeSalt(t *testing.T) {
	salt := func(user, secret string) string {
		s := NewSCRAMServer(user, nil, []byte(secret), nil)
		first, err := s.ClientFirst(SCRAMSHA256, []byte("n,,n=,r=abc"))
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Split(string(first), ",")
		if f[2] != "i=4096" || len(f[1]) != len("s=")+24 {
			t.Fatalf("fake server-first %q does not look like a real one", first)
		}
		return f[1]
	}
	first := salt("bob", "k1")
	if again := salt("bob", "k1"); again != first {
		t.Error("fake salt changes between attempts")
	}
	if salt("bob", "k1") == salt("carol", "k1") || salt("bob", "k1") == salt("bob", "k2") {
		t.Error("fake salt does not depend on the user and the node secret")
	}
}

func TestSCRAMMalformed(t *testing.T) {
	v, _ := NewVerifier("pw")
	firsts := []string{
		"",
		"n",
		"x,,n=a,r=b",
		"n,a=someone,n=a,r=b",
		"n,,",
		"n,,n=a",
		"n,,r=b,n=a",
		"n,,m=ext,n=a,r=b",
		"n,,n=a=b,r=b",
		"n,,n=a,r=",
		"n,,n=a,r=b c",
		"n,,n=a,r=b,x=extension",
		"p=tls-unique,,n=a,r=b",
		"n,,n=a,r=" + strings.Repeat("x", 300),
		strings.Repeat("n", 2000),
	}
	for _, f := range firsts {
		s := NewSCRAMServer("u", v, nil, nil)
		if _, err := s.ClientFirst(SCRAMSHA256, []byte(f)); err == nil {
			t.Errorf("client-first %q accepted", f)
		}
	}
	finals := []string{
		"",
		"p=abc",
		"c=biws,r=NONCE",
		"r=NONCE,c=biws,p=" + strings.Repeat("A", 43) + "=",
		"c=biws,r=wrong,p=" + strings.Repeat("A", 43) + "=",
		"c=eSws,r=NONCE,p=" + strings.Repeat("A", 43) + "=",
		"c=biws,r=NONCE,x=1,p=" + strings.Repeat("A", 43) + "=",
		"c=biws,r=NONCE,p=AAAA",
		"c=biws,r=NONCE,p=!!!!",
		"c=" + strings.Repeat("A", 400) + ",r=NONCE,p=" + strings.Repeat("A", 43) + "=",
	}
	for _, f := range finals {
		s := NewSCRAMServer("u", v, nil, nil)
		first, err := s.ClientFirst(SCRAMSHA256, []byte("n,,n=,r=cn"))
		if err != nil {
			t.Fatal(err)
		}
		nonce := strings.TrimPrefix(strings.Split(string(first), ",")[0], "r=")
		_, err = s.ClientFinal([]byte(strings.ReplaceAll(f, "NONCE", nonce)))
		if k := errKind(err); k != "malformed" && k != "binding" {
			t.Errorf("client-final %q: err %v, want a malformed-message error", f, err)
		}
	}
	// Out of order.
	s := NewSCRAMServer("u", v, nil, nil)
	if _, err := s.ClientFinal([]byte("c=biws,r=x,p=y")); err == nil {
		t.Error("client-final before client-first accepted")
	}
}

func FuzzSCRAMClientFirst(f *testing.F) {
	for _, s := range []string{"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "y,,n=,r=abc", "p=tls-server-end-point,,n=,r=x", "n,a,n=b,r=c", "n,,m=x,n=a,r=b"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	v, _ := deriveVerifier("pw", []byte("salt"), 1)
	f.Fuzz(func(t *testing.T, msg string, tls bool) {
		var cb []byte
		mech := SCRAMSHA256
		if tls {
			cb, mech = []byte("endpoint"), SCRAMSHA256Plus
		}
		s := NewSCRAMServer("u", v, []byte("k"), cb)
		out, err := s.ClientFirst(mech, []byte(msg))
		if err == nil && !strings.HasPrefix(string(out), "r=") {
			t.Fatalf("server-first %q", out)
		}
	})
}

func FuzzSCRAMClientFinal(f *testing.F) {
	for _, s := range []string{"c=biws,r=NONCE,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "c=,r=,p=", "c=biws,r=NONCE,x=y,p=", ",,,,"} {
		f.Add(s)
	}
	v, _ := deriveVerifier("pw", []byte("salt"), 1)
	f.Fuzz(func(t *testing.T, msg string) {
		s := NewSCRAMServer("u", v, []byte("k"), nil)
		first, err := s.ClientFirst(SCRAMSHA256, []byte("n,,n=,r=cn"))
		if err != nil {
			t.Fatal(err)
		}
		nonce := strings.TrimPrefix(strings.Split(string(first), ",")[0], "r=")
		if _, err := s.ClientFinal([]byte(strings.ReplaceAll(msg, "NONCE", nonce))); err == nil {
			t.Fatalf("client-final %q accepted without knowing the password", msg)
		}
	})
}

// errKind classifies an exchange's error: "28P01" (a failed proof),
// "malformed" or "binding" (08P01 with the message of that table entry).
func errKind(err error) string {
	if errors.Is(err, ErrSCRAMAuthFailed) {
		return "28P01"
	}
	var pe *pgerr.Error
	if !errors.As(err, &pe) || pe.Code != pgerr.ProtocolViolation {
		return fmt.Sprint(err)
	}
	if strings.HasPrefix(pe.Message, "malformed SCRAM message") {
		return "malformed"
	}
	if strings.HasPrefix(pe.Message, "SCRAM channel binding") {
		return "binding"
	}
	return pe.Message
}
