package parser

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
)

func parseErr(t *testing.T, sql string) *Error {
	t.Helper()
	_, _, err := Parse(sql)
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("Parse(%.40q): want *Error, got %v", sql, err)
	}
	return pe
}

func TestEmptyInput(t *testing.T) {
	for _, sql := range []string{"", "   ", "\n\t", ";", " ; ;", "-- c", "/* c */"} {
		stmts, texts, err := Parse(sql)
		if err != nil || len(stmts) != 0 || len(texts) != 0 {
			t.Errorf("Parse(%q) = %v, %v, %v; want nothing", sql, stmts, texts, err)
		}
	}
	if s, err := ParseOne(" "); s != nil || err != nil {
		t.Errorf("ParseOne(blank) = %v, %v", s, err)
	}
}

func TestInvalidUTF8(t *testing.T) {
	e := parseErr(t, "SELECT 'é\xff'")
	if e.Code != pgerr.CharacterNotInRepertoire || e.Pos != 10 || !strings.Contains(e.Msg, `invalid byte sequence for encoding "UTF8": 0xff`) {
		t.Errorf("got %+v", e)
	}
	e = parseErr(t, "SELECT 1\x00")
	if e.Code != pgerr.CharacterNotInRepertoire || e.Pos != 9 {
		t.Errorf("NUL: got %+v", e)
	}
	// A truncated multi-byte sequence.
	if e = parseErr(t, "SELECT \xc3"); e.Code != pgerr.CharacterNotInRepertoire {
		t.Errorf("truncated: got %+v", e)
	}
}

func TestTooLong(t *testing.T) {
	sql := "SELECT '" + strings.Repeat("x", MaxQueryBytes) + "'"
	if e := parseErr(t, sql); e.Code != pgerr.ProgramLimitExceeded {
		t.Errorf("got %+v", e)
	}
	// Just under the limit is fine.
	sql = "SELECT '" + strings.Repeat("x", MaxQueryBytes-9) + "'"
	if _, _, err := Parse(sql); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

func TestDeepNesting(t *testing.T) {
	for _, sql := range []string{
		"SELECT " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000),
		"SELECT " + strings.Repeat("- ", 100000) + "1",
		"SELECT " + strings.Repeat("NOT ", 100000) + "true",
		"SELECT " + strings.Repeat("f(", 100000) + "1" + strings.Repeat(")", 100000),
		"SELECT " + strings.Repeat("CASE WHEN ", 100000),
		strings.Repeat("SELECT * FROM (", 50000),
		"SELECT 1" + strings.Repeat(" + 1", 100000),
		"SELECT true" + strings.Repeat(" OR true", 100000),
		"SELECT true" + strings.Repeat(" AND true", 100000),
		"SELECT 1" + strings.Repeat("::int", 100000),
	} {
		if e := parseErr(t, sql); e.Code != "54001" {
			t.Errorf("got %+v", e)
		}
	}
	// Moderate nesting and long chains are fine.
	if _, err := ParseExpr("1" + strings.Repeat(" + 1", 3000)); err != nil {
		t.Errorf("3000 terms: %v", err)
	}
	if _, err := ParseExpr(strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200)); err != nil {
		t.Errorf("200 parens: %v", err)
	}
}

func TestLongInputIsLinear(t *testing.T) {
	// A large multi-row INSERT with multi-byte text: positions are tracked
	// incrementally, so this must be fast.
	var b strings.Builder
	b.WriteString("INSERT INTO events VALUES ")
	for i := 0; i < 20000; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(now(), 42, 'über', 1.5)")
	}
	start := time.Now()
	stmts, _, err := Parse(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(stmts[0].(*Insert).Rows); n != 20000 {
		t.Fatalf("%d rows", n)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("parsing took %v", d)
	}
	last := stmts[0].(*Insert).Rows[19999][0]
	if want := b.Len() - len("(now(), 42, 'über', 1.5)") + 2 - 19999; last.Pos() != want {
		// Each row has one two-byte rune, so rune offsets lag byte offsets.
		t.Errorf("last row position %d, want %d", last.Pos(), want)
	}
}

