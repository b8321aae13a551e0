package exec

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
	"github.com/cockroachdb/datadriven"
)

// sqlEvents is the fixed stream the SQL scripts query as "events".
func sqlEvents() *memSource {
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Unix()
	rows := [][]types.Datum{
		ev(base+0, 1, "eu", 1.5),
		ev(base+30, 2, "us", 2),
		ev(base+61, 1, "eu", 3),
		ev(base+62, 3, "", 10),
		ev(base+125, 2, "us", -1), // value NULL
		ev(base+130, 1, "ap", 0.5),
		ev(base+3600, 4, "eu", 7.25),
		ev(base+3601, 4, "eu", 100),
	}
	return &memSource{cols: eventCols, rows: rows, batchSize: 3}
}

// amountCols and sqlAmounts are a second stream, "amounts", with exact
// numerics: 1e52 and 10.2003 in one account, equal values of different
// scale, a bigint near its limit, NaN and NULL.
var amountCols = []Column{{Name: "acct", T: types.Int4}, {Name: "big", T: types.Int8}, {Name: "amt", T: types.Numeric}}

func sqlAmounts() *memSource {
	num := func(s string) types.Datum {
		if s == "" {
			return types.NullOf(types.Numeric)
		}
		v, err := types.ParseNumeric(s)
		if err != nil {
			panic(err)
		}
		return types.NewNumeric(v)
	}
	row := func(acct, big int64, amt string) []types.Datum {
		return []types.Datum{types.NewInt(types.Int4, acct), types.NewInt(types.Int8, big), num(amt)}
	}
	rows := [][]types.Datum{
		row(1, 9223372036854775807, "1e52"),
		row(1, 9223372036854775807, "10.2003"),
		row(2, 1, "1.0"),
		row(2, 2, "1.00"),
		row(2, 4, "2.5"),
		row(3, -5, "-0.001"),
		row(3, 0, ""),
		row(4, 7, "NaN"),
		row(4, 8, "1.5"),
	}
	return &memSource{cols: amountCols, rows: rows, batchSize: 2}
}

// docCols and sqlDocs are a third stream, "docs", with json and jsonb.
var docCols = []Column{{Name: "id", T: types.Int4}, {Name: "doc", T: types.Jsonb}, {Name: "raw", T: types.Json}}

func sqlDocs() *memSource {
	row := func(id int64, doc string) []types.Datum {
		if doc == "" {
			return []types.Datum{types.NewInt(types.Int4, id), types.NullOf(types.Jsonb), types.NullOf(types.Json)}
		}
		b, err := types.ParseText(types.Jsonb, doc)
		if err != nil {
			panic(err)
		}
		j, err := types.ParseText(types.Json, doc)
		if err != nil {
			panic(err)
		}
		return []types.Datum{types.NewInt(types.Int4, id), b, j}
	}
	rows := [][]types.Datum{
		row(1, `{"user": "ann", "n": 1.50, "tags": ["a", "b"], "geo": {"cc": "fr"}}`),
		row(2, `{"user": "bob", "n": 2, "tags": ["b"], "geo": {"cc": "us"}}`),
		row(3, `{"user": "ann", "n": 1.5, "tags": [], "geo": null}`),
		row(4, `{"n": 10, "user": "cid", "user": "dee"}`),
		row(5, `[1, "two", {"three": 3}]`),
		row(6, ``),
	}
	return &memSource{cols: docCols, rows: rows, batchSize: 2}
}

