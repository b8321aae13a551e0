package exec

import (
	"fmt"
	"strings"

	"github.com/cairndb/cairn/internal/parser"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

type aggKind uint8

const (
	aggCountStar aggKind = iota
	aggCount
	aggSum
	aggMin
	aggMax
	aggAvg
)

// aggSpec is one aggregate call of a grouped query.
type aggSpec struct {
	kind     aggKind
	distinct bool
	arg      *node   // over the input scope; nil for count(*)
	t        types.T // result type
	canon    string
}

// aggCtx resolves expressions evaluated after grouping: sub-expressions
// equal to a group key read that key, aggregate calls read their result,
// and any other column reference is a grouping error. The post-grouping
// row is [keys..., aggregate results...].
type aggCtx struct {
	in       *compiler // the input scope: group keys and aggregate arguments
	keys     []string  // canonical form of each group key
	keyNodes []*node
	aggs     []*aggSpec
}

func (a *aggCtx) match(c *compiler, e parser.Expr) (*node, bool, error) {
	canon := a.in.canon(e)
	for i, k := range a.keys {
		if k == canon {
			return rowNode(i, a.keyNodes[i].t), true, nil
		}
	}
	switch e := e.(type) {
	case *parser.Func:
		if isAggName(strings.ToLower(e.Name)) {
			j, err := a.addAgg(e, canon)
			if err != nil {
				return nil, true, err
			}
			return rowNode(len(a.keys)+j, a.aggs[j].t), true, nil
		}
	case *parser.ColumnRef:
		idx, err := a.in.resolveCol(e)
		if err != nil {
			return nil, true, err
		}
		if idx >= 0 {
			name := e.Name
			if e.Table != "" {
				name = e.Table + "." + e.Name
			}
			return nil, true, pgerr.New(pgerr.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", name).WithPos(e.P)
		}
	}
	return nil, false, nil
}

// addAgg registers an aggregate call (deduplicated) and returns its slot.
func (a *aggCtx) addAgg(f *parser.Func, canon string) (int, error) {
	for j, s := range a.aggs {
		if s.canon == canon {
			return j, nil
		}
	}
	name := strings.ToLower(f.Name)
	spec := &aggSpec{canon: canon, distinct: f.Distinct}
	if f.Star {
		if name != "count" || len(f.Args) != 0 {
			return 0, noFunc(f, nil)
		}
		spec.kind, spec.t = aggCountStar, types.Int8
		a.aggs = append(a.aggs, spec)
		return len(a.aggs) - 1, nil
	}
	args := make([]*node, len(f.Args))
	for i, e := range f.Args {
		n, err := a.in.compile(e)
		if err != nil {
			return 0, err
		}
		args[i] = n
	}
	if len(args) != 1 {
		return 0, noFunc(f, args)
	}
	arg := args[0]
	if arg.untyped || arg.param > 0 {
		if name == "sum" || name == "avg" {
			return 0, noFunc(f, args)
		}
		var err error
		if arg, err = a.in.coerce(arg, types.Text, f.Args[0].Pos()); err != nil {
			return 0, err
		}
	}
	spec.arg = arg
	switch name {
	case "count":
		spec.kind, spec.t = aggCount, types.Int8
	case "sum":
		spec.kind = aggSum
		switch {
		case arg.t.IsInt():
			spec.t = types.Int8
		case arg.t == types.Float4 || arg.t == types.Float8:
			spec.t = types.Float8
		case arg.t == types.Numeric || arg.t == types.Interval:
			spec.t = arg.t
		default:
			return 0, noFunc(f, args)
		}
	case "avg":
		spec.kind = aggAvg
		switch {
		case arg.t.IsNumeric():
			spec.t = types.Float8
		case arg.t == types.Interval:
			spec.t = types.Interval
		default:
			return 0, noFunc(f, args)
		}
	case "min", "max":
		spec.kind = aggMin
		if name == "max" {
			spec.kind = aggMax
		}
		spec.t = arg.t
	}
	a.aggs = append(a.aggs, spec)
	return len(a.aggs) - 1, nil
}

// accum is the running state of one aggregate in one group of a SELECT.
type accum struct {
	n    int64 // values folded (count; sum/avg/min/max: non-NULL values)
	i    int64
	f    float64
	iv   types.IntervalValue
	d    types.Datum         // min/max so far
	seen map[string]struct{} // DISTINCT values
}

func (a *accum) add(s *aggSpec, v types.Datum, scratch *[]byte) error {
	if s.kind == aggCountStar {
		a.n++
		return nil
	}
	if v.Null {
		return nil
	}
	if s.distinct {
		*scratch = appendKey((*scratch)[:0], v)
		if _, ok := a.seen[string(*scratch)]; ok {
			return nil
		}
		if a.seen == nil {
			a.seen = make(map[string]struct{})
		}
		a.seen[string(*scratch)] = struct{}{}
	}
	a.n++
	switch s.kind {
	case aggSum, aggAvg:
		switch {
		case v.T == types.Interval:
			a.iv = addIv(a.iv, v.Iv)
		case v.T.IsInt():
			r := a.i + v.I
			if (r > a.i) != (v.I > 0) {
				return rangeErr(types.Int8)
			}
			a.i = r
		default:
			a.f += v.F
		}
	case aggMin, aggMax:
		if a.n == 1 {
			a.d = own(v)
			return nil
		}
		c := compareDatums(v, a.d)
		if (s.kind == aggMin && c < 0) || (s.kind == aggMax && c > 0) {
			a.d = own(v)
		}
	}
	return nil
}

func addIv(a, b types.IntervalValue) types.IntervalValue {
	return types.IntervalValue{Months: a.Months + b.Months, Days: a.Days + b.Days, Micros: a.Micros + b.Micros}
}

func (a *accum) result(s *aggSpec) types.Datum {
	switch s.kind {
	case aggCountStar, aggCount:
		return types.NewInt(types.Int8, a.n)
	}
	if a.n == 0 {
		return types.NullOf(s.t)
	}
	return aggResult(s, a.n, a.i, a.f, a.iv, a.d)
}

// aggResult finalizes sum/avg/min/max from their running values; shared by
// SELECT and continuous views so both produce identical results.
func aggResult(s *aggSpec, n, i int64, f float64, iv types.IntervalValue, d types.Datum) types.Datum {
	argT := s.arg.t
	switch s.kind {
	case aggSum:
		switch {
		case argT == types.Interval:
			return types.Datum{T: types.Interval, Iv: iv}
		case argT.IsInt():
			return types.NewInt(types.Int8, i)
		}
		return types.NewFloat(s.t, f)
	case aggAvg:
		switch {
		case argT == types.Interval:
			return types.Datum{T: types.Interval, Iv: scaleInterval(iv, 1/float64(n))}
		case argT.IsInt():
			return types.NewFloat(types.Float8, float64(i)/float64(n))
		}
		return types.NewFloat(types.Float8, f/float64(n))
	}
	d.T = s.t
	return d
}

// ---- expression walking ----

// children lists the direct sub-expressions of e.
func children(e parser.Expr) []parser.Expr {
	switch e := e.(type) {
	case *parser.Unary:
		return []parser.Expr{e.X}
	case *parser.Binary:
		return []parser.Expr{e.L, e.R}
	case *parser.IsNull:
		return []parser.Expr{e.X}
	case *parser.IsBool:
		return []parser.Expr{e.X}
	case *parser.InList:
		return append([]parser.Expr{e.X}, e.List...)
	case *parser.Between:
		return []parser.Expr{e.X, e.Lo, e.Hi}
	case *parser.Cast:
		return []parser.Expr{e.X}
	case *parser.Func:
		return e.Args
	case *parser.Case:
		var out []parser.Expr
		if e.Operand != nil {
			out = append(out, e.Operand)
		}
		for _, w := range e.Whens {
			out = append(out, w.Cond, w.Then)
		}
		if e.Else != nil {
			out = append(out, e.Else)
		}
		return out
	}
	return nil
}

// hasAgg reports whether e contains an aggregate call.
func hasAgg(e parser.Expr) bool {
	if e == nil {
		return false
	}
	if f, ok := e.(*parser.Func); ok && isAggName(strings.ToLower(f.Name)) {
		return true
	}
	for _, k := range children(e) {
		if hasAgg(k) {
			return true
		}
	}
	return false
}

// canon renders e in a canonical form (positions dropped, columns
// resolved to their index) so equal expressions compare equal.
func (c *compiler) canon(e parser.Expr) string {
	var sb strings.Builder
	c.canonTo(&sb, e)
	return sb.String()
}

func (c *compiler) canonTo(sb *strings.Builder, e parser.Expr) {
	switch e := e.(type) {
	case nil:
		sb.WriteString("<nil>")
	case *parser.ColumnRef:
		if idx, err := c.resolveCol(e); err == nil && idx >= 0 {
			fmt.Fprintf(sb, "#%d", idx)
		} else {
			fmt.Fprintf(sb, "?%s.%s", e.Table, e.Name)
		}
	case *parser.Literal:
		fmt.Fprintf(sb, "L%d%q", e.Kind, e.Val)
	case *parser.Param:
		fmt.Fprintf(sb, "$%d", e.N)
	case *parser.Star:
		sb.WriteString("*")
	case *parser.Unary:
		fmt.Fprintf(sb, "(%s ", strings.ToUpper(e.Op))
		c.canonTo(sb, e.X)
		sb.WriteString(")")
	case *parser.Binary:
		sb.WriteString("(")
		c.canonTo(sb, e.L)
		fmt.Fprintf(sb, " %s ", strings.ToUpper(e.Op))
		c.canonTo(sb, e.R)
		sb.WriteString(")")
	case *parser.IsNull:
		fmt.Fprintf(sb, "(ISNULL %v ", e.Not)
		c.canonTo(sb, e.X)
		sb.WriteString(")")
	case *parser.IsBool:
		fmt.Fprintf(sb, "(ISBOOL %v %v ", e.Not, e.Val)
		c.canonTo(sb, e.X)
		sb.WriteString(")")
	case *parser.InList:
		fmt.Fprintf(sb, "(IN %v", e.Not)
		for _, k := range children(e) {
			sb.WriteString(" ")
			c.canonTo(sb, k)
		}
		sb.WriteString(")")
	case *parser.Between:
		fmt.Fprintf(sb, "(BETWEEN %v", e.Not)
		for _, k := range children(e) {
			sb.WriteString(" ")
			c.canonTo(sb, k)
		}
		sb.WriteString(")")
	case *parser.Cast:
		sb.WriteString("(CAST ")
		c.canonTo(sb, e.X)
		t, _ := types.FromName(e.Type.Name)
		fmt.Fprintf(sb, " %d %v)", t, e.Type.Mods)
	case *parser.Func:
		fmt.Fprintf(sb, "%s(%v %v", strings.ToLower(e.Name), e.Distinct, e.Star)
		for _, k := range e.Args {
			sb.WriteString(" ")
			c.canonTo(sb, k)
		}
		sb.WriteString(")")
	case *parser.Case:
		fmt.Fprintf(sb, "(CASE %v", e.Operand != nil)
		for _, k := range children(e) {
			sb.WriteString(" ")
			c.canonTo(sb, k)
		}
		fmt.Fprintf(sb, " %v)", e.Else != nil)
	default:
		fmt.Fprintf(sb, "%T@%p", e, e)
	}
}

// figureName is the output column name PostgreSQL gives an unaliased
// select item.
func figureName(e parser.Expr) string {
	name, _ := figureNameStrength(e)
	return name
}

// figureNameStrength mirrors PostgreSQL's FigureColname: column and
// function names (strength 2) win over a cast's type name (1), which
// wins over "?column?" (0).
func figureNameStrength(e parser.Expr) (string, int) {
	switch e := e.(type) {
	case *parser.ColumnRef:
		return e.Name, 2
	case *parser.Func:
		return strings.ToLower(e.Name), 2
	case *parser.Cast:
		if n, s := figureNameStrength(e.X); s == 2 {
			return n, s
		}
		if t, ok := types.FromName(e.Type.Name); ok {
			return internalTypeName(t), 1
		}
		return e.Type.Name, 1
	case *parser.Case:
		return "case", 1
	case *parser.Literal:
		if e.Kind == parser.LitBool {
			return "bool", 1
		}
	}
	return "?column?", 0
}

func internalTypeName(t types.T) string {
	switch t {
	case types.Bool:
		return "bool"
	case types.Int2:
		return "int2"
	case types.Int4:
		return "int4"
	case types.Int8:
		return "int8"
	case types.Float4:
		return "float4"
	case types.Float8:
		return "float8"
	case types.Numeric:
		return "numeric"
	case types.Text:
		return "text"
	case types.Timestamp:
		return "timestamp"
	case types.TimestampTZ:
		return "timestamptz"
	case types.Date:
		return "date"
	case types.Interval:
		return "interval"
	}
	return "unknown"
}
