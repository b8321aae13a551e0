package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairndb/cairn/internal/testutil"
)

// TestSecureLoginPsql: psql against a secure cairn process: a user made
// with CREATE USER logs in with verify-full and a password (SCRAM-SHA-256
// with channel binding), a wrong password is refused, cairn logs in with
// its client certificate, and plain TCP is refused.
func TestSecureLoginPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is needed (scripts/test-deps.sh installs postgresql-client): %v", err)
	}
	p := NewProc(t)
	p.CertsDir = testutil.MakeCerts(t, t.TempDir())
	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE USER alice WITH PASSWORD 'correct horse'"); err != nil {
		t.Fatal(err)
	}
	verify := fmt.Sprintf("host=127.0.0.1 port=%s dbname=cairn sslmode=verify-full sslrootcert=%s/ca.crt", port(p), p.CertsDir)
	run := func(conninfo, password string) (string, error) {
		cmd := exec.CommandContext(ctx, psql, "-X", "-A", "-t", "-c", "SELECT current_user", conninfo)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct{ conninfo, password, want string }{
		{verify + " user=alice channel_binding=require", "correct horse", "alice\n"},
		{verify + " user=alice", "wrong", `FATAL:  password authentication failed for user "alice"`},
		{verify + " user=mallory", "correct horse", `FATAL:  password authentication failed for user "mallory"`},
		{fmt.Sprintf("%s user=cairn sslcert=%[2]s/client.cairn.crt sslkey=%[2]s/client.cairn.key", verify, p.CertsDir), "", "cairn\n"},
		{fmt.Sprintf("host=127.0.0.1 port=%s dbname=cairn user=alice sslmode=disable", port(p)), "correct horse", "FATAL:  connection requires TLS"},
	} {
		out, err := run(tc.conninfo, tc.password)
		if strings.HasPrefix(tc.want, "FATAL") {
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("psql %q: %v\n%s\nwant %q", tc.conninfo, err, out, tc.want)
			}
		} else if err != nil || out != tc.want {
			t.Errorf("psql %q: %v\n%s\nwant %q", tc.conninfo, err, out, tc.want)
		}
	}
}
