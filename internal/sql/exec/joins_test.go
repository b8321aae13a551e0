package exec

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// The tables the relational scripts (joins, subquery, cte, setops,
// explain) query, also loaded into PostgreSQL by TestPGCompare:
//
//	t1(id int, name text, grp int)
//	t2(id bigint, t1_id int, v double precision)
//	t3(grp int, label text)
//	kv(k bigint, v text): keyed by k (point lookups)
var relTables = []struct {
	name string
	cols []Column
	rows [][]types.Datum
	key  []int
}{
	{"t1", []Column{{Name: "id", T: types.Int4}, {Name: "name", T: types.Text}, {Name: "grp", T: types.Int4}}, [][]types.Datum{
		{ival(1), txt("a"), ival(10)},
		{ival(2), txt("b"), ival(10)},
		{ival(3), txt("c"), ival(20)},
		{ival(4), nul(types.Text), nul(types.Int4)},
		{ival(5), txt("e"), ival(30)},
	}, nil},
	{"t2", []Column{{Name: "id", T: types.Int8}, {Name: "t1_id", T: types.Int4}, {Name: "v", T: types.Float8}}, [][]types.Datum{
		{i8(100), ival(1), f8(1.5)},
		{i8(101), ival(1), f8(2.5)},
		{i8(102), ival(3), nul(types.Float8)},
		{i8(103), nul(types.Int4), f8(4)},
		{i8(104), ival(9), f8(5)},
	}, nil},
	{"t3", []Column{{Name: "grp", T: types.Int4}, {Name: "label", T: types.Text}}, [][]types.Datum{
		{ival(10), txt("ten")},
		{ival(20), txt("twenty")},
		{ival(40), txt("forty")},
		{nul(types.Int4), txt("none")},
	}, nil},
	{"kv", []Column{{Name: "k", T: types.Int8}, {Name: "v", T: types.Text}}, [][]types.Datum{
		{i8(1), txt("one")},
		{i8(2), txt("two")},
		{i8(3), txt("three")},
		{i8(10), txt("ten")},
	}, []int{0}},
}

// addRelTables adds the relational scripts' tables to srcs.
func addRelTables(srcs map[string]Source) map[string]Source {
	for _, t := range relTables {
		m := memSource{cols: t.cols, rows: t.rows, batchSize: 2}
		if t.key != nil {
			srcs[t.name] = &keyedSource{memSource: m, keyCols: t.key}
		} else {
			srcs[t.name] = &m
		}
	}
	return srcs
}

// runExplain plans (and with ANALYZE runs) an EXPLAIN over the script
// tables and prints the plan; times are masked.
func runExplain(ec *Ctx, ex *parser.Explain) string {
	p, err := PlanSelect(ex.Query, resolver(addRelTables(map[string]Source{"events": sqlEvents()})), &ParamTypes{})
	if err != nil {
		return fmtErr(err)
	}
	if ex.Analyze {
		run := *ec
		run.Mem = scalar.NewBudget(0)
		if err := p.Run(context.Background(), &run, func([]types.Datum) error { return nil }); err != nil {
			return fmtErr(err)
		}
	}
	var sb strings.Builder
	for _, l := range Explain(p, ex.Analyze) {
		sb.WriteString(timeRE.ReplaceAllString(l, "time=T"))
		sb.WriteByte('\n')
	}
	return sb.String()
}

var timeRE = regexp.MustCompile(`time=[0-9.]+ ms`)

// TestJoinMemoryLimit: a hash join, a set operation, a kept CTE, an IN
// set and a sort each fail with 53200 past the statement's budget and
// give back what they charged when they end.
func TestJoinMemoryLimit(t *testing.T) {
	big := &memSource{cols: []Column{{Name: "k", T: types.Int8}, {Name: "s", T: types.Text}}, batchSize: 100}
	for i := 0; i < 5000; i++ {
		big.rows = append(big.rows, []types.Datum{i8(int64(i)), txt(strings.Repeat("x", 50))})
	}
	res := resolver(map[string]Source{"big": big, "b2": big})
	for _, q := range []string{
		"SELECT count(*) FROM big JOIN b2 ON big.k = b2.k",
		"SELECT count(*) FROM (SELECT k, s FROM big UNION SELECT k, s FROM b2) AS u",
		"WITH c AS (SELECT * FROM big) SELECT count(*) FROM c AS x JOIN c AS y ON x.k = y.k",
		"SELECT count(*) FROM big WHERE s || k::text IN (SELECT s || k::text FROM b2)",
		"SELECT k FROM big ORDER BY s, k",
	} {
		stmts, _, err := parser.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		p, err := PlanSelect(stmts[0].(*parser.Select), res, nil)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		small := scalar.NewBudget(64 << 10)
		err = p.Run(context.Background(), &Ctx{Mem: small}, func([]types.Datum) error { return nil })
		if pgerr.From(err).Code != pgerr.OutOfMemory {
			t.Errorf("%s: got %v, want 53200", q, err)
		}
		large := scalar.NewBudget(256 << 20)
		if err := p.Run(context.Background(), &Ctx{Mem: large}, func([]types.Datum) error { return nil }); err != nil {
			t.Errorf("%s: %v", q, err)
		}
		if large.Peak() < 64<<10 {
			t.Errorf("%s: peak %d, want the buffering charged", q, large.Peak())
		}
		if u := large.Used(); u != 0 {
			t.Errorf("%s: %d bytes still charged after the run", q, u)
		}
	}
}

// A nested loop notices a cancel inside one probe batch: here the probe
// side is a single batch, so a join that checked only between batches
// would run all 20M pairs and succeed.
func TestJoinCancelWithinBatch(t *testing.T) {
	src := &memSource{cols: []Column{{Name: "k", T: types.Int8}}, batchSize: 1 << 20}
	for i := 0; i < 4500; i++ {
		src.rows = append(src.rows, []types.Datum{i8(int64(i))})
	}
	stmts, _, err := parser.Parse("SELECT count(*) FROM a, b WHERE a.k + b.k < 0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := PlanSelect(stmts[0].(*parser.Select), resolver(map[string]Source{"a": src, "b": src}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err = p.Run(ctx, &Ctx{}, func([]types.Datum) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the cancel", err)
	}
}
