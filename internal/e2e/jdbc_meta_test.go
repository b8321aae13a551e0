package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestJDBCMetadata asks pgjdbc's DatabaseMetaData about a Cairn node and
// about a PostgreSQL 15 (started by the test) holding objects of the
// same shape: Cairn's stream as a table with the same columns, its
// aggregating view as a materialized view. The answers must be the
// same, apart from what is Cairn's own (its cairn_cluster schema).
func TestJDBCMetadata(t *testing.T) {
	java := compileJavaMeta(t, "Meta")
	pg := startPG15(t)
	pg.Exec(t,
		`CREATE TABLE ev (ts timestamptz, k text, v bigint)`,
		`CREATE MATERIALIZED VIEW mv AS SELECT k, sum(v) AS total FROM ev GROUP BY k`,
	)
	p := NewProc(t)
	p.Start()
	c := p.Connect(t)
	for _, q := range []string{
		`CREATE STREAM ev (ts timestamptz, k text, v bigint)`,
		`CREATE MATERIALIZED VIEW mv AS SELECT k, sum(v) AS total FROM ev GROUP BY k`,
	} {
		if _, err := c.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	calls := []string{"schemas"}
	host, port, _ := strings.Cut(p.PGAddr, ":")
	got := java(append([]string{fmt.Sprintf("jdbc:postgresql://%s:%s/cairn", host, port), "cairn"}, calls...)...)
	want := java(append([]string{fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/postgres", pg.Port), pg.User}, calls...)...)
	gotLines := slices.DeleteFunc(strings.Split(strings.TrimSpace(got), "\n"), func(l string) bool {
		return strings.Contains(l, "cairn_cluster")
	})
	wantLines := strings.Split(strings.TrimSpace(want), "\n")
	if !slices.Equal(gotLines, wantLines) {
		t.Fatalf("DatabaseMetaData answers differ\nCairn:\n%s\nPostgreSQL 15:\n%s", strings.Join(gotLines, "\n"), strings.Join(wantLines, "\n"))
	}
	if !strings.Contains(got, "schemas: TABLE_SCHEM=cairn_cluster") {
		t.Fatalf("Cairn's schemas lack cairn_cluster:\n%s", got)
	}
	t.Logf("Cairn and PostgreSQL 15 agree on:\n%s", strings.Join(wantLines, "\n"))
}
