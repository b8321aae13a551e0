package exec

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// A transform is a continuous view that does not aggregate (PipelineDB's
// continuous transform): it keeps no state, and reading it reads its
// stream through its WHERE and select list. A view over a transform is
// planned by inlining: the transform's WHERE is ANDed into the view's and
// each reference to a transform column is replaced by the expression that
// computes it, so the result is an ordinary query over the base stream.
// Chains inline from the stream outwards.

// Transform is a transform's query resolved to its base stream.
type Transform struct {
	// Sel reads FROM the base stream (no alias); every item has an alias
	// (its column name) and no star, and column references are
	// unqualified.
	Sel  *parser.Select
	Cols []Column // output columns, as Sel's items
}

// PlanTransform plans sel, a query that does not aggregate (see
// Aggregates) reading FROM the stream called stream with columns cols, as
// a transform.
func PlanTransform(sel *parser.Select, stream string, cols []Column) (*Transform, error) {
	refuse := func(pos int, what string) error { return pgerr.TransformClause.New(what).WithPos(pos) }
	if err := refuseOlapInView(sel); err != nil {
		return nil, err
	}
	switch {
	case sel.From == nil:
		return nil, pgerr.ViewNotFromStream.New().WithPos(sel.P)
	case sel.From.Subquery != nil:
		return nil, pgerr.ViewFromSubquery.New().WithPos(sel.From.P)
	case sel.Distinct:
		return nil, refuse(sel.P, "DISTINCT")
	case len(sel.OrderBy) > 0:
		return nil, refuse(sel.OrderBy[0].Expr.Pos(), "ORDER BY")
	case sel.Limit != nil:
		return nil, refuse(sel.Limit.Pos(), "LIMIT")
	case sel.Offset != nil:
		return nil, refuse(sel.Offset.Pos(), "OFFSET")
	case sel.From.Func != nil:
		return nil, refuse(sel.From.Func.P, sel.From.Func.Name+"()")
	}
	quals := []string{sel.From.Name}
	if sel.From.Alias != "" {
		quals = []string{sel.From.Alias}
	}
	items, err := expandItems(sel, cols, quals)
	if err != nil {
		return nil, err
	}
	// Type-check it as the SELECT its readers will run.
	table := &streamShape{MemTable{Cols: cols}}
	p, err := PlanSelect(sel, func(_, _ string) (Source, error) { return table, nil }, nil)
	if err != nil {
		return nil, err
	}
	unqualify := func(r *parser.ColumnRef) (parser.Expr, error) {
		return &parser.ColumnRef{P: r.P, Name: r.Name}, nil
	}
	out := &parser.Select{P: sel.P, From: &parser.TableRef{P: sel.From.P, Name: stream}}
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.name] {
			return nil, pgerr.ColumnRepeated.New(it.name).WithPos(it.expr.Pos())
		}
		seen[it.name] = true
		e, err := rewriteExpr(it.expr, unqualify)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, parser.SelectItem{Expr: e, Alias: it.name})
	}
	if sel.Where != nil {
		if out.Where, err = rewriteExpr(sel.Where, unqualify); err != nil {
			return nil, err
		}
	}
	return &Transform{Sel: out, Cols: p.Columns()}, nil
}

// streamShape stands for a stream when only its columns are needed: no
// rows, but the implicit arrival_timestamp column.
type streamShape struct{ MemTable }

func (streamShape) Arrival() bool { return true }

// OutputOf returns the view f names when it is PipelineDB's
// output_of('view'); ok is false for any other FROM item.
func OutputOf(f *parser.TableRef) (name string, ok bool, err error) {
	if f == nil || f.Func == nil || !strings.EqualFold(f.Func.Name, "output_of") {
		return "", false, nil
	}
	if len(f.Func.Args) == 1 {
		if l, isLit := f.Func.Args[0].(*parser.Literal); isLit && l.Kind == parser.LitString {
			return l.Val, true, nil
		}
	}
	return "", false, pgerr.OutputOfArgs.New().WithPos(f.Func.P)
}

