package session

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/tablesm"
	"github.com/cairndb/cairn/internal/types"
)

// Table DML: INSERT (VALUES, SELECT, ON CONFLICT), UPDATE, DELETE, COPY.
// The session evaluates what it can (inserted rows, parameter values,
// now()) and ships UPDATE/DELETE/DO UPDATE expressions as SQL text that
// each shard evaluates against its rows when it applies the command.

// rewriteRefs copies e with column references made unqualified (a
// qualifier must be one of quals), and EXCLUDED.c (when excluded) made
// the column "excluded.c" of the command's scope.
func rewriteRefs(e parser.Expr, quals []string, excluded bool, where string) (parser.Expr, error) {
	var rw func(e parser.Expr) (parser.Expr, error)
	list := func(es []parser.Expr) ([]parser.Expr, error) {
		out := make([]parser.Expr, len(es))
		for i, x := range es {
			var err error
			if out[i], err = rw(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	rw = func(e parser.Expr) (parser.Expr, error) {
		var err error
		switch e := e.(type) {
		case nil:
			return nil, nil
		case *parser.ColumnRef:
			c := *e
			switch {
			case c.Table == "":
			case excluded && c.Table == "excluded":
				c.Table, c.Name = "", "excluded."+c.Name
			case containsStr(quals, c.Table):
				c.Table = ""
			default:
				return nil, pgerr.MissingFromEntry.New(c.Table).WithPos(c.P)
			}
			return &c, nil
		case *parser.Literal, *parser.Param, *parser.Star:
			return e, nil
		case *parser.Unary:
			c := *e
			c.X, err = rw(e.X)
			return &c, err
		case *parser.Binary:
			c := *e
			if c.L, err = rw(e.L); err != nil {
				return nil, err
			}
			c.R, err = rw(e.R)
			return &c, err
		case *parser.IsNull:
			c := *e
			c.X, err = rw(e.X)
			return &c, err
		case *parser.IsBool:
			c := *e
			c.X, err = rw(e.X)
			return &c, err
		case *parser.InList:
			c := *e
			if c.X, err = rw(e.X); err != nil {
				return nil, err
			}
			c.List, err = list(e.List)
			return &c, err
		case *parser.Between:
			c := *e
			if c.X, err = rw(e.X); err != nil {
				return nil, err
			}
			if c.Lo, err = rw(e.Lo); err != nil {
				return nil, err
			}
			c.Hi, err = rw(e.Hi)
			return &c, err
		case *parser.Cast:
			c := *e
			c.X, err = rw(e.X)
			return &c, err
		case *parser.Func:
			if shardVariant[e.Name] {
				return nil, pgerr.TableVolatileFunc.New(e.Name, where).WithPos(e.P)
			}
			c := *e // an aggregate's FILTER is left as is: compiling refuses aggregates here
			c.Args, err = list(e.Args)
			return &c, err
		case *parser.Case:
			c := *e
			if c.Operand, err = rw(e.Operand); err != nil {
				return nil, err
			}
			c.Whens = make([]parser.When, len(e.Whens))
			for i, w := range e.Whens {
				if c.Whens[i].Cond, err = rw(w.Cond); err != nil {
					return nil, err
				}
				if c.Whens[i].Then, err = rw(w.Then); err != nil {
					return nil, err
				}
			}
			c.Else, err = rw(e.Else)
			return &c, err
		}
		return nil, pgerr.TableSubquery.New(where).WithPos(e.Pos())
	}
	return rw(e)
}

// shardVariant are the functions whose value a shard could not compute
// as the session would, the same on every replica: they read the clock
// or randomness at evaluation, or the session (now() and its kin are fine:
// the statement's time travels with the command).
var shardVariant = map[string]bool{
	"clock_timestamp": true, "gen_random_uuid": true, "random": true, "timeofday": true, "version": true,
	"current_setting": true, "current_user": true, "session_user": true, "user": true, "current_role": true,
	"current_schema": true, "current_database": true, "current_catalog": true,
}

func containsStr(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// tableScope is the columns a command's expressions see: the table's,
// and for DO UPDATE the excluded row's after them.
func tableScope(t *catalog.Table, excluded bool) []exec.Column {
	cols := make([]exec.Column, 0, 2*len(t.Columns))
	for _, c := range t.Columns {
		cols = append(cols, exec.Column{Name: c.Name, T: c.T})
	}
	if excluded {
		for _, c := range t.Columns {
			cols = append(cols, exec.Column{Name: "excluded." + c.Name, T: c.T})
		}
	}
	return cols
}

// shippedExprs are the SET and WHERE of a statement, checked and written
// as the SQL text a shard evaluates.
type shippedExprs struct {
	set   []tablesm.SetExpr
	where string
}

// planShipped checks SET assignments and a WHERE over t (types and
// columns, recording parameter types in pt) and rewrites them for
// shipping.
func planShipped(t *catalog.Table, quals []string, excluded bool, set []parser.SetClause, where parser.Expr, pt *exec.ParamTypes, what string) (*shippedExprs, error) {
	cols := tableScope(t, excluded)
	out := &shippedExprs{}
	seen := map[int]bool{}
	for _, sc := range set {
		i := t.ColumnIndex(sc.Col)
		if i < 0 {
			return nil, pgerr.TableColumnNotFound.New(sc.Col, t.Name).WithPos(sc.P)
		}
		if seen[i] {
			return nil, pgerr.MultipleAssignments.New(sc.Col).WithPos(sc.P)
		}
		seen[i] = true
		if t.IsKey(i) {
			return nil, pgerr.UpdateKeyColumn.New(sc.Col).WithPos(sc.P)
		}
		e, err := rewriteRefs(sc.Expr, quals, excluded, what)
		if err != nil {
			return nil, err
		}
		if _, err := scalar.CompileAssign(e, cols, t.Columns[i].T, pt); err != nil {
			return nil, nameColumn(err, sc.Col)
		}
		out.set = append(out.set, tablesm.SetExpr{Col: i, SQL: parser.FormatExpr(e)})
	}
	if where != nil {
		e, err := rewriteRefs(where, quals, excluded, what)
		if err != nil {
			return nil, err
		}
		x, err := exec.Compile(e, cols, pt)
		if err != nil {
			return nil, err
		}
		if x.Type() != types.Bool && x.Type() != types.Unknown {
			return nil, pgerr.ArgumentNotBoolean.New("WHERE", x.Type()).WithPos(where.Pos())
		}
		out.where = parser.FormatExpr(e)
	}
	return out, nil
}

// finishParams gives parameters still untyped the type text.
func finishParams(pt *exec.ParamTypes) {
	for i, t := range pt.Types {
		if t == types.Unknown {
			pt.Types[i] = types.Text
		}
	}
}

// shipParams encodes the statement's parameter values as their types.
func shipParams(ts []types.T, params []types.Datum, st *types.Style) ([]tablesm.Param, error) {
	out := make([]tablesm.Param, len(ts))
	for i, t := range ts {
		d := types.NullOf(t)
		if i < len(params) {
			var err error
			if d, err = exec.CoerceStyle(params[i], t, st); err != nil {
				return nil, err
			}
		}
		out[i] = tablesm.Param{T: t, Key: scalar.AppendKey(nil, d)}
	}
	return out, nil
}

// keyPins finds, in a WHERE that is a conjunction, the values each
// primary key column is pinned to (col = v, col IN (...)); nil when some
// key column is not pinned. Values are expressions without column
// references, evaluated at run time.
func keyPins(t *catalog.Table, quals []string, where parser.Expr) [][]parser.Expr {
	if where == nil {
		return nil
	}
	pins := make([][]parser.Expr, len(t.PrimaryKey))
	keyOf := func(e parser.Expr) int {
		r, ok := e.(*parser.ColumnRef)
		if !ok || (r.Table != "" && !containsStr(quals, r.Table)) {
			return -1
		}
		for k, i := range t.PrimaryKey {
			if t.Columns[i].Name == r.Name {
				return k
			}
		}
		return -1
	}
	var walk func(e parser.Expr)
	walk = func(e parser.Expr) {
		switch e := e.(type) {
		case *parser.Binary:
			switch {
			case strings.EqualFold(e.Op, "AND"):
				walk(e.L)
				walk(e.R)
			case e.Op == "=":
				if k := keyOf(e.L); k >= 0 && noColumns(e.R) && pins[k] == nil {
					pins[k] = []parser.Expr{e.R}
				} else if k := keyOf(e.R); k >= 0 && noColumns(e.L) && pins[k] == nil {
					pins[k] = []parser.Expr{e.L}
				}
			}
		case *parser.InList:
			if k := keyOf(e.X); k >= 0 && !e.Not && pins[k] == nil {
				for _, x := range e.List {
					if !noColumns(x) {
						return
					}
				}
				pins[k] = e.List
			}
		}
	}
	walk(where)
	n := 1
	for _, p := range pins {
		if p == nil {
			return nil
		}
		n *= len(p)
		if n > 1000 {
			return nil
		}
	}
	return pins
}

// noColumns reports whether e is built of literals, parameters, casts
// and operators only.
func noColumns(e parser.Expr) bool {
	switch e := e.(type) {
	case *parser.Literal, *parser.Param:
		return true
	case *parser.Cast:
		return noColumns(e.X)
	case *parser.Unary:
		return noColumns(e.X)
	case *parser.Binary:
		return noColumns(e.L) && noColumns(e.R)
	}
	return false
}

// pinnedKeys evaluates the pinned key values into encoded keys by shard;
// ok is false when some value does not convert to its key column's type
// (then every shard is asked, and WHERE decides).
func pinnedKeys(t *catalog.Table, pins [][]exec.Expr, ec *exec.Ctx) (map[int][][]byte, bool) {
	vals := make([][]types.Datum, len(pins))
	for k, xs := range pins {
		kt := t.Columns[t.PrimaryKey[k]].T
		for _, x := range xs {
			d, err := x.EvalRow(ec, nil)
			if err != nil {
				return nil, false
			}
			if d.Null {
				continue // = NULL matches nothing
			}
			if d.T != kt {
				if d.T.IsFloat() || (d.T == types.Numeric && kt != types.Numeric) {
					return nil, false // 1.5 = int key: conversion would round
				}
				c, err := exec.CoerceStyle(d, kt, ec.Style)
				if err != nil {
					return nil, false
				}
				d = c
			}
			vals[k] = append(vals[k], scalar.Own(d))
		}
	}
	out := map[int][][]byte{}
	var rec func(k int, acc []types.Datum)
	rec = func(k int, acc []types.Datum) {
		if k == len(vals) {
			enc := tablesm.EncodeKey(acc)
			sh := tablesm.ShardOf(enc, len(t.Groups))
			out[sh] = append(out[sh], enc)
			return
		}
		for _, v := range vals[k] {
			rec(k+1, append(acc, v))
		}
	}
	rec(0, nil)
	return out, true
}

// prepareUpdate prepares UPDATE (set non-empty) or DELETE (set nil).
func (s *Session) prepareUpdate(name, alias string, set []parser.SetClause, where parser.Expr, pos int, oids []uint32) (*prepared, error) {
	t, err := s.table(name, pos)
	if err != nil {
		return nil, err
	}
	op, what := tablesm.OpDelete, "DELETE"
	if set != nil {
		op, what = tablesm.OpUpdate, "UPDATE"
	}
	quals := []string{t.Name}
	if alias != "" {
		quals = []string{alias}
	}
	pt := s.paramTypes(oids)
	sh, err := planShipped(t, quals, false, set, where, pt, what)
	if err != nil {
		return nil, err
	}
	var pins [][]exec.Expr
	for _, es := range keyPins(t, quals, where) {
		var xs []exec.Expr
		for _, e := range es {
			x, err := exec.Compile(e, nil, pt)
			if err != nil {
				xs = nil
				break
			}
			xs = append(xs, *x)
		}
		if xs == nil {
			pins = nil
			break
		}
		pins = append(pins, xs)
	}
	finishParams(pt)
	return &prepared{params: pt.Types, run: func(ctx context.Context, params []types.Datum, _ pgwire.ResultWriter) (string, error) {
		ec := s.execCtx(params)
		ps, err := shipParams(pt.Types, params, ec.Style)
		if err != nil {
			return "", err
		}
		base := tablesm.Command{Op: op, Table: t.Name, Cols: t.Columns, Key: t.PrimaryKey, Set: sh.set, Where: sh.where, Params: ps, Now: ec.Now.UnixMicro(),
			Style: tablesm.ShipStyle(s.style())}
		cmds := map[int]*tablesm.Command{}
		if keys, ok := pinnedKeys(t, pins, ec); ok && pins != nil {
			for shard, ks := range keys {
				c := base
				c.Keys = ks
				cmds[shard] = &c
			}
		} else {
			for i := range t.Groups {
				c := base
				cmds[i] = &c
			}
		}
		n := 0
		if err := s.tableWrite(ctx, t, cmds, &n); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %d", what, n), nil
	}}, nil
}

// tableTargets maps INSERT's or COPY's column list to table column indexes.
func tableTargets(t *catalog.Table, cols []string, pos int) ([]int, error) {
	return columnTargets(len(t.Columns), cols, pos, t.ColumnIndex,
		func(name string) *pgerr.Error { return pgerr.TableColumnNotFound.New(name, t.Name) })
}

// rowBuilder turns given values of some columns into a table's rows and
// the insert commands that carry them, by shard.
type rowBuilder struct {
	t        *catalog.Table
	idx      []int
	defaults []types.Datum
	base     tablesm.Command
}

func newRowBuilder(t *catalog.Table, idx []int) (*rowBuilder, error) {
	rb := &rowBuilder{t: t, idx: idx, base: tablesm.Command{Op: tablesm.OpInsert, Table: t.Name, Cols: t.Columns, Key: t.PrimaryKey}}
	for _, c := range t.Columns {
		d, err := tablesm.DefaultValue(c)
		if err != nil {
			return nil, err
		}
		rb.defaults = append(rb.defaults, d)
	}
	return rb, nil
}

// add checks a row of values for rb.idx (already of the columns' types)
// and adds it to the command of its shard.
func (rb *rowBuilder) add(cmds map[int]*tablesm.Command, vals []types.Datum) error {
	row := append([]types.Datum(nil), rb.defaults...)
	for i, c := range rb.idx {
		row[c] = vals[i]
	}
	for i, c := range rb.t.Columns {
		if c.NotNull && row[i].Null {
			return pgerr.NullInColumn.New(c.Name, rb.t.Name).WithDetail("Failing row contains %s.", rowText(row))
		}
	}
	kv := make([]types.Datum, len(rb.t.PrimaryKey))
	for i, k := range rb.t.PrimaryKey {
		kv[i] = row[k]
	}
	sh := tablesm.ShardOf(tablesm.EncodeKey(kv), len(rb.t.Groups))
	c := cmds[sh]
	if c == nil {
		cp := rb.base
		c = &cp
		cmds[sh] = c
	}
	c.Rows = append(c.Rows, tablesm.EncodeRow(rb.t.Columns, row))
	return nil
}

// rowText is PostgreSQL's "(1, null, x)" of a failing row.
func rowText(row []types.Datum) string {
	parts := make([]string, len(row))
	for i, d := range row {
		if d.Null {
			parts[i] = "null"
		} else {
			parts[i] = string(types.AppendText(nil, d))
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (s *Session) prepareTableInsert(t *catalog.Table, ins *parser.Insert, oids []uint32) (*prepared, error) {
	idx, err := tableTargets(t, ins.Cols, ins.P)
	if err != nil {
		return nil, err
	}
	rb, err := newRowBuilder(t, idx)
	if err != nil {
		return nil, err
	}
	pt := s.paramTypes(oids)
	var plan *exec.Plan
	var exprs [][]*exec.Expr
	if ins.Select != nil {
		if plan, err = exec.PlanSelect(ins.Select, s.resolve, pt); err != nil {
			return nil, err
		}
		if idx, err = selectTargets(plan.Columns(), idx, ins); err != nil {
			return nil, err
		}
		rb.idx = idx
	} else {
		if len(ins.Cols) == 0 && len(ins.Rows) > 0 && len(ins.Rows[0]) < len(idx) {
			// As in PostgreSQL: without a column list, fewer values fill
			// the first columns and the rest take their defaults.
			idx = idx[:len(ins.Rows[0])]
			rb.idx = idx
		}
		exprs = make([][]*exec.Expr, len(ins.Rows))
		for r, row := range ins.Rows {
			if len(row) != len(idx) {
				if r > 0 && len(ins.Cols) == 0 {
					return nil, pgerr.ValuesLength.New().WithPos(row[0].Pos())
				}
				return nil, arityErr(len(row), len(idx), row, ins.P)
			}
			for i, e := range row {
				if _, ok := e.(*parser.DefaultValue); ok {
					exprs[r] = append(exprs[r], nil) // the column's default
					continue
				}
				x, err := scalar.CompileAssign(e, nil, t.Columns[idx[i]].T, pt)
				if err != nil {
					return nil, nameColumn(err, t.Columns[idx[i]].Name)
				}
				exprs[r] = append(exprs[r], x)
			}
		}
	}
	if oc := ins.OnConflict; oc != nil {
		rb.base.Conflict = tablesm.ConflictNothing
		if oc.Target != nil && !sameSet(oc.Target, t.KeyNames()) {
			return nil, pgerr.NoConflictConstraint.New(strings.Join(t.KeyNames(), ", ")).WithPos(oc.P)
		}
		if !oc.Nothing {
			sh, err := planShipped(t, []string{t.Name}, true, oc.Update, oc.Where, pt, "ON CONFLICT DO UPDATE")
			if err != nil {
				return nil, err
			}
			rb.base.Conflict, rb.base.Set, rb.base.Where = tablesm.ConflictUpdate, sh.set, sh.where
		}
	}
	finishParams(pt)
	return &prepared{params: pt.Types, run: func(ctx context.Context, params []types.Datum, _ pgwire.ResultWriter) (string, error) {
		ec := s.execCtx(params)
		base := rb.base
		if base.Conflict == tablesm.ConflictUpdate {
			ps, err := shipParams(pt.Types, params, ec.Style)
			if err != nil {
				return "", err
			}
			base.Params, base.Now, base.Style = ps, ec.Now.UnixMicro(), tablesm.ShipStyle(s.style())
		}
		rbr := *rb
		rbr.base = base
		cmds := map[int]*tablesm.Command{}
		rows := 0
		vals := make([]types.Datum, len(idx))
		if plan != nil {
			err := plan.Run(ctx, ec, func(row []types.Datum) error {
				for i, d := range row {
					v, err := exec.CoerceStyle(d, t.Columns[idx[i]].T, ec.Style)
					if err != nil {
						return err
					}
					vals[i] = scalar.Own(v)
				}
				// The rows are held until the statement's write.
				if err := ec.Grow(scalar.RowSize(vals)); err != nil {
					return err
				}
				rows++
				return rbr.add(cmds, vals)
			})
			if err != nil {
				return "", err
			}
		} else {
			for r := range exprs {
				for i, x := range exprs[r] {
					if x == nil {
						vals[i] = rb.defaults[idx[i]]
						continue
					}
					d, err := x.EvalRow(ec, nil)
					if err != nil {
						return "", err
					}
					vals[i] = scalar.Own(d)
				}
				rows++
				if err := rbr.add(cmds, vals); err != nil {
					return "", err
				}
			}
		}
		n := rows
		if err := s.tableWrite(ctx, t, cmds, &n); err != nil {
			return "", err
		}
		return fmt.Sprintf("INSERT 0 %d", n), nil
	}}, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !containsStr(b, x) {
			return false
		}
	}
	return true
}

// arityErr is INSERT's "more/fewer expressions than target columns".
// Its wording is PostgreSQL's.
func arityErr(got, want int, row []parser.Expr, pos int) error {
	if len(row) > 0 {
		pos = row[0].Pos()
	}
	if got < want {
		return pgerr.InsertTooFewExprs.New().WithPos(pos)
	}
	return pgerr.InsertArity.New("more").WithPos(pos)
}

// selectTargets checks INSERT ... SELECT's column count against the
// target columns idx and returns the targets: as in PostgreSQL, without
// a column list a SELECT of fewer columns fills the first ones and the
// rest take their defaults.
func selectTargets(cols []exec.Column, idx []int, ins *parser.Insert) ([]int, error) {
	if len(ins.Cols) == 0 && len(cols) < len(idx) {
		return idx[:len(cols)], nil
	}
	if len(cols) != len(idx) {
		return nil, arityErr(len(cols), len(idx), nil, ins.Select.P)
	}
	return idx, nil
}

// prepareStreamInsertSelect appends a SELECT's rows to a stream.
func (s *Session) prepareStreamInsertSelect(ins *parser.Insert, oids []uint32) (*prepared, error) {
	st, err := s.stream(ins.Table)
	if err != nil {
		return nil, pgerr.From(err).WithPos(ins.P)
	}
	idx, err := targetColumns(st, ins.Cols, ins.P)
	if err != nil {
		return nil, err
	}
	pt := s.paramTypes(oids)
	plan, err := exec.PlanSelect(ins.Select, s.resolve, pt)
	if err != nil {
		return nil, err
	}
	if idx, err = selectTargets(plan.Columns(), idx, ins); err != nil {
		return nil, err
	}
	finishParams(pt)
	colTypes := make([]types.T, len(st.Cols))
	for i, c := range st.Cols {
		colTypes[i] = c.T
	}
	return &prepared{params: pt.Types, run: func(ctx context.Context, params []types.Datum, _ pgwire.ResultWriter) (string, error) {
		ec := s.execCtx(params)
		// Buffered whole first: the SELECT may read the stream it
		// inserts into, and must not see its own rows.
		b := types.NewBatch(colTypes)
		row := make([]types.Datum, len(colTypes))
		err := plan.Run(ctx, ec, func(in []types.Datum) error {
			for i := range row {
				row[i] = types.NullOf(colTypes[i])
			}
			for i, d := range in {
				v, err := exec.CoerceStyle(d, colTypes[idx[i]], ec.Style)
				if err != nil {
					return err
				}
				row[idx[i]] = v
			}
			if err := ec.Grow(scalar.RowSize(row)); err != nil {
				return err
			}
			b.AppendRow(row)
			return nil
		})
		if err != nil {
			return "", err
		}
		for start := 0; start < b.N; start += copyChunk {
			if err := s.insert(ctx, st.Name, b.Slice(start, min(b.N, start+copyChunk))); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("INSERT 0 %d", b.N), nil
	}}, nil
}

// prepareTableCopy is COPY t FROM STDIN: rows in chunks of copyChunk,
// each chunk one insert command per shard.
func (s *Session) prepareTableCopy(t *catalog.Table, c *parser.Copy) (*prepared, error) {
	idx, err := tableTargets(t, c.Cols, c.P)
	if err != nil {
		return nil, err
	}
	opts, err := copyOptions(c.Options)
	if err != nil {
		return nil, err
	}
	rb, err := newRowBuilder(t, idx)
	if err != nil {
		return nil, err
	}
	inTypes := make([]types.T, len(idx))
	for i, c := range idx {
		inTypes[i] = t.Columns[c].T
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		src, err := w.CopyIn(opts, inTypes)
		if err != nil {
			return "", err
		}
		total, applied := 0, 0
		vals := make([]types.Datum, len(idx))
		for {
			b := types.NewBatch(inTypes)
			n, err := src.Next(b, copyChunk)
			eof := err != nil && isEOF(err)
			if err != nil && !eof {
				return "", copyErr(err, applied)
			}
			if n > 0 {
				cmds := map[int]*tablesm.Command{}
				for r := 0; r < b.N; r++ {
					for i := range vals {
						vals[i] = scalar.Own(b.Cols[i].Datum(r))
					}
					if err := rb.add(cmds, vals); err != nil {
						return "", copyErr(err, applied)
					}
				}
				if err := s.tableWrite(ctx, t, cmds, nil); err != nil {
					return "", copyErr(err, applied)
				}
				total += n
				applied += n
			}
			if eof {
				return fmt.Sprintf("COPY %d", total), nil
			}
		}
	}}, nil
}

// copyErr says how much of a failed COPY into a table was applied.
func copyErr(err error, applied int) error {
	e := pgerr.From(err)
	if applied > 0 {
		e = e.WithDetail("%d rows of this COPY were applied before the error, in chunks of %d.", applied, copyChunk)
	}
	return e
}

// nameColumn names the column in an assignment's type mismatch (42804),
// as PostgreSQL does: column "id" is of type integer but ....
func nameColumn(err error, col string) error {
	e := pgerr.From(err)
	if e.Code != pgerr.DatatypeMismatch || !strings.HasPrefix(e.Message, "column is of type") {
		return err
	}
	c := *e
	c.Message = fmt.Sprintf("column %q", col) + strings.TrimPrefix(e.Message, "column")
	return &c
}
