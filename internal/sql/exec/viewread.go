package exec

import (
	"context"
	"errors"
	"sort"

	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// A view's HAVING, ORDER BY, LIMIT and OFFSET are applied when it is
// read, not when rows are folded: a group's state keeps changing, so
// whether it passes HAVING, and where it sorts, is only known at read
// time. PlanView compiles them over the post-grouping row; Finalize
// computes HAVING and the sort keys that are not output columns as
// hidden columns after the output ones (Columns() lists both), and a
// ViewReader filters, sorts, limits and drops the hidden columns.

// Aggregates reports whether a view's query groups rows (GROUP BY,
// HAVING, or an aggregate in its select list or ORDER BY): a continuous
// view with state. A query that does not is a transform.
func Aggregates(sel *parser.Select) bool {
	if len(sel.GroupBy) > 0 || sel.Having != nil {
		return true
	}
	for _, it := range sel.Items {
		if agg.Contains(it.Expr) {
			return true
		}
	}
	for _, o := range sel.OrderBy {
		if agg.Contains(o.Expr) {
			return true
		}
	}
	return false
}

// readTime is the read-time part of a view plan.
type readTime struct {
	nvis   int // output columns; Columns()[nvis:] are hidden
	having int // index of the hidden HAVING column, -1 for none
	order  []sortKey
	limit  *scalar.Node
	offset *scalar.Node
}

// planReadTime compiles sel's HAVING, ORDER BY, LIMIT and OFFSET in the
// post-grouping scope g, appending hidden columns to v.proj and v.cols.
// It runs before v takes g's aggregates: HAVING and ORDER BY may add
// aggregates the select list does not have.
func (v *ViewPlan) planReadTime(g *grouping, items []selItem, sel *parser.Select) error {
	v.rt = readTime{nvis: len(v.cols), having: -1}
	tmp := &Plan{cols: v.cols, proj: v.proj}
	if err := tmp.planOrder(g.post, items, sel.OrderBy); err != nil {
		return err
	}
	v.proj, v.rt.order = tmp.proj, tmp.order
	if sel.Having != nil {
		h, err := g.post.Compile(sel.Having)
		if err != nil {
			return err
		}
		if h, err = g.post.BoolArg(h, "HAVING", sel.Having.Pos()); err != nil {
			return err
		}
		v.proj = append(v.proj, h)
		v.rt.having = len(v.proj) - 1
	}
	for i := len(v.cols); i < len(v.proj); i++ {
		v.cols = append(v.cols, Column{Name: "?column?", T: v.proj[i].T})
	}
	var err error
	if v.rt.limit, err = planCount(sel.Limit, nil, "LIMIT"); err != nil {
		return err
	}
	v.rt.offset, err = planCount(sel.Offset, nil, "OFFSET")
	return err
}

// OutputColumns returns the columns SELECT * FROM view returns: Columns()
// without the hidden read-time columns.
func (v *ViewPlan) OutputColumns() []Column { return v.cols[:v.rt.nvis] }

// ReadTime reports whether the view has HAVING, ORDER BY, LIMIT or
// OFFSET: its finalized rows must go through a ViewReader.
func (v *ViewPlan) ReadTime() bool {
	return v.rt.having >= 0 || len(v.rt.order) > 0 || v.rt.limit != nil || v.rt.offset != nil
}

// NewViewReader returns the view as its readers see it: src yields the
// finalized rows (Columns(), as a view's shards produce them), the
// reader keeps those that pass HAVING, in ORDER BY order, after OFFSET,
// up to LIMIT, with OutputColumns(). ec gives the context for LIMIT and
// OFFSET. Without read-time clauses it returns src. Point lookups pass
// through (HAVING filters the rows looked up) unless the view has LIMIT
// or OFFSET, where membership depends on every other row.
func NewViewReader(src Source, v *ViewPlan, ec func() *Ctx) Source {
	if !v.ReadTime() {
		return src
	}
	r := &viewReader{src: src, v: v, ec: ec}
	if ks, ok := src.(KeyedSource); ok && v.rt.limit == nil && v.rt.offset == nil {
		return &keyedViewReader{viewReader: r, ks: ks}
	}
	return r
}

type viewReader struct {
	src Source
	v   *ViewPlan
	ec  func() *Ctx
}

type keyedViewReader struct {
	*viewReader
	ks KeyedSource
}

func (r *viewReader) Columns() []Column { return r.v.OutputColumns() }

func (r *viewReader) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	return r.read(ctx, r.src.Scan, fn)
}

// KeyColumns implements KeyedSource: the key columns are output columns,
// which come first.
func (r *keyedViewReader) KeyColumns() []int { return r.ks.KeyColumns() }

// ScanKeys implements KeyedSource.
func (r *keyedViewReader) ScanKeys(ctx context.Context, keys [][]types.Datum, fn func(b *types.Batch) error) error {
	return r.read(ctx, func(ctx context.Context, in func(b *types.Batch) error) error {
		return r.ks.ScanKeys(ctx, keys, in)
	}, fn)
}

// errViewLimit ends a read once LIMIT rows went out.
var errViewLimit = errors.New("view limit reached")

// read runs scan and applies HAVING, ORDER BY, OFFSET and LIMIT to what
// it yields.
func (r *viewReader) read(ctx context.Context, scan func(context.Context, func(*types.Batch) error) error, fn func(b *types.Batch) error) error {
	rt := &r.v.rt
	limit, offset, err := r.bounds()
	if err != nil || limit == 0 {
		return err
	}
	cols := r.v.OutputColumns()
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		ts[i] = c.T
	}
	out := types.NewBatch(ts)
	var emitted int64
	emit := func(row []types.Datum) error {
		if offset > 0 {
			offset--
			return nil
		}
		out.AppendRow(row[:rt.nvis])
		emitted++
		if out.N >= 1024 {
			if err := fn(out); err != nil {
				return err
			}
			out.Reset()
		}
		if limit >= 0 && emitted >= limit {
			return errViewLimit
		}
		return nil
	}
	less := func(a, b []types.Datum) bool { return lessBy(rt.order, a, b) }
	var top *topK
	if len(rt.order) > 0 && limit >= 0 && offset+limit < 1<<20 {
		top = &topK{k: int(offset + limit), less: less}
	}
	var rows [][]types.Datum
	err = scan(ctx, func(b *types.Batch) error {
		for i := 0; i < b.N; i++ {
			if rt.having >= 0 && !b.Cols[rt.having].Datum(i).Bool() {
				continue
			}
			row := make([]types.Datum, len(b.Cols))
			for c := range row {
				row[c] = scalar.Own(b.Cols[c].Datum(i))
			}
			switch {
			case top != nil:
				top.add(row)
			case len(rt.order) > 0:
				rows = append(rows, row)
			default:
				if err := emit(row); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil && len(rt.order) > 0 {
		if top != nil {
			rows = top.sorted()
		} else {
			sort.SliceStable(rows, func(a, b int) bool { return less(rows[a], rows[b]) })
		}
		for _, row := range rows {
			if err = emit(row); err != nil {
				break
			}
		}
	}
	if err != nil && !errors.Is(err, errViewLimit) {
		return err
	}
	if out.N > 0 {
		return fn(out)
	}
	return nil
}

// bounds evaluates LIMIT (-1: none) and OFFSET.
func (r *viewReader) bounds() (limit, offset int64, err error) {
	limit = -1
	rt := &r.v.rt
	if rt.limit == nil && rt.offset == nil {
		return limit, 0, nil
	}
	p := &Plan{limit: rt.limit, offset: rt.offset}
	return p.bounds(r.ec())
}