// ViewFrom returns the relation a view's query reads: the FROM name, the
// view of output_of('view') (outputOf set), or the first argument of
// tumble()/hop().
func ViewFrom(sel *parser.Select) (name string, pos int, outputOf bool, err error) {
	if sel.From == nil {
		return "", sel.P, false, nil
	}
	if name, ok, err := OutputOf(sel.From); ok || err != nil {
		return name, sel.From.P, ok, err
	}
	name, pos = ViewSource(sel)
	return name, pos, false, nil
}

// Inline rewrites sel, which reads FROM the transform t (by its name,
// output_of, or as tumble()/hop()'s stream), into the same query over t's
// base stream.
func Inline(sel *parser.Select, t *Transform) (*parser.Select, error) {
	if sel.From == nil || sel.From.Subquery != nil {
		return nil, pgerr.ViewNotFromStream.New().WithPos(sel.P)
	}
	name, _, _, err := ViewFrom(sel)
	if err != nil {
		return nil, err
	}
	qual := name
	if sel.From.Alias != "" {
		qual = sel.From.Alias
	}
	window := false
	if f := sel.From.Func; f != nil {
		window = strings.EqualFold(f.Name, "tumble") || strings.EqualFold(f.Name, "hop")
	}
	byName := map[string]int{}
	for i, c := range t.Cols {
		byName[c.Name] = i
	}
	subst := func(r *parser.ColumnRef) (parser.Expr, error) {
		if r.Table != "" && r.Table != qual {
			return nil, pgerr.MissingFromEntry.New(r.Table).WithPos(r.P)
		}
		i, ok := byName[r.Name]
		if !ok {
			// A transform's rows are its stream's rows, one for one, so
			// they keep their arrival time; a window's columns are the
			// window's.
			if r.Name == "arrival_timestamp" || (window && (r.Name == "window_start" || r.Name == "window_end")) {
				return &parser.ColumnRef{P: r.P, Name: r.Name}, nil
			}
			if r.Table != "" {
				return nil, pgerr.QualifiedColumnNotFound.New(r.Table, r.Name).WithPos(r.P)
			}
			return nil, pgerr.ColumnNotFound.New(r.Name).WithPos(r.P)
		}
		x := t.Sel.Items[i].Expr
		if ref, ok := x.(*parser.ColumnRef); ok {
			return &parser.ColumnRef{P: r.P, Name: ref.Name}, nil
		}
		// The cast pins the column's type: an untyped literal in the
		// transform (SELECT 1 AS one) is int4 there, and must stay so.
		return &parser.Cast{P: r.P, X: x, Type: parser.TypeName{P: r.P, Name: internalTypeName(t.Cols[i].T)}}, nil
	}
	out := *sel
	out.From = &parser.TableRef{P: sel.From.P, Name: t.Sel.From.Name}
	if window {
		// tumble(t, ts, ...) → tumble(stream, <ts over the stream>, ...)
		f := *sel.From.Func
		f.Args = []parser.Expr{&parser.ColumnRef{P: f.Args[0].Pos(), Name: t.Sel.From.Name}}
		for _, a := range sel.From.Func.Args[1:] {
			x, err := rewriteExpr(a, subst)
			if err != nil {
				return nil, err
			}
			f.Args = append(f.Args, x)
		}
		out.From.Func, out.From.Name = &f, f.Name
	}
	out.Items = nil
	var names []string
	for _, it := range sel.Items {
		if st, ok := it.Expr.(*parser.Star); ok {
			if st.Table != "" && st.Table != qual {
				return nil, pgerr.MissingFromEntry.New(st.Table).WithPos(st.P)
			}
			for _, c := range t.Cols {
				e, err := subst(&parser.ColumnRef{P: st.P, Name: c.Name})
				if err != nil {
					return nil, err
				}
				out.Items = append(out.Items, parser.SelectItem{Expr: e, Alias: c.Name})
				names = append(names, c.Name)
			}
			continue
		}
		name := it.Alias
		if name == "" {
			name = figureName(it.Expr)
		}
		e, err := rewriteExpr(it.Expr, subst)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, parser.SelectItem{Expr: e, Alias: name})
		names = append(names, name)
	}
	if sel.Where != nil {
		if out.Where, err = rewriteExpr(sel.Where, subst); err != nil {
			return nil, err
		}
	}
	if t.Sel.Where != nil {
		if out.Where == nil {
			out.Where = t.Sel.Where
		} else {
			out.Where = &parser.Binary{P: sel.Where.Pos(), Op: "AND", L: t.Sel.Where, R: out.Where}
		}
	}
	// A bare name in GROUP BY is an input column first, then an output
	// column; in ORDER BY an output column first (PostgreSQL's rules).
	output := func(r *parser.ColumnRef) (parser.Expr, bool) {
		for i, n := range names {
			if n == r.Name {
				return out.Items[i].Expr, true
			}
		}
		return nil, false
	}
	out.GroupBy = nil
	for _, g := range sel.GroupBy {
		if r, ok := g.(*parser.ColumnRef); ok && r.Table == "" {
			if _, in := byName[r.Name]; !in {
				if e, ok := output(r); ok {
					out.GroupBy = append(out.GroupBy, e)
					continue
				}
			}
		}
		e, err := rewriteExpr(g, subst)
		if err != nil {
			return nil, err
		}
		out.GroupBy = append(out.GroupBy, e)
	}
	if sel.Having != nil {
		if out.Having, err = rewriteExpr(sel.Having, subst); err != nil {
			return nil, err
		}
	}
	out.OrderBy = nil
	for _, o := range sel.OrderBy {
		if r, ok := o.Expr.(*parser.ColumnRef); ok && r.Table == "" {
			if _, ok := output(r); ok {
				out.OrderBy = append(out.OrderBy, o) // planOrder finds it by name
				continue
			}
		}
		e, err := rewriteExpr(o.Expr, subst)
		if err != nil {
			return nil, err
		}
		o.Expr = e
		out.OrderBy = append(out.OrderBy, o)
	}
	return &out, nil
}

