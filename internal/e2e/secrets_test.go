package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/testutil"
)

// TestSecretsStaySecret runs a flow that hands a real node passwords and
// secret keys every way a client can (role statements, good and bad
// logins, statements the lexer refuses, the extended protocol, the HTTP
// SQL endpoint), then looks for them everywhere the node speaks or
// writes: error messages, cairn_cluster and pg_catalog tables, SHOW, the
// audit log, its whole log output at debug level, and every file of its
// data dir (the WAL is not compressed, so a leaked literal would be there
// as bytes). None may hold a secret.
//
// The node's log is kept in memory by the harness, so this per-test grep
// is the check for passwords (no test run leaves node logs behind except
// the chaos campaign's, which scripts/check-secrets.sh scans).
func TestSecretsStaySecret(t *testing.T) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	pw := "S3cr3t-" + hex.EncodeToString(nonce)
	wrong := "Wr0ng-" + hex.EncodeToString(nonce)
	key := "AKIA-" + hex.EncodeToString(nonce)
	secrets := []string{pw, wrong, key}

	// A secure node: its private keys are secrets too (each key's
	// base64 body lines, as they would show if a PEM were printed).
	p := NewProc(t)
	p.CertsDir = testutil.MakeCerts(t, filepath.Join(t.TempDir(), "certs"))
	for _, f := range []string{security.CAKeyFile, security.NodeKeyFile, security.ClientKeyFile("cairn")} {
		b, err := os.ReadFile(filepath.Join(p.CertsDir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
				secrets = append(secrets, line)
			}
		}
	}
	if len(secrets) < 6 {
		t.Fatalf("found %d secrets: no key bodies in %s", len(secrets), p.CertsDir)
	}
	p.Args = []string{"--log-level", "debug"}
	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var seen strings.Builder // everything the node said back
	cfg, err := pgconn.ParseConfig(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { fmt.Fprintf(&seen, "NOTICE %s %s\n", n.Message, n.Hint) }
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	say := func(what string, err error) {
		fmt.Fprintf(&seen, "%s: ", what)
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			fmt.Fprintf(&seen, "%s %s | %s | %s\n", pe.Code, pe.Message, pe.Detail, pe.Hint)
		} else {
			fmt.Fprintf(&seen, "%v\n", err)
		}
	}
	run := func(sql string) error {
		label := fmt.Sprintf("statement %d", seen.Len()) // not the text: it holds the secrets
		res, err := conn.Exec(ctx, sql).ReadAll()
		for _, r := range res {
			for _, row := range r.Rows {
				for _, v := range row {
					seen.Write(v)
					seen.WriteByte('|')
				}
				seen.WriteByte('\n')
			}
			fmt.Fprintf(&seen, "%s\n", r.CommandTag)
		}
		say(label, err)
		return err
	}
	// The role statements (they may fail where roles are not there yet:
	// the password must not show either way).
	created := false // CREATE USER alice succeeded (roles may not be there yet)
	for _, sql := range []string{
		"CREATE STREAM audited (k text)",
		fmt.Sprintf("CREATE USER alice WITH LOGIN PASSWORD '%s'", pw),
		fmt.Sprintf("ALTER USER alice WITH PASSWORD '%s'", pw),
		fmt.Sprintf("CREATE ROLE bob LOGIN PASSWORD '%s' '%s'", pw, pw),               // syntax error at the second literal
		fmt.Sprintf("CREATE STREAM s3 (k text) WITH (secret_access_key = '%s')", key), // refused option
		fmt.Sprintf("CREATE USER carol PASSWORD '%s", pw),                             // unterminated
		fmt.Sprintf("SELECT 1; ALTER ROLE alice PASSWORD $$%s", wrong),                // unterminated dollar quote
	} {
		if err := run(sql); err == nil && strings.HasPrefix(sql, "CREATE USER alice") {
			created = true
		}
	}
	_, err = conn.Prepare(ctx, "", fmt.Sprintf("CREATE USER dave PASSWORD '%s' x", pw), nil)
	say("prepare", err)

	// Logins with the right and a wrong password.
	logins := 0
	for _, p2 := range []string{pw, wrong} {
		lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
		c2, err := pgconn.Connect(lctx, fmt.Sprintf("postgres://alice:%s@%s/cairn?sslmode=verify-full&sslrootcert=%s", p2, p.PGAddr,
			url.QueryEscape(filepath.Join(p.CertsDir, security.CACertFile))))
		lcancel()
		say("login", err)
		if err == nil {
			logins++
			c2.Close(context.Background())
		}
	}

	if want := map[bool]int{true: 1, false: 0}[created]; logins != want {
		t.Errorf("%d of the logins with the right and a wrong password succeeded, want %d:\n%s", logins, want, seen.String())
	}

	// The HTTP SQL endpoint.
	hc, err := p.HTTPClient(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{fmt.Sprintf("CREATE USER erin PASSWORD '%s'", pw), fmt.Sprintf("CREATE USER erin PASSWORD '%s", pw)} {
		body := fmt.Sprintf(`{"sql": %q}`, sql)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.HTTPBase()+"/api/v1/sql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&seen, "api %d %s\n", resp.StatusCode, b)
	}

	// What the node shows: the audit log (once the statements reached
	// it: they are recorded asynchronously), its tables, SHOW.
	testutil.WaitUntil(t, 20*time.Second, func() (bool, string) {
		res, err := conn.Exec(ctx, "SELECT count(*) FROM cairn_cluster.audit_log WHERE what LIKE '%''*****''%'").ReadAll()
		n := 0
		if err == nil && len(res) == 1 && len(res[0].Rows) == 1 {
			n, _ = strconv.Atoi(string(res[0].Rows[0][0]))
		}
		return n >= 3, fmt.Sprintf("audit_log has %d redacted statements, want 3 or more (%v)", n, err)
	})
	for _, sql := range []string{
		"SELECT * FROM cairn_cluster.audit_log",
		"SELECT * FROM cairn_cluster.nodes", "SELECT * FROM cairn_cluster.streams", "SELECT * FROM cairn_cluster.views",
		"SELECT * FROM cairn_cluster.tables", "SELECT * FROM cairn_cluster.shards", "SELECT * FROM cairn_cluster.settings",
		"SELECT * FROM cairn_cluster.operations", "SELECT * FROM pg_catalog.pg_roles", "SELECT * FROM pg_catalog.pg_authid",
		"SELECT * FROM pg_catalog.pg_settings", "SHOW ALL", "SHOW ROLES", "SHOW GRANTS",
	} {
		run(sql)
	}
	if !strings.Contains(seen.String(), "'*****'") {
		t.Errorf("no redacted statement in what the node showed:\n%s", seen.String())
	}
	conn.Close(context.Background())
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}

	where := map[string][]byte{"replies": []byte(seen.String()), "log": []byte(p.Log())}
	if len(where["log"]) == 0 {
		t.Fatal("the node logged nothing at debug level: the log check would prove nothing")
	}
	err = filepath.WalkDir(p.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		where[path] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range where {
		for _, s := range secrets {
			if i := bytes.Index(b, []byte(s)); i >= 0 {
				t.Errorf("%s holds the secret %q: …%s…", name, s, b[max(0, i-200):min(len(b), i+len(s)+50)])
			}
		}
	}
}
