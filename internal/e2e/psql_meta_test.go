package e2e

import (
	"context"
	"fmt"
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
	// psql runs a script in one session (one process and connection).
	psqlRun := func(script string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, psql, "-X", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "cairn")
		c.Stdin = strings.NewReader(script)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v\n%s", err, out)
		}
		return string(out)
	}
	psqlRun(`CREATE STREAM ev (ts timestamptz, k text, v bigint);
CREATE MATERIALIZED VIEW mv AS SELECT k, sum(v) AS total FROM ev GROUP BY k;
CREATE VIEW tv AS SELECT k, v * 2 AS v2 FROM ev;
CREATE SCHEMA shop;
CREATE STREAM shop.orders (id bigint, amount numeric);
CREATE TABLE dev (id int PRIMARY KEY, site text NOT NULL DEFAULT 'x', n bigint);
CREATE USER alice;
CREATE ROLE readers;
GRANT readers TO alice;
GRANT SELECT ON mv TO readers;
GRANT INSERT ON ev TO PUBLIC;
`)
	type metaCase struct {
		cmd  string
		want []string
	}
	cases := []metaCase{
		{`\dn`, []string{
			"List of schemas",
			" cairn_cluster | cairn",
			" public        | cairn",
			" shop          | cairn",
			"(3 rows)",
		}},
		{`\d`, []string{
			"List of relations",
			" public | dev  | table             | cairn",
			" public | ev   | table             | cairn",
			" public | mv   | materialized view | cairn",
			" public | tv   | view              | cairn",
			"(4 rows)",
		}},
		{`\dt`, []string{" public | dev  | table | cairn", " public | ev   | table | cairn", "(2 rows)"}},
		{`\d dev`, []string{
			`Table "public.dev"`,
			" id     | integer |           | not null | ",
			" site   | text    |           | not null | 'x'",
			" n      | bigint  |           |          | ",
			"Indexes:",
			`    "dev_pkey" PRIMARY KEY, btree (id)`,
		}},
		{`\di`, []string{" public | dev_pkey | index | cairn | dev"}},
		{`\dv`, []string{" public | tv   | view | cairn", "(1 row)"}},
		{`\dm`, []string{" public | mv   | materialized view | cairn", "(1 row)"}},
		{`\dt shop.*`, []string{" shop   | orders | table | cairn", "(1 row)"}},
		{`\d ev`, []string{
			`Table "public.ev"`,
			" ts     | timestamp with time zone |           |          | ",
			" k      | text                     |           |          | ",
			" v      | bigint                   |           |          | ",
		}},
		{`\d mv`, []string{
			`Materialized view "public.mv"`,
			" k      | text    |           |          | ",
			" total  | numeric |           |          | ",
		}},
		{`\d+ tv`, []string{
			`View "public.tv"`,
			" v2     | bigint |           |          |         | plain    | ",
			"View definition:",
			"SELECT k, v * 2 AS v2 FROM ev",
		}},
		{`\d shop.orders`, []string{
			`Table "shop.orders"`,
			" amount | numeric |           |          | ",
		}},
		{`\df`, []string{"List of functions", "(0 rows)"}},
		{`\du`, []string{" cairn     | Superuser, Create role, Create DB, Bypass RLS | {}", " admin     | Create role, Create DB, Cannot login          | {}"}},
		{`\dp`, []string{
			" public | ev   | table             | cairn=ra/cairn   +|",
			"        |      |                   | =a/cairn          |",
			" public | mv   | materialized view | cairn=r/cairn    +|",
			"        |      |                   | readers=r/cairn   |",
			" public | dev  | table             |                   |",
		}},
		{`\l`, []string{
			"List of databases",
			" cairn | cairn | UTF8     | C       | C     |            | libc            | ",
			"(1 row)",
		}},
	}
	var script strings.Builder
	for i, tc := range cases {
		fmt.Fprintf(&script, "\\echo ==== %d\n%s\n", i, tc.cmd)
	}
	out := psqlRun(script.String())
	for i, tc := range cases {
		_, part, _ := strings.Cut(out, fmt.Sprintf("==== %d\n", i))
		part, _, _ = strings.Cut(part, "==== ")
		for _, w := range tc.want {
			if !strings.Contains(part, w) {
				t.Errorf("psql %s: output lacks %q:\n%s", tc.cmd, w, part)
			}
		}
	}
}