var (
	columnRefType = reflect.TypeOf(&parser.ColumnRef{})
	subqueryType  = reflect.TypeOf(&parser.Subquery{})
	selectType    = reflect.TypeOf(&parser.Select{})
)

// rewriteExpr returns a copy of e with every column reference replaced
// by what f returns (e itself is not changed). It walks the AST by
// reflection, so expression nodes added to the parser later are walked
// too; a nested SELECT is refused (its names have their own scope).
func rewriteExpr(e parser.Expr, f func(*parser.ColumnRef) (parser.Expr, error)) (parser.Expr, error) {
	if e == nil {
		return nil, nil
	}
	v, err := rewriteValue(reflect.ValueOf(e), f)
	if err != nil {
		return nil, err
	}
	return v.Interface().(parser.Expr), nil
}

func rewriteValue(v reflect.Value, f func(*parser.ColumnRef) (parser.Expr, error)) (reflect.Value, error) {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return v, nil
		}
		x, err := rewriteValue(v.Elem(), f)
		if err != nil {
			return v, err
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(x)
		return out, nil
	case reflect.Pointer:
		if v.IsNil() {
			return v, nil
		}
		switch v.Type() {
		case columnRefType:
			x, err := f(v.Interface().(*parser.ColumnRef))
			if err != nil {
				return v, err
			}
			return reflect.ValueOf(x), nil
		case subqueryType, selectType:
			pos := 0
			if e, ok := v.Interface().(parser.Expr); ok {
				pos = e.Pos()
			}
			return v, pgerr.ViewSubqueryExpr.New().WithPos(pos)
		}
		if v.Elem().Kind() != reflect.Struct {
			return v, nil // *bool and the like: shared, never written
		}
		cp := reflect.New(v.Elem().Type())
		cp.Elem().Set(v.Elem())
		if err := rewriteFields(cp.Elem(), f); err != nil {
			return v, err
		}
		return cp, nil
	case reflect.Slice:
		if v.IsNil() {
			return v, nil
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			x, err := rewriteValue(v.Index(i), f)
			if err != nil {
				return v, err
			}
			out.Index(i).Set(x)
		}
		return out, nil
	case reflect.Struct:
		cp := reflect.New(v.Type()).Elem()
		cp.Set(v)
		if err := rewriteFields(cp, f); err != nil {
			return v, err
		}
		return cp, nil
	}
	return v, nil
}

