package session

import (
	"context"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
)

// TestRunReadOnly: the console's runner refuses every statement that may
// write, before it runs (the catalog is unchanged), runs queries, SHOW
// and EXPLAIN, and stops a query at the row limit.
func TestRunReadOnly(t *testing.T) {
	f := newFake()
	ctx := context.Background()
	for _, sql := range []string{
		"CREATE STREAM s (x int8)",
		"INSERT INTO s VALUES (1)",
		"DROP STREAM s",
		"SET application_name = 'x'",
		"ALTER SYSTEM SET dead_after = '2s'",
		"BEGIN",
		"CREATE ROLE bob LOGIN",
		"ALTER NODE 'n1' DRAIN",
		"COPY s FROM STDIN",
	} {
		before := f.cat
		_, _, err := RunReadOnly(ctx, f, "cairn", sql, 10)
		e := pgerr.From(err)
		if err == nil || e.Code != "25006" || !strings.Contains(e.Message, "read-only") || e.Hint == "" {
			t.Errorf("%s: got %v (code %s), want 25006 read-only with a hint", sql, err, e.Code)
		}
		if f.cat != before {
			t.Errorf("%s: the catalog changed", sql)
		}
	}
	if _, _, err := RunReadOnly(ctx, f, "cairn", "SELECT 1; SELECT 2", 10); pgerr.From(err).Code != pgerr.SyntaxError {
		t.Errorf("two statements: %v", err)
	}
	if _, _, err := RunReadOnly(ctx, f, "cairn", " ; ", 10); pgerr.From(err).Code != pgerr.SyntaxError {
		t.Errorf("no statement: %v", err)
	}
	res, more, err := RunReadOnly(ctx, f, "cairn", "SELECT 40 + 2 AS answer", 10)
	if err != nil || more || len(res.Rows) != 1 || *res.Rows[0][0] != "42" || res.Columns[0] != "answer" {
		t.Fatalf("SELECT: %+v more=%v err=%v", res, more, err)
	}
	res, more, err = RunReadOnly(ctx, f, "cairn", "VALUES (1), (2), (3), (4)", 2)
	if err != nil || !more || len(res.Rows) != 2 {
		t.Fatalf("row limit 2 of 4: %+v more=%v err=%v", res, more, err)
	}
	if _, _, err := RunReadOnly(ctx, f, "cairn", "SHOW application_name", 10); err != nil {
		t.Errorf("SHOW: %v", err)
	}
	if _, _, err := RunReadOnly(ctx, f, "cairn", "EXPLAIN SELECT 1", 10); err != nil {
		t.Errorf("EXPLAIN: %v", err)
	}
}
