package scalar

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

var exprCols = []Column{
	{Name: "i", T: types.Int4}, {Name: "b", T: types.Int8}, {Name: "f", T: types.Float8}, {Name: "s", T: types.Text},
	{Name: "n", T: types.Int4}, // always NULL
	{Name: "t", T: types.Bool}, {Name: "ts", T: types.TimestampTZ}, {Name: "sm", T: types.Int2},
}

// 2024-03-15 12:34:56.789 UTC
var tsVal = time.Date(2024, 3, 15, 12, 34, 56, 789000000, time.UTC).UnixMicro()

var exprRow = []types.Datum{
	ival(7), i8(1 << 40), f8(2.5), txt("Hello"), nul(types.Int4), types.NewBool(true),
	types.NewInt(types.TimestampTZ, tsVal), types.NewInt(types.Int2, 30000),
}

func TestEval(t *testing.T) {
	ec := &Ctx{Now: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Version: "Cairn 0.1",
		Setting: func(n string) (string, bool) {
			if n == "application_name" {
				return "psql", true
			}
			return "", false
		}}
	hour := cast(str("1 hour"), "interval")
	cases := []struct {
		e    parser.Expr
		t    types.T
		want string
	}{
		{bin("+", col("i"), num(3)), types.Int4, "10"},
		{bin("/", col("i"), num(2)), types.Int4, "3"},
		{bin("%", neg(col("i")), num(4)), types.Int4, "-3"},
		{bin("/", col("f"), num(2)), types.Float8, "1.25"},
		{bin("+", col("i"), flt("0.5")), types.Numeric, "7.5"},
		{bin("*", col("b"), num(2)), types.Int8, "2199023255552"},
		{bin("+", col("sm"), col("sm")), types.Int2, "error 22003"},
		{bin("*", col("i"), col("b")), types.Int8, "7696581394432"},
		{bin("/", col("i"), num(0)), types.Int4, "error 22012"},
		{bin("/", col("f"), num(0)), types.Float8, "error 22012"},
		{bin("*", num(2147483647), num(2)), types.Int4, "error 22003"},
		{bin("+", col("n"), num(1)), types.Int4, "NULL"},
		{bin("^", num(2), num(10)), types.Float8, "1024"},
		{bin("||", col("s"), str(" world")), types.Text, `"Hello world"`},
		{bin("||", col("s"), col("i")), types.Text, `"Hello7"`},
		{bin("=", col("i"), col("f")), types.Bool, "false"},
		{bin("<", col("i"), flt("7.5")), types.Bool, "true"},
		{bin("=", col("i"), str("7")), types.Bool, "true"},
		{bin(">", col("s"), str("Apple")), types.Bool, "true"},
		{bin("=", col("n"), col("n")), types.Bool, "NULL"},
		{bin("AND", col("t"), bin("=", col("n"), num(1))), types.Bool, "NULL"},
		{bin("AND", boolean(false), bin("=", col("n"), num(1))), types.Bool, "false"},
		{bin("OR", col("t"), bin("=", col("n"), num(1))), types.Bool, "true"},
		{bin("OR", boolean(false), bin("=", col("n"), num(1))), types.Bool, "NULL"},
		{not(bin("=", col("n"), num(1))), types.Bool, "NULL"},
		{not(col("t")), types.Bool, "false"},
		{&parser.IsNull{X: col("n")}, types.Bool, "true"},
		{&parser.IsNull{X: col("i"), Not: true}, types.Bool, "true"},
		{&parser.IsBool{X: bin("=", col("n"), num(1)), Val: true}, types.Bool, "false"},
		{&parser.IsBool{X: bin("=", col("n"), num(1)), Val: false, Not: true}, types.Bool, "true"},
		{&parser.InList{X: col("i"), List: []parser.Expr{num(1), num(7)}}, types.Bool, "true"},
		{&parser.InList{X: col("i"), List: []parser.Expr{num(1), null()}}, types.Bool, "NULL"},
		{&parser.InList{X: col("i"), List: []parser.Expr{num(1), num(2)}, Not: true}, types.Bool, "true"},
		{&parser.Between{X: col("i"), Lo: num(1), Hi: num(7)}, types.Bool, "true"},
		{&parser.Between{X: col("f"), Lo: num(3), Hi: num(7), Not: true}, types.Bool, "true"},
		{bin("LIKE", col("s"), str("H%o")), types.Bool, "true"},
		{bin("LIKE", col("s"), str("h%")), types.Bool, "false"},
		{bin("ILIKE", col("s"), str("h_LLO")), types.Bool, "true"},
		{bin("NOT LIKE", col("s"), str("%x%")), types.Bool, "true"},
		{&parser.Case{Whens: []parser.When{{Cond: bin(">", col("i"), num(5)), Then: str("big")}}, Else: str("small")}, types.Text, `"big"`},
		{&parser.Case{Operand: col("i"), Whens: []parser.When{{Cond: num(1), Then: num(10)}, {Cond: num(7), Then: flt("70.5")}}}, types.Numeric, "70.5"},
		{&parser.Case{Whens: []parser.When{{Cond: col("n"), Then: num(1)}}}, types.Int4, "error 42804"},
		{cast(col("f"), "integer"), types.Int4, "2"},   // rint: half to even
		{cast(flt("2.5"), "integer"), types.Int4, "3"}, // numeric: half away from zero
		{cast(cast(str("3.5"), "float8"), "int"), types.Int4, "4"},
		{cast(col("i"), "float8"), types.Float8, "7"},
		{cast(col("b"), "int4"), types.Int4, "error 22003"},
		{cast(col("i"), "text"), types.Text, `"7"`},
		{cast(col("t"), "text"), types.Text, `"true"`},
		{cast(col("t"), "int"), types.Int4, "1"},
		{cast(num(0), "boolean"), types.Bool, "false"},
		{cast(str("42"), "bigint"), types.Int8, "42"},
		{cast(str("x42"), "bigint"), types.Int8, "error 22P02"},
		{cast(flt("3.14159"), "numeric", 10, 2), types.Numeric, "3.14"},
		{cast(col("s"), "varchar", 3), types.Text, `"Hel"`},
		{cast(col("ts"), "date"), types.Date, "2024-03-15"},
		{cast(col("ts"), "timestamp"), types.Timestamp, "2024-03-15 12:34:56.789"},
		{cast(cast(col("ts"), "date"), "timestamptz"), types.TimestampTZ, "2024-03-15 00:00:00"},
		{cast(col("ts"), "integer"), types.Int4, "error 42846"},
		{fn("date_trunc", str("minute"), col("ts")), types.TimestampTZ, "2024-03-15 12:34:00"},
		{fn("date_trunc", str("hour"), col("ts")), types.TimestampTZ, "2024-03-15 12:00:00"},
		{fn("date_trunc", str("day"), col("ts")), types.TimestampTZ, "2024-03-15 00:00:00"},
		{fn("date_trunc", str("week"), col("ts")), types.TimestampTZ, "2024-03-11 00:00:00"},
		{fn("date_trunc", str("month"), col("ts")), types.TimestampTZ, "2024-03-01 00:00:00"},
		{fn("date_trunc", str("quarter"), col("ts")), types.TimestampTZ, "2024-01-01 00:00:00"},
		{fn("date_trunc", str("year"), col("ts")), types.TimestampTZ, "2024-01-01 00:00:00"},
		{fn("date_trunc", str("millisecond"), col("ts")), types.TimestampTZ, "2024-03-15 12:34:56.789"},
		{fn("date_trunc", str("second"), col("ts")), types.TimestampTZ, "2024-03-15 12:34:56"},
		{fn("date_trunc", str("fortnight"), col("ts")), types.TimestampTZ, "error 22023"},
		{fn("date_part", str("hour"), col("ts")), types.Float8, "12"},
		{fn("extract", str("dow"), col("ts")), types.Numeric, "5"},
		{fn("extract", str("doy"), col("ts")), types.Numeric, "75"},
		{fn("extract", str("second"), col("ts")), types.Numeric, "56.789000"},
		{fn("now"), types.TimestampTZ, "2024-01-02 03:04:05"},
		{&parser.ColumnRef{Name: "current_timestamp"}, types.TimestampTZ, "2024-01-02 03:04:05"},
		{fn("current_date"), types.Date, "2024-01-02"},
		{bin("-", fn("now"), hour), types.TimestampTZ, "2024-01-02 02:04:05"},
		{bin("+", col("ts"), cast(str("1 month"), "interval")), types.TimestampTZ, "2024-04-15 12:34:56.789"},
		{bin("-", col("ts"), fn("date_trunc", str("day"), col("ts"))), types.Interval, "0mon 0d 45296789000us"},
		{bin("-", col("ts"), bin("-", col("ts"), cast(str("3 days"), "interval"))), types.Interval, "0mon 3d 0us"},
		{bin("*", hour, num(3)), types.Interval, "0mon 0d 10800000000us"},
		{bin("-", cast(str("2024-03-01"), "date"), cast(str("2024-02-01"), "date")), types.Int4, "29"},
		{bin("+", cast(str("2024-02-28"), "date"), num(2)), types.Date, "2024-03-01"},
		{fn("coalesce", col("n"), col("i")), types.Int4, "7"},
		{fn("coalesce", col("n"), null()), types.Int4, "NULL"},
		{fn("nullif", col("i"), num(7)), types.Int4, "NULL"},
		{fn("greatest", col("i"), num(3), col("f")), types.Float8, "7"},
		{fn("least", col("i"), num(3), col("n")), types.Int4, "3"},
		{fn("lower", col("s")), types.Text, `"hello"`},
		{fn("upper", col("s")), types.Text, `"HELLO"`},
		{fn("length", col("s")), types.Int4, "5"},
		{fn("abs", neg(col("i"))), types.Int4, "7"},
		{fn("abs", neg(col("f"))), types.Float8, "2.5"},
		{fn("round", col("f")), types.Float8, "2"},
		{fn("round", flt("2.5")), types.Numeric, "3"},
		{fn("round", flt("2.675"), num(2)), types.Numeric, "2.68"},
		{fn("round", col("f"), num(0)), types.Numeric, "3"},
		{fn("round", num(1234), neg(num(2))), types.Numeric, "1200"},
		{fn("version"), types.Text, `"Cairn 0.1"`},
		{fn("current_setting", str("application_name")), types.Text, `"psql"`},
		{fn("current_setting", str("nope")), types.Text, "error 42704"},
		{fn("current_setting", str("nope"), boolean(true)), types.Text, "NULL"},
		{fn("substr", col("s"), num(2), num(3)), types.Text, `"ell"`},
		{fn("concat", col("s"), col("n"), num(1)), types.Text, `"Hello1"`},
		{fn("mod", num(7), num(3)), types.Int4, "1"},
		{str("plain"), types.Text, `"plain"`},
		{null(), types.Text, "NULL"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d-%T", i, tc.e), func(t *testing.T) {
			e, err := Compile(tc.e, exprCols, nil)
			var got string
			if err == nil {
				if e.Type() != tc.t {
					t.Errorf("type %s, want %s", e.Type(), tc.t)
				}
				var d types.Datum
				d, err = e.EvalRow(ec, exprRow)
				if err == nil {
					got = show(d)
					// The batch path must agree with the row path.
					b := types.NewBatch(colTypes(exprCols))
					b.AppendRow(exprRow)
					d2, err2 := e.EvalBatch(ec, b, 0)
					if err2 != nil || show(d2) != got {
						t.Errorf("EvalBatch = %s, %v; EvalRow = %s", show(d2), err2, got)
					}
				}
			}
			if err != nil {
				got = "error " + pgerr.Code(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s (err %v)", got, tc.want, err)
			}
		})
	}
}