// TestSQL runs testdata/*.txt scripts: `query` plans and runs a SELECT
// (parsed with the real parser) and prints its columns and rows; `view`
// plans the statement as a continuous view over events, folds every row
// (one row per batch, two shards), and prints the finalized rows sorted.
// A view FROM amounts (or docs) folds that stream instead.
// Errors print as "error CODE at POS: message".
// Regenerate expected output with `go test ./internal/sql/exec -run TestSQL -rewrite`.
func TestSQL(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)
	ec := &Ctx{Now: now, Version: "PostgreSQL 16.0 (Cairn test)", Setting: func(n string) (string, bool) {
		if n == "timezone" {
			return "UTC", true
		}
		return "", false
	}}
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			stmts, _, err := parser.Parse(d.Input)
			if err != nil {
				return fmtErr(err)
			}
			if ex, ok := stmts[0].(*parser.Explain); ok && d.Cmd == "explain" {
				return runExplain(ec, ex)
			}
			sel, ok := stmts[0].(*parser.Select)
			if !ok {
				return fmt.Sprintf("not a SELECT: %T", stmts[0])
			}
			switch d.Cmd {
			case "chain":
				return runChain(t, ec, d.Input)
			case "viewread":
				return runViewRead(t, ec, stmts)
			case "query":
				var params []types.Datum
				for _, a := range d.CmdArgs {
					if a.Key == "params" {
						for _, v := range a.Vals {
							params = append(params, types.NewText(v))
						}
					}
				}
				pt := &ParamTypes{}
				p, err := PlanSelect(sel, resolver(addRelTables(map[string]Source{"events": sqlEvents(), "amounts": sqlAmounts(), "docs": sqlDocs()})), pt)
				if err != nil {
					return fmtErr(err)
				}
				var sb strings.Builder
				writeCols(&sb, p.Columns())
				if len(pt.Types) > 0 {
					fmt.Fprintf(&sb, "params: %v\n", pt.Types)
				}
				ec := *ec
				ec.Params = params
				err = p.Run(context.Background(), &ec, func(row []types.Datum) error {
					sb.WriteString(textRow(row))
					sb.WriteByte('\n')
					return nil
				})
				if err != nil {
					sb.WriteString(fmtErr(err))
				}
				return sb.String()
			case "view":
				// Arguments: opt=key=value (WITH options); read=<time>
				// (read the view then: expired groups are left out);
				// watermark (advance the watermark after every row);
				// reverse (fold the rows newest first).
				opts := ViewOptions{}
				var readAt int64
				watermark, reverse := false, false
				for _, a := range d.CmdArgs {
					switch a.Key {
					case "opt":
						for _, kv := range a.Vals {
							k, v, _ := strings.Cut(kv, "=")
							opts[k] = strings.ReplaceAll(v, "_", " ")
						}
					case "read":
						t, err := time.Parse(time.RFC3339, a.Vals[0])
						if err != nil {
							return err.Error()
						}
						readAt = t.UnixMicro()
					case "watermark":
						watermark = true
					case "reverse":
						reverse = true
					}
				}
				src := sqlEvents()
				if sel.From != nil && sel.From.Name == "amounts" {
					src = sqlAmounts()
				}
				if sel.From != nil && sel.From.Name == "docs" {
					src = sqlDocs()
				}
				var v *ViewPlan
				var joined []*types.Batch // a join view's widened batches (viewjoin_sql_test.go)
				if spec, ok, err := ViewJoinFrom(sel); err != nil {
					return fmtErr(err)
				} else if ok {
					if v, joined, err = planFoldJoin(ec, sel, spec, opts); err != nil {
						return fmtErr(err)
					}
				} else if v, err = PlanViewWith(sel, src.cols, opts); err != nil {
					return fmtErr(err)
				}
				var sb strings.Builder
				writeCols(&sb, v.Columns())
				merged := map[string][]byte{}
				rows := src.rows
				if reverse {
					rows = slices.Clone(rows)
					slices.Reverse(rows)
				}
				var late uint64
				for s := 0; s < 2; s++ {
					d := v.NewDelta()
					for _, b := range joined {
						if err := v.Fold(ec, d, b, func(h uint64) bool { return h%2 == uint64(s) }); err != nil {
							return fmtErr(err)
						}
					}
					if joined != nil {
						rows = nil
					}
					for _, r := range rows {
						if watermark {
							d.Watermark = d.MaxTime
						}
						b := types.NewBatch(colTypes(src.cols))
						b.AppendRow(r)
						if r[0].T == types.TimestampTZ {
							b.Arrival = r[0].I // arrival_timestamp = ts in these scripts
						}
						if err := v.Fold(ec, d, b, func(h uint64) bool { return h%2 == uint64(s) }); err != nil {
							return fmtErr(err)
						}
					}
					late += d.Late
					d.Range(func(k, st []byte) error {
						if readAt != 0 && !v.Live(k, readAt) {
							return nil
						}
						k = v.GroupKey(k)
						m, err := v.MergeState(nil, merged[string(k)], st)
						merged[string(k)] = m
						return err
					})
				}
				if late > 0 {
					fmt.Fprintf(&sb, "late events: %d\n", late)
				}
				if len(merged) == 0 && v.Global() {
					merged[""] = nil // one row even when empty, as the reader does
				}
				var out []string
				for k, st := range merged {
					row, err := v.Finalize(ec, []byte(k), st, nil)
					if err != nil {
						return fmtErr(err)
					}
					out = append(out, textRow(row))
				}
				sort.Strings(out)
				for _, r := range out {
					sb.WriteString(r)
					sb.WriteByte('\n')
				}
				return sb.String()
			}
			return "unknown command " + d.Cmd
		})
	})
}

// foldEvents plans sel as a view over events, folds every event into
// two shards and returns the finalized rows (Columns()) in key order.
func foldEvents(ec *Ctx, sel *parser.Select) (*ViewPlan, [][]types.Datum, error) {
	v, err := PlanView(sel, eventCols)
	if err != nil {
		return nil, nil, err
	}
	rows, err := foldInto(ec, v)
	return v, rows, err
}

