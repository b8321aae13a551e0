package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/testutil/testcerts"
)

// With Config.TLS the server speaks HTTPS only: a client that trusts the
// CA ingests over it and a handler sees its verified client certificate;
// a plain HTTP request gets 400 and reaches no handler; a client that
// does not trust the CA fails the handshake.
func TestHTTPS(t *testing.T) {
	ca := testcerts.New(t)
	f := newFake()
	// alice may log in (by certificate) and insert into events.
	bobV, err := security.NewVerifier("bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	f.users = map[string]string{"alice": "", "bob": bobV.String()}
	f.inserters = map[string]bool{"alice/events": true}
	s := New(Config{TLS: ca.ServerConfig(t)}, f)
	s.Handle("GET /v1/whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			io.WriteString(w, "anonymous as "+UserFrom(r.Context()))
			return
		}
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	client := func(cfg *tls.Config) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	get := func(c *http.Client, url string) (int, string, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	alice := client(ca.ClientConfig(t, "alice"))
	base := "https://localhost:" + port
	resp, err := alice.Post(base+"/v1/streams/events/events", "application/x-ndjson", bytes.NewBufferString(`{"value": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"accepted":1}` {
		t.Fatalf("HTTPS ingest: %d %s", resp.StatusCode, b)
	}
	if code, body, err := get(alice, base+"/v1/whoami"); err != nil || code != 200 || body != "alice" {
		t.Errorf("whoami with alice's certificate: %d %q %v", code, body, err)
	}
	noCert := client(&tls.Config{RootCAs: ca.Pool})
	// Without a certificate (or other credentials) the request is refused
	// before it reaches a handler, even from loopback.
	if code, body, err := get(noCert, base+"/v1/whoami"); err != nil || code != 401 || strings.Contains(body, "anonymous") {
		t.Errorf("whoami without a certificate: %d %q %v", code, body, err)
	}
	// HTTP Basic over real TLS: the request runs as bob.
	req, _ := http.NewRequest("GET", base+"/v1/whoami", nil)
	req.SetBasicAuth("bob", "bob-pw")
	if resp, err := noCert.Do(req); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "anonymous as bob" {
			t.Errorf("whoami with Basic over TLS: %d %q", resp.StatusCode, b)
		}
	}

	// Plain HTTP to the HTTPS port: 400, and no ingest happens.
	calls := f.calls()
	resp, err = http.Post("http://127.0.0.1:"+port+"/v1/streams/events/events", "application/x-ndjson", bytes.NewBufferString(`{"value": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "HTTPS") {
		t.Errorf("plain HTTP to the HTTPS port: %d %s", resp.StatusCode, b)
	}
	if f.calls() != calls {
		t.Errorf("a plain HTTP request reached the ingest backend")
	}
	// A client that does not trust the CA, or checks another name, fails.
	other := testcerts.New(t)
	if _, _, err := get(client(&tls.Config{RootCAs: other.Pool}), base+"/health"); err == nil {
		t.Errorf("a client trusting another CA connected")
	}
	if _, _, err := get(client(&tls.Config{RootCAs: ca.Pool, ServerName: "db.example.com"}), base+"/health"); err == nil {
		t.Errorf("a client checking another host name connected")
	}
}
