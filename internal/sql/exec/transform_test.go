package exec

import (
	"testing"

	"github.com/cairndb/cairn/internal/sql/parser"
)

// TestRewriteExpr checks the reflective AST rewrite: every column
// reference, however deep (function arguments, CASE arms, IN lists,
// casts), is replaced, the input is left as it was, and a subquery is
// refused.
func TestRewriteExpr(t *testing.T) {
	const src = "SELECT CASE WHEN a > 1 THEN coalesce(b, a::int8) ELSE -a END, a IN (b, 2), a BETWEEN b AND 3 FROM s"
	stmts, _, err := parser.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].(*parser.Select)
	before := parser.Format(sel)
	n := 0
	out := *sel
	out.Items = nil
	for _, it := range sel.Items {
		e, err := rewriteExpr(it.Expr, func(r *parser.ColumnRef) (parser.Expr, error) {
			n++
			return &parser.ColumnRef{P: r.P, Table: "x", Name: r.Name + "2"}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		out.Items = append(out.Items, parser.SelectItem{Expr: e})
	}
	if n != 8 {
		t.Fatalf("rewrote %d references, want 8", n)
	}
	want := "SELECT CASE WHEN (x.a2 > 1) THEN coalesce(x.b2, x.a2::int8) ELSE (- x.a2) END, (x.a2 IN (x.b2, 2)), (x.a2 BETWEEN x.b2 AND 3) FROM s"
	if got := parser.Format(&out); got != want {
		t.Fatalf("rewritten:\n%s\nwant\n%s", got, want)
	}
	if after := parser.Format(sel); after != before {
		t.Fatalf("input changed:\n%s\nwas\n%s", after, before)
	}
	if _, err := rewriteExpr(&parser.Subquery{P: 7, Select: sel}, nil); err == nil {
		t.Fatal("subquery rewritten")
	}
}
