package exec

import (
	"context"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// runBudget plans and runs a SELECT under a memory budget of limit
// bytes, returning the rows it emitted and the budget.
func runBudget(t *testing.T, sql string, limit int64) (int, *scalar.Budget, error) {
	t.Helper()
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanSelect(stmts[0].(*parser.Select), resolver(map[string]Source{"events": sqlEvents()}), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := scalar.NewBudget(limit)
	n := 0
	err = p.Run(context.Background(), &Ctx{Mem: b}, func([]types.Datum) error { n++; return nil })
	return n, b, err
}

// TestOlapMemoryBudget checks the window stage and sorted series charge
// the statement's memory budget (53200 past it, nothing left charged
// after), while a streamed series runs in a small budget.
func TestOlapMemoryBudget(t *testing.T) {
	for _, sql := range []string{
		"SELECT i, row_number() OVER (ORDER BY i DESC) FROM generate_series(1, 100000) AS g(i)",
		"SELECT sum(i) OVER (PARTITION BY i % 10) FROM generate_series(1, 100000) AS g(i)",
		"SELECT i FROM generate_series(1, 100000) AS g(i) ORDER BY i DESC",
		"SELECT generate_series(1, 100000) AS i ORDER BY i DESC",
	} {
		_, b, err := runBudget(t, sql, 1<<20)
		if pgerr.Code(err) != pgerr.OutOfMemory {
			t.Errorf("%s: got %v, want 53200", sql, err)
		}
		if b.Used() > 1<<20 {
			t.Errorf("%s: %d bytes charged past the limit", sql, b.Used())
		}
	}
	// The same window query fits a larger budget, which it was charged to.
	n, b, err := runBudget(t, "SELECT i, row_number() OVER (ORDER BY i DESC) FROM generate_series(1, 10000) AS g(i)", 64<<20)
	if err != nil || n != 10000 {
		t.Fatalf("got %d rows, %v", n, err)
	}
	if b.Peak() == 0 {
		t.Error("the window stage charged nothing")
	}
	for _, sql := range []string{
		"SELECT count(*), sum(i) FROM generate_series(1, 200000) AS g(i)",
		"SELECT i FROM generate_series(1, 2000000000) AS g(i) LIMIT 5",
		"SELECT generate_series(1, 200000)",
	} {
		if _, b, err := runBudget(t, sql, 64<<10); err != nil {
			t.Errorf("%s: %v (peak %d)", sql, err, b.Peak())
		}
	}
}

// TestSRFRunsIndependent checks a select list's set-returning calls
// read the current values of their own run (keyed by the statement's
// Ctx): two runs of one plan at once, as two portals of a prepared
// statement may be, do not see each other's values.
func TestSRFRunsIndependent(t *testing.T) {
	stmts, _, err := parser.Parse("SELECT generate_series(1, 3) AS a")
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanSelect(stmts[0].(*parser.Select), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := p.olap.srf
	ec1, ec2 := &Ctx{}, &Ctx{}
	l.vals.Store(ec1, []types.Datum{types.NewInt(types.Int4, 1)})
	l.vals.Store(ec2, []types.Datum{types.NewInt(types.Int4, 2)})
	for want, ec := range map[int64]*Ctx{1: ec1, 2: ec2} {
		d, err := p.proj[0].Fn(ec, scalar.Input{})
		if err != nil || d.I != want {
			t.Errorf("run %d read %v (%v)", want, d, err)
		}
	}
	// A whole run leaves nothing behind.
	l.vals.Delete(ec1)
	l.vals.Delete(ec2)
	n := 0
	err = p.Run(context.Background(), &Ctx{}, func([]types.Datum) error { n++; return nil })
	if err != nil || n != 3 {
		t.Fatalf("%d rows, %v", n, err)
	}
	l.vals.Range(func(k, v any) bool { t.Errorf("left behind: %v", v); return false })
}