func TestPositionsAndTexts(t *testing.T) {
	sql := "/* c */ SELECT 1;\n  select 'é', x FROM t"
	stmts, texts, err := Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 || texts[0] != "SELECT 1" || texts[1] != "select 'é', x FROM t" {
		t.Fatalf("texts %q", texts)
	}
	sel := stmts[1].(*Select)
	// AST positions count characters of the statement's own text, 1-based.
	if sel.P != 1 || sel.Items[0].Expr.Pos() != 8 || sel.Items[1].Expr.Pos() != 13 {
		t.Errorf("positions %d %d %d", sel.P, sel.Items[0].Expr.Pos(), sel.Items[1].Expr.Pos())
	}
	e := parseErr(t, "SELECT 'é' +")
	if e.Pos != 13 || e.Msg != "syntax error at end of input" {
		t.Errorf("got %+v", e)
	}
	// Error positions count characters of the whole input.
	for sql, pos := range map[string]int{
		"SELECT 1; SELECT 'é' + FROM": 24,
		"SELECT 1; SELECT 'é' +":      23,
		"SELECT 1; SELECT 'é' + ; x":  24,
		"SELECT 1; SELECT select":     18,
		"SELECT 1; SELECT $0":         18,
		"SELECT 1; SELECT a[1:2]":     21,
		"SELECT 1; SELECT 'é":         18,
	} {
		if e := parseErr(t, sql); e.Pos != pos {
			t.Errorf("%q: error %q at %d, want %d", sql, e.Msg, e.Pos, pos)
		}
	}
}

func TestErrorConversion(t *testing.T) {
	_, _, err := Parse("SELECT FROM")
	pe := pgerr.From(err)
	if pe.Code != pgerr.SyntaxError {
		t.Errorf("pgerr.From code %q", pe.Code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatal("not *Error")
	}
	if g := e.PGError(); g.Code != pgerr.SyntaxError || g.Position != 8 || g.Message != `syntax error at or near "FROM"` {
		t.Errorf("PGError %+v", g)
	}
}

func TestParseOne(t *testing.T) {
	s, err := ParseOne("SELECT 1;")
	if err != nil || s == nil {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := ParseOne("SELECT 1; SELECT 2"); err == nil {
		t.Error("two statements accepted")
	}
}

func TestCreateViewQueryText(t *testing.T) {
	sql := "CREATE MATERIALIZED VIEW mv AS\n SELECT a, count(*) -- c\n FROM s GROUP BY a\n SETTINGS checkpoint_settings = 'x';"
	stmts, _, err := Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	cv := stmts[0].(*CreateView)
	if cv.QueryText != "SELECT a, count(*) -- c\n FROM s GROUP BY a" {
		t.Errorf("QueryText %q", cv.QueryText)
	}
	q, _, err := Parse(cv.QueryText)
	if err != nil || Format(q[0]) != Format(cv.Query) {
		t.Errorf("QueryText re-parse: %v", err)
	}
	if len(cv.Settings) != 1 || cv.Settings[0].Key != "checkpoint_settings" {
		t.Errorf("settings %+v", cv.Settings)
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"a": "a", "A": `"A"`, "select": `"select"`, `a"b`: `"a""b"`, "1a": `"1a"`,
		"a1$": "a1$", "": `""`, "é": `"é"`, "value": "value",
	} {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func BenchmarkParseSelect(b *testing.B) {
	sql := "SELECT region, date_trunc('minute', ts) AS minute, avg(value) FROM events WHERE value > 0 AND region IN ('eu', 'us') GROUP BY region, minute ORDER BY 2 DESC LIMIT 10"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := Parse(sql); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseInsert1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("INSERT INTO events VALUES ")
	for i := 0; i < 1000; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("('2024-01-01 00:00:00+00', 42, 'eu', 1.5)")
	}
	sql := sb.String()
	b.SetBytes(int64(len(sql)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := Parse(sql); err != nil {
			b.Fatal(err)
		}
	}
}

func TestManyStringSegmentsIsLinear(t *testing.T) {
	sql := "SELECT 'a'" + strings.Repeat("\n'b'", 200000)
	start := time.Now()
	stmts, _, err := Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	lit := stmts[0].(*Select).Items[0].Expr.(*Literal)
	if len(lit.Val) != 200001 {
		t.Errorf("joined length %d", len(lit.Val))
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}