func colTypes(cols []Column) []types.T {
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		ts[i] = c.T
	}
	return ts
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		e    parser.Expr
		code string
		pos  int
		msg  string
	}{
		{colAt(12, "nope"), "42703", 12, `column "nope" does not exist`},
		{bin("+", col("i"), colAt(20, "zz")), "42703", 20, `column "zz" does not exist`},
		{&parser.Func{P: 9, Name: "foo", Args: []parser.Expr{col("i")}}, "42883", 9, "function foo(integer) does not exist"},
		{&parser.Func{P: 9, Name: "lower", Args: []parser.Expr{col("i")}}, "42883", 9, "function lower(integer) does not exist"},
		{&parser.Func{P: 9, Name: "lower"}, "42883", 9, "function lower() does not exist"},
		{&parser.Func{P: 9, Name: "date_trunc", Args: []parser.Expr{str("x")}}, "42883", 9, "function date_trunc(unknown) does not exist"},
		{&parser.Binary{P: 4, Op: "+", L: col("s"), R: col("i")}, "42883", 4, "operator does not exist: text + integer"},
		{&parser.Binary{P: 4, Op: "=", L: col("s"), R: col("i")}, "42883", 4, "operator does not exist: text = integer"},
		{&parser.Binary{P: 4, Op: "AND", L: col("t"), R: colAt(15, "i")}, "42804", 15, "argument of AND must be type boolean, not type integer"},
		{&parser.Binary{P: 4, Op: "=", L: col("ts"), R: &parser.Literal{P: 11, Kind: parser.LitString, Val: "garbage"}}, "", 11, ""},
		{&parser.Cast{P: 5, X: col("i"), Type: parser.TypeName{P: 8, Name: "blob"}}, "42704", 8, `type "blob" does not exist`},
		{&parser.Func{P: 6, Name: "sum", Args: []parser.Expr{col("i")}}, "42803", 6, "aggregate functions are not allowed in this context"},
	}
	for _, tc := range cases {
		_, err := Compile(tc.e, exprCols, nil)
		if err == nil {
			t.Errorf("%T: no error", tc.e)
			continue
		}
		pe, ok := err.(*pgerr.Error)
		if !ok {
			t.Errorf("%v: not a *pgerr.Error", err)
			continue
		}
		if tc.code != "" && pe.Code != tc.code || pe.Position != tc.pos || (tc.msg != "" && pe.Message != tc.msg) {
			t.Errorf("got %s %q at %d, want %s %q at %d", pe.Code, pe.Message, pe.Position, tc.code, tc.msg, tc.pos)
		}
	}
}

