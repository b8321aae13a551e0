package cli

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/testutil/testcerts"
)

// With --certs-dir the commands speak HTTPS to a node that requires a
// client certificate, present client.<--user>.crt and trust only ca.crt;
// without it, against another CA, for a user without a certificate, or
// with an http:// --host, they fail with a message that says what to do.
func TestCLICertsDir(t *testing.T) {
	ca := testcerts.New(t)
	ca.Client(t, "cairn")
	ca.Client(t, "bob")
	r := &scriptRunner{script: map[string][]reply{
		"SELECT * FROM cairn_cluster.nodes": {{res: rows([]string{"node_id"}, []*string{sp("n1")})}},
	}}
	var mu sync.Mutex
	var users []string
	admin := httpapi.NewAdminHandler(r)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		users = append(users, req.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
		admin.ServeHTTP(w, req)
	}))
	srv.TLS = ca.PeerServerConfig(t) // a client certificate is required
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	out, errOut, code, err := runCLIHost(t, "node", "ls", "--host", addr, "--certs-dir", ca.Dir)
	if err != nil || code != 0 || !strings.Contains(out, "n1") {
		t.Fatalf("node ls over HTTPS: %d %v\n%s%s", code, err, out, errOut)
	}
	_, _, code, err = runCLIHost(t, "node", "ls", "--host", "https://"+addr, "--certs-dir", ca.Dir, "--user", "bob")
	if err != nil || code != 0 {
		t.Fatalf("node ls --user bob with https:// host: %d %v", code, err)
	}
	t.Setenv("CAIRN_CERTS_DIR", ca.Dir)
	t.Setenv("CAIRN_USER", "bob")
	if _, _, code, err = runCLIHost(t, "node", "ls", "--host", addr); err != nil || code != 0 {
		t.Fatalf("node ls with CAIRN_CERTS_DIR and CAIRN_USER: %d %v", code, err)
	}
	t.Setenv("CAIRN_CERTS_DIR", "")
	t.Setenv("CAIRN_USER", "")
	mu.Lock()
	if strings.Join(users, ",") != "cairn,bob,bob" {
		t.Errorf("the node saw client certificates of %v, want cairn,bob,bob", users)
	}
	mu.Unlock()

	other := testcerts.New(t)
	other.Client(t, "cairn")
	noKey := testcerts.New(t)
	if err := os.Remove(filepath.Join(noKey.Dir, "ca.crt")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"plain", []string{"--host", addr}, ExitFailure, "serves HTTPS only"},
		{"https-no-certs", []string{"--host", "https://" + addr}, ExitFailure, "HINT: the node is secure: pass --certs-dir"},
		{"other-ca", []string{"--host", addr, "--certs-dir", other.Dir}, ExitFailure, "not signed by the CA in --certs-dir"},
		{"no-client-cert", []string{"--host", addr, "--certs-dir", ca.Dir, "--user", "carol"}, ExitUsage, `no client certificate for user "carol"`},
		{"no-ca", []string{"--host", addr, "--certs-dir", noKey.Dir}, ExitUsage, "make one with cairn cert create-ca"},
		{"http-with-certs", []string{"--host", "http://" + addr, "--certs-dir", ca.Dir}, ExitUsage, "is plain HTTP, but --certs-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, code, err := runCLIHost(t, append([]string{"node", "ls"}, tc.args...)...)
			if err == nil || code != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d (want %d): %v\nwant it to say %q", code, tc.code, err, tc.want)
			}
		})
	}

	// A secure client against a plain-HTTP node is told so.
	plain := httptest.NewServer(admin)
	defer plain.Close()
	_, _, code, err = runCLIHost(t, "node", "ls", "--host", plain.Listener.Addr().String(), "--certs-dir", ca.Dir)
	if err == nil || code != ExitFailure || !strings.Contains(err.Error(), "leave out --certs-dir") {
		t.Errorf("--certs-dir against a plain node: %d %v", code, err)
	}
}
