package exec

import (
	"context"
	"math/rand"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

var eventCols = []Column{{Name: "ts", T: types.TimestampTZ}, {Name: "device_id", T: types.Int4}, {Name: "region", T: types.Text}, {Name: "value", T: types.Float8}}

func ev(ts int64, dev int64, region string, v float64) []types.Datum {
	r := []types.Datum{types.NewInt(types.TimestampTZ, ts*1000000), ival(dev), txt(region), f8(v)}
	if region == "" {
		r[2] = nul(types.Text)
	}
	if v < 0 {
		r[3] = nul(types.Float8)
	}
	return r
}

func testEvents() *memSource {
	return &memSource{cols: eventCols, rows: [][]types.Datum{
		ev(0, 1, "eu", 1.5),
		ev(30, 2, "us", 2),
		ev(61, 1, "eu", 3),
		ev(62, 3, "", 10),
		ev(125, 2, "us", -1), // NULL value
		ev(130, 1, "ap", 0.5),
	}}
}

func resolver(srcs map[string]Source) Resolver {
	return func(schema, name string) (Source, error) {
		if s, ok := srcs[name]; ok {
			return s, nil
		}
		return nil, pgerr.UndefinedTableErr("relation", name)
	}
}

// runSelect plans and runs sel over events, returning rows rendered as
// "a|b|c" lines, and the column names.
func runSelect(t *testing.T, sel *parser.Select, src Source) (string, []Column, error) {
	t.Helper()
	p, err := PlanSelect(sel, resolver(map[string]Source{"events": src}), nil)
	if err != nil {
		return "", nil, err
	}
	var out []string
	err = p.Run(context.Background(), &Ctx{}, func(row []types.Datum) error {
		parts := make([]string, len(row))
		for i, d := range row {
			parts[i] = show(d)
		}
		out = append(out, strings.Join(parts, "|"))
		return nil
	})
	return strings.Join(out, "\n"), p.Columns(), err
}

func from(name string) *parser.TableRef { return &parser.TableRef{P: 20, Name: name} }

func asc(e parser.Expr) parser.OrderItem  { return parser.OrderItem{Expr: e} }
func desc(e parser.Expr) parser.OrderItem { return parser.OrderItem{Expr: e, Desc: true} }

func TestSelect(t *testing.T) {
	tru := true
	cases := []struct {
		name string
		sel  *parser.Select
		cols string
		want string
	}{
		{"star", &parser.Select{Items: []parser.SelectItem{item(&parser.Star{}, "")}, From: from("events"),
			Where: bin("=", col("device_id"), num(3))},
			"ts:timestamp with time zone,device_id:integer,region:text,value:double precision",
			`1970-01-01 00:01:02|3|NULL|10`},
		{"project where order limit", &parser.Select{
			Items: []parser.SelectItem{item(col("device_id"), ""), item(bin("*", col("value"), num(2)), "dbl")},
			From:  from("events"), Where: bin(">", col("value"), num(1)),
			OrderBy: []parser.OrderItem{desc(col("dbl"))}, Limit: num(2)},
			"device_id:integer,dbl:double precision", "3|20\n1|6"},
		{"offset and order by input column not selected", &parser.Select{
			Items: []parser.SelectItem{item(col("region"), "")}, From: from("events"),
			OrderBy: []parser.OrderItem{asc(col("ts"))}, Offset: num(4)},
			"region:text", `"us"` + "\n" + `"ap"`},
		{"group by with aggregates", &parser.Select{
			Items: []parser.SelectItem{item(col("device_id"), ""), item(countStar(), "n"), item(fn("sum", col("value")), ""),
				item(fn("max", col("value")), "peak"), item(fn("avg", col("value")), ""), item(fn("count", col("value")), "")},
			From: from("events"), GroupBy: []parser.Expr{col("device_id")}, OrderBy: []parser.OrderItem{asc(num(1))}},
			"device_id:integer,n:bigint,sum:double precision,peak:double precision,avg:double precision,count:bigint",
			"1|3|5|3|1.6666666666666667|3\n2|2|2|2|2|1\n3|1|10|10|10|1"},
		{"group by ordinal and expression over keys", &parser.Select{
			Items: []parser.SelectItem{item(fn("date_trunc", str("minute"), col("ts")), "minute"),
				item(bin("/", fn("sum", col("value")), countStar()), "")},
			From: from("events"), GroupBy: []parser.Expr{num(1)}, OrderBy: []parser.OrderItem{desc(col("minute"))}},
			"minute:timestamp with time zone,?column?:double precision",
			"1970-01-01 00:02:00|0.25\n1970-01-01 00:01:00|6.5\n1970-01-01 00:00:00|1.75"},
		{"group by alias, having", &parser.Select{
			Items: []parser.SelectItem{item(fn("upper", col("region")), "r"), item(countStar(), "")},
			From:  from("events"), GroupBy: []parser.Expr{col("r")},
			Having: bin(">", countStar(), num(1)), OrderBy: []parser.OrderItem{asc(col("r"))}},
			"r:text,count:bigint", `"EU"|2` + "\n" + `"US"|2`},
		{"nulls first/last", &parser.Select{
			Items: []parser.SelectItem{item(col("region"), "")}, From: from("events"), Distinct: true,
			OrderBy: []parser.OrderItem{asc(col("region"))}},
			"region:text", `"ap"` + "\n" + `"eu"` + "\n" + `"us"` + "\nNULL"},
		{"desc nulls first default", &parser.Select{
			Items: []parser.SelectItem{item(col("region"), "")}, From: from("events"), Distinct: true,
			OrderBy: []parser.OrderItem{desc(col("region"))}},
			"region:text", "NULL\n" + `"us"` + "\n" + `"eu"` + "\n" + `"ap"`},
		{"asc nulls first", &parser.Select{
			Items: []parser.SelectItem{item(col("region"), "")}, From: from("events"), Distinct: true,
			OrderBy: []parser.OrderItem{{Expr: col("region"), NullsFirst: &tru}}},
			"region:text", "NULL\n" + `"ap"` + "\n" + `"eu"` + "\n" + `"us"`},
		{"aggregates on empty input", &parser.Select{
			Items: []parser.SelectItem{item(countStar(), ""), item(fn("sum", col("value")), ""), item(fn("min", col("region")), "")},
			From:  from("events"), Where: boolean(false)},
			"count:bigint,sum:double precision,min:text", "0|NULL|NULL"},
		{"group by on empty input", &parser.Select{
			Items: []parser.SelectItem{item(countStar(), "")}, From: from("events"), Where: boolean(false),
			GroupBy: []parser.Expr{col("region")}},
			"count:bigint", ""},
		{"count distinct", &parser.Select{
			Items: []parser.SelectItem{item(&parser.Func{Name: "count", Distinct: true, Args: []parser.Expr{col("device_id")}}, "")},
			From:  from("events")},
			"count:bigint", "3"},
		{"select without from", &parser.Select{
			Items: []parser.SelectItem{item(num(1), ""), item(cast(str("1 day"), "interval"), ""), item(boolean(true), ""), item(str("x"), "")}},
			"?column?:integer,interval:interval,bool:boolean,?column?:text", `1|0mon 1d 0us|true|"x"`},
		{"count without from", &parser.Select{Items: []parser.SelectItem{item(countStar(), "")}}, "count:bigint", "1"},
		{"subquery", &parser.Select{
			Items: []parser.SelectItem{item(fn("max", col("n")), "")},
			From: &parser.TableRef{Alias: "s", Subquery: &parser.Select{
				Items: []parser.SelectItem{item(col("region"), ""), item(countStar(), "n")},
				From:  from("events"), GroupBy: []parser.Expr{col("region")}}}},
			"max:bigint", "2"},
		{"sum of ints is bigint", &parser.Select{
			Items: []parser.SelectItem{item(fn("sum", col("device_id")), ""), item(fn("min", col("ts")), "")}, From: from("events")},
			"sum:bigint,min:timestamp with time zone", "10|1970-01-01 00:00:00"},
		{"where with text literal compared to timestamp", &parser.Select{
			Items: []parser.SelectItem{item(countStar(), "")}, From: from("events"),
			Where: bin(">=", col("ts"), str("1970-01-01 00:01:00+00"))},
			"count:bigint", "4"},
		{"limit 0", &parser.Select{Items: []parser.SelectItem{item(col("ts"), "")}, From: from("events"), Limit: num(0)}, "ts:timestamp with time zone", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, cols, err := runSelect(t, tc.sel, testEvents())
			if err != nil {
				t.Fatal(err)
			}
			var cs []string
			for _, c := range cols {
				cs = append(cs, c.Name+":"+c.T.String())
			}
			if s := strings.Join(cs, ","); s != tc.cols {
				t.Errorf("columns %s, want %s", s, tc.cols)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	cases := []struct {
		name string
		sel  *parser.Select
		code string
		pos  int
		msg  string
	}{
		{"ungrouped column", &parser.Select{Items: []parser.SelectItem{item(colAt(8, "region"), ""), item(countStar(), "")},
			From: from("events"), GroupBy: []parser.Expr{col("device_id")}},
			"42803", 8, `column "region" must appear in the GROUP BY clause or be used in an aggregate function`},
		{"ungrouped column with aggregate only", &parser.Select{Items: []parser.SelectItem{item(colAt(8, "region"), ""), item(countStar(), "")},
			From: from("events")}, "42803", 8, ""},
		{"missing table", &parser.Select{Items: []parser.SelectItem{item(num(1), "")}, From: from("nope")}, "42P01", 20, ""},
		{"unknown column", &parser.Select{Items: []parser.SelectItem{item(colAt(11, "zz"), "")}, From: from("events")}, "42703", 11, ""},
		{"aggregate in where", &parser.Select{Items: []parser.SelectItem{item(num(1), "")}, From: from("events"),
			Where: bin(">", &parser.Func{P: 30, Name: "count", Star: true}, num(1))}, "42803", 30, "aggregate functions are not allowed in WHERE"},
		{"nested aggregate", &parser.Select{Items: []parser.SelectItem{item(fn("sum", &parser.Func{P: 14, Name: "max", Args: []parser.Expr{col("value")}}), "")},
			From: from("events")}, "42803", 14, "aggregate function calls cannot be nested"},
		{"where not boolean", &parser.Select{Items: []parser.SelectItem{item(num(1), "")}, From: from("events"), Where: colAt(25, "device_id")},
			"42804", 25, "argument of WHERE must be type boolean, not type integer"},
		{"order by position", &parser.Select{Items: []parser.SelectItem{item(num(1), "")}, OrderBy: []parser.OrderItem{asc(&parser.Literal{P: 19, Kind: parser.LitInt, Val: "2"})}},
			"42P10", 19, ""},
		{"star without from", &parser.Select{Items: []parser.SelectItem{item(&parser.Star{P: 8}, "")}}, "42601", 8, ""},
		{"sum of text", &parser.Select{Items: []parser.SelectItem{item(fn("sum", col("region")), "")}, From: from("events")}, "42883", 3, "function sum(text) does not exist"},
		{"distinct order by hidden", &parser.Select{Distinct: true, Items: []parser.SelectItem{item(col("region"), "")}, From: from("events"),
			OrderBy: []parser.OrderItem{asc(colAt(40, "ts"))}}, "42P10", 40, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runSelect(t, tc.sel, testEvents())
			pe, ok := err.(*pgerr.Error)
			if !ok {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if pe.Code != tc.code || pe.Position != tc.pos || (tc.msg != "" && pe.Message != tc.msg) {
				t.Errorf("got %s %q at %d, want %s %q at %d", pe.Code, pe.Message, pe.Position, tc.code, tc.msg, tc.pos)
			}
		})
	}
}

func TestSelectLimitParam(t *testing.T) {
	pt := &ParamTypes{}
	sel := &parser.Select{Items: []parser.SelectItem{item(col("device_id"), "")}, From: from("events"),
		Where: bin("=", col("region"), param(1)), Limit: param(2)}
	p, err := PlanSelect(sel, resolver(map[string]Source{"events": testEvents()}), pt)
	if err != nil {
		t.Fatal(err)
	}
	if len(pt.Types) != 2 || pt.Types[0] != types.Text || pt.Types[1] != types.Int8 {
		t.Fatalf("param types %v", pt.Types)
	}
	var n int
	err = p.Run(context.Background(), &Ctx{Params: []types.Datum{txt("eu"), i8(1)}}, func([]types.Datum) error { n++; return nil })
	if err != nil || n != 1 {
		t.Fatalf("rows %d, err %v", n, err)
	}
	err = p.Run(context.Background(), &Ctx{Params: []types.Datum{txt("eu"), i8(-1)}}, func([]types.Datum) error { return nil })
	if pgerr.Code(err) != "2201W" {
		t.Fatalf("negative limit: %v", err)
	}
}

// TestTopKMatchesSort checks ORDER BY ... LIMIT/OFFSET (bounded heap)
// against the full sort sliced, ties included.
func TestTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for iter := 0; iter < 40; iter++ {
		rows := randomEvents(r, r.Intn(300))
		src := &memSource{cols: eventCols, rows: rows, batchSize: 1 + r.Intn(40)}
		order := []parser.OrderItem{{Expr: col("region"), Desc: r.Intn(2) == 0}, {Expr: col("value"), Desc: r.Intn(2) == 0}}
		if r.Intn(2) == 0 {
			order = order[:1] // leaves many ties
		}
		base := func() *parser.Select {
			return &parser.Select{Items: []parser.SelectItem{item(col("device_id"), ""), item(col("region"), ""), item(col("value"), "")},
				From: from("events"), OrderBy: order}
		}
		all, _, err := runSelect(t, base(), src)
		if err != nil {
			t.Fatal(err)
		}
		lim, off := r.Intn(20), r.Intn(10)
		sel := base()
		sel.Limit, sel.Offset = num(lim), num(off)
		got, _, err := runSelect(t, sel, src)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(all, "\n")
		if all == "" {
			lines = nil
		}
		lo, hi := off, off+lim
		if lo > len(lines) {
			lo = len(lines)
		}
		if hi > len(lines) {
			hi = len(lines)
		}
		if want := strings.Join(lines[lo:hi], "\n"); got != want {
			t.Fatalf("iter %d limit %d offset %d:\n%s\nwant\n%s", iter, lim, off, got, want)
		}
	}
}