func TestParamInference(t *testing.T) {
	pt := &ParamTypes{}
	e, err := Compile(bin("AND", bin("=", col("i"), param(1)), bin(">", col("s"), param(3))), exprCols, pt)
	if err != nil {
		t.Fatal(err)
	}
	want := []types.T{types.Int4, types.Unknown, types.Text}
	if fmt.Sprint(pt.Types) != fmt.Sprint(want) {
		t.Fatalf("param types %v, want %v", pt.Types, want)
	}
	// A text-format parameter for an integer slot is converted.
	ec := &Ctx{Params: []types.Datum{txt("7"), nul(types.Text), txt("A")}}
	d, err := e.EvalRow(ec, exprRow)
	if err != nil || show(d) != "true" {
		t.Fatalf("got %s, %v", show(d), err)
	}
	// A declared type wins over inference.
	pt = &ParamTypes{Types: []types.T{types.Int8}}
	if _, err := Compile(bin("=", col("i"), param(1)), exprCols, pt); err != nil || pt.Types[0] != types.Int8 {
		t.Fatalf("declared type lost: %v %v", pt.Types, err)
	}
	// Missing parameter at run time.
	e, _ = Compile(param(2), exprCols, nil)
	if _, err := e.EvalRow(&Ctx{}, exprRow); pgerr.Code(err) != "42P02" {
		t.Fatalf("missing param: %v", err)
	}
}

