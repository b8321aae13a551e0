package e2e

import (
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

// TestDriversTLS connects drivers with their own TLS stacks to a secure
// node (--certs-dir): psycopg2 (libpq), pgjdbc (Java's TLS) and
// node-postgres (Node's tls)
// with full verification against the cluster CA and cairn's client
// certificate; node-postgres without TLS is refused with 28000.
func TestDriversTLS(t *testing.T) {
	p := NewProc(t)
	p.CertsDir = testutil.MakeCerts(t, filepath.Join(t.TempDir(), "certs"))
	p.Start()
	dir := p.CertsDir
	t.Run("psycopg2", func(t *testing.T) {
		dsn := fmt.Sprintf("host=localhost port=%s user=cairn dbname=cairn sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s",
			port(p), filepath.Join(dir, "ca.crt"), filepath.Join(dir, "client.cairn.crt"), filepath.Join(dir, "client.cairn.key"))
		out := runClient(t, 60*time.Second, "/usr/bin/python3", "-c", `import sys, psycopg2
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute("SELECT 1 + 1")
print("psycopg2", cur.fetchone()[0], "ssl", conn.info.ssl_in_use)`, dsn)
		expectLines(t, out, "psycopg2 2 ssl True")
	})
	t.Run("jdbc", func(t *testing.T) {
		// pgjdbc reads the client key as PKCS-8 DER; cairn writes PKCS-8 PEM.
		b, err := os.ReadFile(filepath.Join(dir, "client.cairn.key"))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			t.Fatalf("client.cairn.key is not a PKCS-8 PEM key")
		}
		pk8 := filepath.Join(t.TempDir(), "client.cairn.pk8")
		if err := os.WriteFile(pk8, blk.Bytes, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		url := fmt.Sprintf("jdbc:postgresql://localhost:%s/cairn?user=cairn&sslmode=verify-full&sslrootcert=%s&sslcert=%s&sslkey=%s",
			port(p), filepath.Join(dir, "ca.crt"), filepath.Join(dir, "client.cairn.crt"), pk8)
		expectLines(t, runJava(t, ctx, "testdata/drivers/JdbcTLS.java", url), "jdbc 2")
	})
	t.Run("node", func(t *testing.T) {
		if _, err := os.Stat("testdata/node/node_modules/pg"); err != nil {
			t.Fatalf("node-postgres is not installed: run scripts/test-deps.sh (npm install in internal/e2e/testdata/node): %v", err)
		}
		out := runClient(t, 60*time.Second, "node", "testdata/node/tls_client.js", "127.0.0.1", port(p), dir)
		expectLines(t, out, "node 2 encrypted true")
		out = runClient(t, 60*time.Second, "node", "testdata/node/tls_client.js", "127.0.0.1", port(p), dir, "plain")
		if !strings.HasPrefix(out, "error 28000 connection requires TLS") {
			t.Errorf("node-postgres without TLS: %s", out)
		}
	})
}
