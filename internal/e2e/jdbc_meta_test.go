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
// aggregating view as a materialized view, its transform as a view, and
// a table with a primary key (which both list with its index). The
// answers must be the same, apart from what is Cairn's own (its
// cairn_cluster schema).
func TestJDBCMetadata(t *testing.T) {
	java := compileJavaMeta(t, "Meta")
	pg := startPG15(t)
	pg.Exec(t,
		`CREATE TABLE ev (ts timestamptz, k text, v bigint)`,
		`CREATE MATERIALIZED VIEW mv AS SELECT k, sum(v) AS total, count(*) AS n FROM ev GROUP BY k`,
		`CREATE VIEW tv AS SELECT k, v * 2 AS v2 FROM ev`,
		`CREATE TABLE dev (id int PRIMARY KEY, site text NOT NULL DEFAULT 'x', n bigint)`,
	)
	p := NewProc(t)
	p.Start()
	c := p.Connect(t)
	for _, q := range []string{
		`CREATE STREAM ev (ts timestamptz, k text, v bigint)`,
		`CREATE MATERIALIZED VIEW mv AS SELECT k, sum(v) AS total, count(*) AS n FROM ev GROUP BY k`,
		`CREATE VIEW tv AS SELECT k, v * 2 AS v2 FROM ev`,
		`CREATE TABLE dev (id int PRIMARY KEY, site text NOT NULL DEFAULT 'x', n bigint)`,
	} {
		if _, err := c.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	// getPrimaryKeys is left out: pgjdbc reads it through
	// information_schema._pg_expandarray, a function returning a
	// composite, which Cairn does not have.
	calls := []string{"schemas", "tables", "columns", "types"}
	host, port, _ := strings.Cut(p.PGAddr, ":")
	got := lines(java(append([]string{fmt.Sprintf("jdbc:postgresql://%s:%s/cairn", host, port), "cairn"}, calls...)...))
	want := lines(java(append([]string{fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/postgres", pg.Port), pg.User}, calls...)...))

	// Everything but the type list must be equal, line for line, apart
	// from Cairn's own schema.
	gotMain := slices.DeleteFunc(slices.Clone(got), func(l string) bool {
		return strings.HasPrefix(l, "types:") || l == "schemas: TABLE_SCHEM=cairn_cluster"
	})
	wantMain := slices.DeleteFunc(slices.Clone(want), func(l string) bool { return strings.HasPrefix(l, "types:") })
	if !slices.Equal(gotMain, wantMain) {
		t.Fatalf("DatabaseMetaData answers differ\nCairn:\n%s\nPostgreSQL 15:\n%s", strings.Join(gotMain, "\n"), strings.Join(wantMain, "\n"))
	}
	if !slices.Contains(got, "schemas: TABLE_SCHEM=cairn_cluster") {
		t.Fatalf("Cairn's schemas lack cairn_cluster:\n%s", strings.Join(got, "\n"))
	}
	if !slices.Contains(got, "tables: TABLE_SCHEM=public TABLE_NAME=tv TABLE_TYPE=VIEW") {
		t.Fatalf("Cairn's tables lack the transform tv:\n%s", strings.Join(got, "\n"))
	}
	// getTypeInfo: PostgreSQL has types Cairn lacks; every type Cairn
	// lists must be described as PostgreSQL describes it.
	wantTypes := map[string]string{}
	for _, l := range want {
		if name, ok := typeName(l); ok {
			wantTypes[name] = l
		}
	}
	n := 0
	for _, l := range got {
		name, ok := typeName(l)
		if !ok {
			continue
		}
		n++
		if wantTypes[name] != l {
			t.Errorf("getTypeInfo: Cairn says %q, PostgreSQL 15 %q", l, wantTypes[name])
		}
	}
	for _, name := range []string{"int4", "int8", "text", "timestamptz", "numeric", "jsonb", "uuid", "_int4"} {
		if _, ok := wantTypes[name]; !ok {
			t.Fatalf("PostgreSQL 15 lists no type %s", name)
		}
		if !slices.ContainsFunc(got, func(l string) bool { s, ok := typeName(l); return ok && s == name }) {
			t.Errorf("getTypeInfo: Cairn lacks %s", name)
		}
	}
	t.Logf("Cairn and PostgreSQL 15 agree on:\n%s\nand on the %d types Cairn has", strings.Join(wantMain, "\n"), n)
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// typeName is the TYPE_NAME of a getTypeInfo line.
func typeName(l string) (string, bool) {
	rest, ok := strings.CutPrefix(l, "types: TYPE_NAME=")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, " ")
	return name, true
}