// foldInto folds every event into two shards of v and returns the
// finalized rows in key order.
func foldInto(ec *Ctx, v *ViewPlan) ([][]types.Datum, error) {
	merged := map[string][]byte{}
	src := sqlEvents()
	for s := 0; s < 2; s++ {
		d := v.NewDelta()
		for _, r := range src.rows {
			b := toBatch([][]types.Datum{r})
			b.Arrival = r[0].I // arrival_timestamp = ts in these scripts
			if err := v.Fold(ec, d, b, func(h uint64) bool { return h%2 == uint64(s) }); err != nil {
				return nil, err
			}
		}
		err := d.Range(func(k, st []byte) error {
			k = v.GroupKey(k)
			m, err := v.MergeState(nil, merged[string(k)], st)
			merged[string(k)] = m
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var rows [][]types.Datum
	for _, k := range keys {
		row, err := v.Finalize(ec, []byte(k), merged[k], nil)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// runChain runs a `chain` script command: statements separated by ";"
// at a line end, each reading the one before it by name (the first reads
// events); the last is planned over the chain as it would be stored. A
// transform prints what reading it returns; an aggregating view prints
// its rows folded from events (in key order) and read.
func runChain(t *testing.T, ec *Ctx, input string) string {
	parts := strings.Split(input, ";\n")
	var chain []string
	for _, p := range parts[:len(parts)-1] {
		chain = append([]string{strings.TrimSpace(p)}, chain...)
	}
	v, tr, err := PlanStoredChain(parts[len(parts)-1], "events", eventCols, chain, nil)
	if err != nil {
		return fmtErr(err)
	}
	var src Source
	if tr != nil {
		if src, err = NewTransformSource(tr, sqlEvents(), func() *Ctx { return ec }); err != nil {
			return fmtErr(err)
		}
	} else {
		rows, err := foldInto(ec, v)
		if err != nil {
			return fmtErr(err)
		}
		src = NewViewReader(&memSource{cols: v.Columns(), rows: rows}, v, func() *Ctx { return ec })
	}
	var sb strings.Builder
	if tr != nil {
		sb.WriteString("transform: ")
	} else {
		sb.WriteString("view: ")
	}
	writeCols(&sb, src.Columns())
	err = src.Scan(context.Background(), func(b *types.Batch) error {
		for i := 0; i < b.N; i++ {
			row := make([]types.Datum, len(b.Cols))
			for c := range row {
				row[c] = b.Cols[c].Datum(i)
			}
			sb.WriteString(textRow(row))
			sb.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		sb.WriteString(fmtErr(err))
	}
	return sb.String()
}

// runViewRead runs a `viewread` script command: the first statement is
// a view over events, read through NewViewReader as a view's shards
// serve it (rows in key order); the optional second statement reads it
// as "v". The output says how the source was read (scan or lookup).
func runViewRead(t *testing.T, ec *Ctx, stmts []parser.Statement) string {
	v, rows, err := foldEvents(ec, stmts[0].(*parser.Select))
	if err != nil {
		return fmtErr(err)
	}
	ks := &keyedSource{memSource: memSource{cols: v.Columns(), rows: rows, batchSize: 2}, t: t, keyCols: v.KeyColumns()}
	src := NewViewReader(ks, v, func() *Ctx { return ec })
	if len(stmts) == 1 {
		star, _, err := parser.Parse("SELECT * FROM v")
		if err != nil {
			return fmtErr(err)
		}
		stmts = append(stmts, star[0])
	}
	q, ok := stmts[1].(*parser.Select)
	if !ok {
		return fmt.Sprintf("not a SELECT: %T", stmts[1])
	}
	p, err := PlanSelect(q, resolver(map[string]Source{"v": src}), nil)
	if err != nil {
		return fmtErr(err)
	}
	var sb strings.Builder
	writeCols(&sb, p.Columns())
	err = p.Run(context.Background(), ec, func(row []types.Datum) error {
		sb.WriteString(textRow(row))
		sb.WriteByte('\n')
		return nil
	})
	if err != nil {
		sb.WriteString(fmtErr(err))
	}
	fmt.Fprintf(&sb, "(%d scans, %d lookups)\n", ks.scans, len(ks.lookups))
	return sb.String()
}

func writeCols(sb *strings.Builder, cols []Column) {
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(" | ")
		}
		fmt.Fprintf(sb, "%s %s", c.Name, c.T)
	}
	sb.WriteString("\n")
}

func textRow(row []types.Datum) string {
	parts := make([]string, len(row))
	for i, d := range row {
		if d.Null {
			parts[i] = "NULL"
		} else {
			parts[i] = string(types.AppendText(nil, d))
		}
	}
	return strings.Join(parts, " | ")
}

func fmtErr(err error) string {
	pe := pgerr.From(err)
	var pos int
	if pe.Position > 0 {
		pos = pe.Position
	}
	var perr *parser.Error
	if e, ok := err.(*parser.Error); ok {
		perr = e
		return fmt.Sprintf("parse error %s at %d: %s\n", perr.Code, perr.Pos, perr.Msg)
	}
	return fmt.Sprintf("error %s at %d: %s\n", pe.Code, pos, pe.Message)
}