// rewriteFields rewrites the exported fields of the addressable struct s
// in place.
func rewriteFields(s reflect.Value, f func(*parser.ColumnRef) (parser.Expr, error)) error {
	for i := 0; i < s.NumField(); i++ {
		if !s.Type().Field(i).IsExported() {
			continue
		}
		x, err := rewriteValue(s.Field(i), f)
		if err != nil {
			return err
		}
		s.Field(i).Set(x)
	}
	return nil
}

// ResolveChain plans a chain of transforms over the stream called stream
// with columns cols: chain holds their query texts, the one reading the
// stream last. It returns nil for an empty chain.
func ResolveChain(stream string, cols []Column, chain []string) (*Transform, error) {
	var t *Transform
	for i := len(chain) - 1; i >= 0; i-- {
		sel, err := parseSelect(chain[i])
		if err != nil {
			return nil, err
		}
		if t != nil {
			if sel, err = Inline(sel, t); err != nil {
				return nil, err
			}
		}
		if t, err = PlanTransform(sel, stream, cols); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// PlanChain plans a view's query sel, with its WITH options, over the
// transform chain (see ResolveChain; empty when sel reads the stream
// itself): an aggregating view (a *ViewPlan) or a transform, exactly one
// of them non-nil.
func PlanChain(sel *parser.Select, stream string, cols []Column, chain []string, opts ViewOptions) (*ViewPlan, *Transform, error) {
	t, err := ResolveChain(stream, cols, chain)
	if err != nil {
		return nil, nil, err
	}
	if t != nil {
		if sel, err = Inline(sel, t); err != nil {
			return nil, nil, err
		}
	}
	if !Aggregates(sel) && sel.From.Func == nil {
		if len(opts) > 0 {
			keys := slices.Sorted(maps.Keys(opts))
			return nil, nil, pgerr.TransformOption.New(keys[0])
		}
		t, err := PlanTransform(sel, stream, cols)
		return nil, t, err
	}
	if t == nil {
		if _, ok, _ := OutputOf(sel.From); ok {
			return nil, nil, pgerr.OutputOfNotTransform.New(stream, parser.QuoteIdent(stream)).WithPos(sel.From.P)
		}
	}
	v, err := PlanViewWith(sel, cols, opts)
	return v, nil, err
}

// PlanStoredChain re-plans a stored view (its query text, chain and WITH
// options).
func PlanStoredChain(query, stream string, cols []Column, chain []string, opts ViewOptions) (*ViewPlan, *Transform, error) {
	sel, err := parseSelect(query)
	if err != nil {
		return nil, nil, err
	}
	return PlanChain(sel, stream, cols, chain, opts)
}

func parseSelect(text string) (*parser.Select, error) {
	stmts, _, err := parser.Parse(text)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, fmt.Errorf("stored view query is not one statement: %q", text)
	}
	sel, ok := stmts[0].(*parser.Select)
	if !ok {
		return nil, fmt.Errorf("stored view query is not a SELECT: %q", text)
	}
	return sel, nil
}

// NewTransformSource reads a transform: base (its stream's retained
// history) through the transform's WHERE and select list. ec gives each
// scan its evaluation context (now() and settings).
func NewTransformSource(t *Transform, base Source, ec func() *Ctx) (Source, error) {
	p, err := PlanSelect(t.Sel, func(_, _ string) (Source, error) { return base, nil }, nil)
	if err != nil {
		return nil, err
	}
	return &transformSource{p: p, ec: ec}, nil
}

// transformSource is a Source over a planned SELECT: a transform's rows.
type transformSource struct {
	p  *Plan
	ec func() *Ctx
}

func (s *transformSource) Columns() []Column { return s.p.Columns() }

func (s *transformSource) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	return runBatched(ctx, s.p, s.ec(), fn)
}

// checkOutputOf refuses output_of() of anything but a transform: the
// change stream of an aggregating view is not supported yet.
func checkOutputOf(f *parser.TableRef, src Source) error {
	if _, ok := src.(*transformSource); ok {
		return nil
	}
	return pgerr.OutputOfNotTransform.New(f.Name, parser.QuoteIdent(f.Name)).WithPos(f.P)
}