func TestCoerce(t *testing.T) {
	cases := []struct {
		d    types.Datum
		t    types.T
		want string
	}{
		{ival(3), types.Float8, "3"},
		{f8(2.5), types.Int4, "2"},
		{f8(3.5), types.Int8, "4"},
		{f8(1e20), types.Int8, "error 22003"},
		{i8(70000), types.Int2, "error 22003"},
		{txt("12"), types.Int4, "12"},
		{txt("zz"), types.Int4, "error 22P02"},
		{ival(5), types.Text, `"5"`},
		{types.NewBool(true), types.Int4, "error 42804"},
		{nul(types.Text), types.Int4, "NULL"},
		{types.NewInt(types.Date, 1), types.TimestampTZ, "1970-01-02 00:00:00"},
		{f8(math.Inf(1)), types.Float4, "+Inf"},
	}
	for _, tc := range cases {
		d, err := Coerce(tc.d, tc.t)
		got := show(d)
		if err != nil {
			got = "error " + pgerr.Code(err)
		} else if d.T != tc.t {
			t.Errorf("Coerce(%v, %s) type %s", tc.d, tc.t, d.T)
		}
		if got != tc.want {
			t.Errorf("Coerce(%v, %s) = %s, want %s", tc.d, tc.t, got, tc.want)
		}
	}
}

func TestLike(t *testing.T) {
	cases := []struct {
		s, p string
		fold bool
		want bool
	}{
		{"abc", "abc", false, true}, {"abc", "a%", false, true}, {"abc", "%c", false, true},
		{"abc", "%b%", false, true}, {"abc", "a_c", false, true}, {"abc", "a_", false, false},
		{"", "%", false, true}, {"", "_", false, false}, {"a%c", `a\%c`, false, true},
		{"abc", `a\%c`, false, false}, {"ÄBC", "äbc", true, true}, {"ÄBC", "äbc", false, false},
		{"aaaaaaaaaaaaaaaaaaaab", "%a%a%a%a%a%b", false, true}, {"mississippi", "%iss%ppi", false, true},
		{"héllo", "h_llo", false, true},
	}
	for _, tc := range cases {
		if got := likeMatch(tc.s, tc.p, tc.fold); got != tc.want {
			t.Errorf("likeMatch(%q, %q, %v) = %v", tc.s, tc.p, tc.fold, got)
		}
	}
}

