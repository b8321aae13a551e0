package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// TestDisksEndToEnd: CREATE DISK, SHOW DISKS and DROP DISK on a real node
// against a real S3 server (versitygw). Bad input is each a clear
// SQLSTATE and creates nothing: wrong credentials, a bucket that does not
// exist, an unreachable endpoint, a URL for an endpoint, a shared
// directory that is not there, a non-admin. The disk outlives a restart.
// Then the secret keys given (right and wrong) are looked for in every
// reply, the audit log and the node's whole log at debug level: none
// may hold one. (The node's data dir does hold the right one: the
// catalog keeps a disk's credentials, which the node needs to reach it;
// TestSecretsStaySecret greps the data dir for secrets the node never
// needs to keep.)
func TestDisksEndToEnd(t *testing.T) {
	s3 := testutil.StartS3(t)
	wrongSecret := "Wr0ng-disk-secret-" + fmt.Sprint(time.Now().UnixNano())
	secrets := []string{s3.SecretKey, wrongSecret}

	p := NewProc(t)
	p.Args = []string{"--log-level", "debug"}
	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var seen strings.Builder // everything the node said back
	connect := func(user string) *pgconn.PgConn {
		cfg, err := pgconn.ParseConfig(p.URL())
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			cfg.User = user
		}
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { fmt.Fprintf(&seen, "NOTICE %s %s\n", n.Message, n.Hint) }
		c, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	conn := connect("")
	defer func() { conn.Close(context.Background()) }()
	// run runs sql, records what came back, and returns the rows as
	// a|b lines and the error's SQLSTATE ("" for none).
	run := func(c *pgconn.PgConn, sql string) (string, string) {
		res, err := c.Exec(ctx, sql).ReadAll()
		var rows []string
		for _, r := range res {
			for _, row := range r.Rows {
				vals := make([]string, len(row))
				for i, v := range row {
					vals[i] = string(v)
				}
				rows = append(rows, strings.Join(vals, "|"))
			}
		}
		out := strings.Join(rows, "\n")
		fmt.Fprintf(&seen, "%s\n", out)
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			fmt.Fprintf(&seen, "ERROR %s %s | %s | %s\n", pe.Code, pe.Message, pe.Detail, pe.Hint)
			return out, pe.Code + " " + pe.Message
		}
		if err != nil {
			t.Fatalf("%v", err)
		}
		return out, ""
	}
	mustRun := func(c *pgconn.PgConn, sql string) string {
		t.Helper()
		out, e := run(c, sql)
		if e != "" {
			t.Fatalf("statement %d: %s", strings.Count(seen.String(), "\n"), e) // not the text: it may hold a secret
		}
		return out
	}
	wantErr := func(c *pgconn.PgConn, sql, code, msg string) {
		t.Helper()
		start := time.Now()
		_, e := run(c, sql)
		if !strings.HasPrefix(e, code+" ") || !strings.Contains(e, msg) {
			t.Errorf("got %q, want %s containing %q", e, code, msg)
		}
		if el := time.Since(start); el > 8*time.Second {
			t.Errorf("%q took %s", e, el)
		}
	}

	mustRun(conn, s3.CreateDiskSQL("objects", "cluster1"))
	if got := mustRun(conn, "SELECT name, type, endpoint, bucket, region, prefix, path IS NULL, access_key_id, tls, used_by, owner FROM cairn_cluster.disks"); got != fmt.Sprintf("objects|s3|%s|%s|%s|cluster1|t|%s|f||cairn", s3.Endpoint, s3.Bucket, s3.Region, s3.AccessKey) {
		t.Fatalf("cairn_cluster.disks: %s", got)
	}
	if l, err := filepath.Glob(filepath.Join(s3.Dir, s3.Bucket, "cluster1", "*")); err != nil || len(l) != 0 {
		t.Errorf("the probe left objects behind: %v %v", l, err)
	}
	shared := t.TempDir()
	mustRun(conn, fmt.Sprintf("CREATE DISK shared (type = 'file', path = '%s')", shared))

	// Bad input: each a clear error, nothing created.
	bad := func(name, opts string) string {
		return fmt.Sprintf("CREATE DISK %s (type = 's3', %s)", name, opts)
	}
	keys := fmt.Sprintf("access_key_id = '%s', secret_access_key = '%s'", s3.AccessKey, s3.SecretKey)
	wantErr(conn, bad("wrongkey", fmt.Sprintf("endpoint = '%s', bucket = '%s', access_key_id = '%s', secret_access_key = '%s'", s3.Endpoint, s3.Bucket, s3.AccessKey, wrongSecret)),
		"28000", "the access key was refused")
	wantErr(conn, bad("nobucket", fmt.Sprintf("endpoint = '%s', bucket = 'no-such-bucket', %s", s3.Endpoint, keys)), "42704", `bucket "no-such-bucket" does not exist`)
	free, err := testutil.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	wantErr(conn, bad("nowhere", fmt.Sprintf("endpoint = '%s', bucket = '%s', %s", free, s3.Bucket, keys)), "58030", "could not reach "+free+": connection refused")
	wantErr(conn, bad("url", fmt.Sprintf("endpoint = 'http://%s', bucket = '%s', %s", s3.Endpoint, s3.Bucket, keys)), "22023", "is not host:port")
	wantErr(conn, "CREATE DISK gone (type = 'file', path = '/no/such/shared/dir')", "58P01", `directory "/no/such/shared/dir" does not exist on node`)
	wantErr(conn, "CREATE DISK rel (type = 'file', path = 'shared/dir')", "22023", "is not absolute")
	wantErr(conn, s3.CreateDiskSQL("objects", "other"), "42710", `disk "objects" already exists`)
	mustRun(conn, "CREATE USER bob LOGIN")
	bob := connect("bob")
	wantErr(bob, s3.CreateDiskSQL("bobs", "bob"), "42501", "permission denied")
	wantErr(bob, "DROP DISK objects", "42501", "permission denied")
	bob.Close(ctx)
	if got := mustRun(conn, "SELECT name FROM cairn_cluster.disks ORDER BY name"); got != "objects\nshared" {
		t.Fatalf("disks after the refused statements: %s", got)
	}

	// The disks outlive a restart.
	conn.Close(ctx)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	p.Start()
	conn = connect("")
	if got := mustRun(conn, "SHOW DISKS"); !strings.Contains(got, "objects|s3|"+s3.Endpoint) || !strings.Contains(got, "shared|file|") {
		t.Fatalf("SHOW DISKS after a restart: %s", got)
	}

	// The HTTP SQL endpoint answers with the same error, without the secret.
	hc, err := p.HTTPClient(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"sql": %q}`, bad("viahttp", fmt.Sprintf("endpoint = '%s', bucket = '%s', access_key_id = '%s', secret_access_key = '%s'", s3.Endpoint, s3.Bucket, s3.AccessKey, wrongSecret)))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.HTTPBase()+"/api/v1/sql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Fprintf(&seen, "api %d %s\n", resp.StatusCode, b)
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(b), "28000") {
		t.Errorf("POST /api/v1/sql with a wrong secret: HTTP %d %s", resp.StatusCode, b)
	}

	// A disk a scheduled view checkpoints to cannot be dropped.
	mustRun(conn, "CREATE STREAM ev (k text, v int8)")
	mustRun(conn, "CREATE MATERIALIZED VIEW per_k WITH (ha = 'scheduled', disk = 'objects') AS SELECT k, count(*) FROM ev GROUP BY k")
	wantErr(conn, "DROP DISK shared, objects", "55006", `disk "objects" is in use by view per_k`)
	if got := mustRun(conn, "SELECT name, used_by FROM cairn_cluster.disks ORDER BY name"); got != "objects|view per_k\nshared|" {
		t.Fatalf("disks and their users: %s", got)
	}
	mustRun(conn, "DROP VIEW per_k")
	mustRun(conn, "DROP DISK objects, shared")
	if got := mustRun(conn, "SELECT count(*) FROM cairn_cluster.disks"); got != "0" {
		t.Fatalf("disks after DROP DISK: %s", got)
	}
	wantErr(conn, "DROP DISK objects", "42704", `disk "objects" does not exist`)

	// The audit log has the statements, each secret masked.
	testutil.WaitUntil(t, 20*time.Second, func() (bool, string) {
		got, e := run(conn, "SELECT count(*) FROM cairn_cluster.audit_log WHERE what LIKE 'CREATE DISK%secret_access_key = ''*****''%'")
		n, _ := strconv.Atoi(got)
		return n >= 5 && e == "", fmt.Sprintf("audit_log has %s redacted CREATE DISK statements, want 5 or more (%s)", got, e)
	})
	mustRun(conn, "SELECT * FROM cairn_cluster.audit_log")
	conn.Close(context.Background())
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}

	where := map[string]string{"replies": seen.String(), "log": p.Log()}
	if len(where["log"]) == 0 {
		t.Fatalf("the node logged nothing at debug level: the log check would prove nothing:\n%s", where["log"])
	}
	if !strings.Contains(where["replies"], "'*****'") {
		t.Errorf("no redacted statement in what the node showed:\n%s", where["replies"])
	}
	for name, text := range where {
		for _, s := range secrets {
			if i := strings.Index(text, s); i >= 0 {
				t.Errorf("the %s holds the secret %q: …%s…", name, s, text[max(0, i-200):min(len(text), i+len(s)+50)])
			}
		}
	}
}
