package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPsqlMetaCommands runs real psql's meta-commands against a node
// holding a stream, a view and a transform, and checks the lines they
// print: psql reads pg_catalog with its own queries, so this shows the
// catalog answers them as PostgreSQL would.
func TestPsqlMetaCommands(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is needed for this test (scripts/test-deps.sh installs it): %v", err)
	}
	p := NewProc(t)
	p.Start()
	host, port, _ := strings.Cut(p.PGAddr, ":")
	run := func(cmd string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, psql, "-X", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "cairn", "-c", cmd)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("psql -c %q: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	run(`CREATE STREAM ev (ts timestamptz, k text, v bigint)`)
	run(`CREATE MATERIALIZED VIEW mv AS SELECT k, sum(v) AS total FROM ev GROUP BY k`)
	run(`CREATE VIEW tv AS SELECT k, v * 2 AS v2 FROM ev`)
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{`\dn`, []string{
			"List of schemas",
			" cairn_cluster | cairn",
			" public        | cairn",
			"(2 rows)",
		}},
		{`\l`, []string{
			"List of databases",
			" cairn | cairn | UTF8     | C       | C     |            | libc            | ",
			"(1 row)",
		}},
	} {
		out := run(tc.cmd)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("psql %s: output lacks %q:\n%s", tc.cmd, w, out)
			}
		}
	}
}