func TestCivilRoundTrip(t *testing.T) {
	for days := int64(-800000); days < 800000; days += 97 {
		y, m, d := civil(days)
		if back := daysFromCivil(y, m, d); back != days {
			t.Fatalf("%d -> %d-%d-%d -> %d", days, y, m, d, back)
		}
		tm := time.Unix(days*86400, 0).UTC()
		if tm.Year() != y || int(tm.Month()) != m || tm.Day() != d {
			t.Fatalf("%d: civil %d-%d-%d, time %v", days, y, m, d, tm)
		}
	}
	// Month arithmetic clamps to the end of the month.
	jan31 := daysFromCivil(2024, 1, 31) * usPerDay
	got, _ := addInterval(jan31, types.IntervalValue{Months: 1}, 1)
	if y, m, d := civil(got / usPerDay); y != 2024 || m != 2 || d != 29 {
		t.Fatalf("jan 31 + 1 month = %d-%d-%d", y, m, d)
	}
}

func TestCompileAssign(t *testing.T) {
	cases := []struct {
		e    parser.Expr
		t    types.T
		want string
	}{
		{num(3), types.Float8, "3"},
		{flt("2.5"), types.Int4, "3"},
		{str("12"), types.Int8, "12"},
		{str("x"), types.Int8, "error 22P02"},
		{null(), types.Text, "NULL"},
		{num(5), types.Text, `"5"`},
		{boolean(true), types.Int4, "error 42804"},
		{num(70000), types.Int2, "error 22003"},
		{bin("-", fn("now"), cast(str("1 day"), "interval")), types.TimestampTZ, "2024-01-01 00:00:00"},
		{fn("now"), types.Date, "2024-01-02"},
	}
	ec := &Ctx{Now: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
	for i, tc := range cases {
		var got string
		e, err := CompileAssign(tc.e, nil, tc.t, nil)
		if err == nil {
			if e.Type() != tc.t {
				t.Errorf("%v: type %s", tc.e, e.Type())
			}
			var d types.Datum
			if d, err = e.EvalRow(ec, nil); err == nil {
				got = show(d)
			}
		}
		if err != nil {
			got = "error " + pgerr.Code(err)
		}
		if got != tc.want {
			t.Errorf("CompileAssign case %d (%T, %s) = %s, want %s", i, tc.e, tc.t, got, tc.want)
		}
	}
	pt := &ParamTypes{}
	if _, err := CompileAssign(param(2), nil, types.Int8, pt); err != nil || len(pt.Types) != 2 || pt.Types[1] != types.Int8 {
		t.Fatalf("param inference: %v %v", pt.Types, err)
	}
}

// TestEvalBatchNoAllocs checks typical filter and key expressions read a
// batch without allocating.
func TestEvalBatchNoAllocs(t *testing.T) {
	b := types.NewBatch(colTypes(exprCols))
	for i := 0; i < 4; i++ {
		b.AppendRow(exprRow)
	}
	ec := &Ctx{Now: time.Unix(0, 0)}
	for i, e := range []parser.Expr{
		bin("AND", bin(">", col("f"), num(1)), bin("=", col("s"), str("Hello"))),
		bin("LIKE", col("s"), str("H%o")),
		fn("date_trunc", str("minute"), col("ts")),
		bin(">", col("ts"), bin("-", fn("now"), cast(str("1 hour"), "interval"))),
		bin("+", bin("*", col("i"), num(2)), col("b")),
		&parser.InList{X: col("i"), List: []parser.Expr{num(1), num(7)}},
		cast(col("f"), "integer"),
		fn("coalesce", col("n"), col("i")),
	} {
		x, err := Compile(e, exprCols, nil)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(50, func() {
			for i := 0; i < b.N; i++ {
				if _, err := x.EvalBatch(ec, b, i); err != nil {
					t.Fatal(err)
				}
			}
		})
		if allocs != 0 {
			t.Errorf("case %d (%T): %v allocations per batch", i, e, allocs)
		}
	}
}
