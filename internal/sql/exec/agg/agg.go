// Package agg holds aggregates: recognizing aggregate calls in a query
// and resolving the post-grouping scope (Scope), the running state of a
// SELECT's aggregates (Accum), and the mergeable partial states of
// continuous views (Layout, State): a few 64-bit words per aggregate (a
// text or exact decimal beside them for text min/max and numeric) that
// fold rows in, encode for Raft, merge associatively across shards and
// replicas, and finalize to the same result a SELECT computes. Result
// types are PostgreSQL's (numeric.go: sum(bigint) and avg of integers are
// numeric). Every other aggregate, and the DISTINCT form of any, is a Fixed
// (words) or Blob (a Go value, length-prefixed bytes encoded) driven the
// same way by SELECT and views (ext.go; stats.go, blob.go, json.go,
// array.go, sketch.go).
package agg

import (
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Kind is an aggregate function.
type Kind uint8

// The aggregate functions.
const (
	CountStar Kind = iota
	Count
	Sum
	Min
	Max
	Avg
	// Other is every aggregate driven through Spec.Fixed or Spec.Blob
	// (ext.go), including the DISTINCT form of any aggregate.
	Other
)

// Spec is one aggregate call of a grouped query.
type Spec struct {
	Kind     Kind
	Distinct bool
	Arg      *scalar.Node // over the input scope; nil for count(*)
	T        types.T      // result type
	canon    string
	// Args are all the arguments (Arg is Args[0]); for an ordered-set
	// aggregate the direct arguments, then the WITHIN GROUP keys.
	Args []*scalar.Node
	// Filter is FILTER (WHERE ...) over the input scope; nil when absent.
	Filter *scalar.Node
	// Fixed or Blob drive a Kind Other aggregate (see ext.go).
	Fixed Fixed
	Blob  Blob
	// ViewBlob, when set, replaces Blob in a continuous view: a bounded
	// sketch standing in for an exact but unbounded state.
	ViewBlob Blob
	// NotInView, when set, is the hint of the 0A000 refusing this
	// aggregate in a continuous view.
	NotInView string
	Pos       int    // of the (first) call, for errors
	Func      string // the function's (lower-case) name
}

// Scope resolves expressions evaluated after grouping: sub-expressions
// equal to a group key read that key, aggregate calls read their result,
// and any other column reference is a grouping error. The post-grouping
// row is [keys..., aggregate results...].
type Scope struct {
	In       *scalar.Compiler // the input scope: group keys and aggregate arguments
	Keys     []string         // canonical form of each group key
	KeyNodes []*scalar.Node
	Aggs     []*Spec
}

// Input returns the scope before grouping (for error messages that type
// a call's arguments).
func (a *Scope) Input() *scalar.Compiler { return a.In }

// Match implements scalar.Grouping.
func (a *Scope) Match(e parser.Expr) (*scalar.Node, bool, error) {
	canon := Canon(a.In, e)
	for i, k := range a.Keys {
		if k == canon {
			return scalar.RowNode(i, a.KeyNodes[i].T), true, nil
		}
	}
	switch e := e.(type) {
	case *parser.Func:
		if scalar.IsAggName(strings.ToLower(e.Name)) {
			j, err := a.addAgg(e, canon)
			if err != nil {
				return nil, true, err
			}
			return scalar.RowNode(len(a.Keys)+j, a.Aggs[j].T), true, nil
		}
	case *parser.ColumnRef:
		idx, err := a.In.ResolveCol(e)
		if err != nil {
			return nil, true, err
		}
		if idx >= 0 {
			name := e.Name
			if e.Table != "" {
				name = e.Table + "." + e.Name
			}
			return nil, true, pgerr.ColumnNotGrouped.New(name).WithPos(e.P)
		}
	}
	return nil, false, nil
}

// addAgg registers an aggregate call (deduplicated) and returns its slot.
func (a *Scope) addAgg(f *parser.Func, canon string) (int, error) {
	for j, s := range a.Aggs {
		if s.canon == canon {
			return j, nil
		}
	}
	name := strings.ToLower(f.Name)
	spec := &Spec{canon: canon, Distinct: f.Distinct, Pos: f.P, Func: name}
	if f.Star {
		if name != "count" || len(f.Args) != 0 {
			return 0, scalar.NoFunc(f, nil)
		}
		spec.Kind, spec.T = CountStar, types.Int8
		return a.finishAgg(f, spec)
	}
	args := make([]*scalar.Node, 0, len(f.Args)+len(f.WithinGroup))
	for _, e := range f.Args {
		n, err := a.In.Compile(e)
		if err != nil {
			return 0, err
		}
		args = append(args, n)
	}
	for _, o := range f.WithinGroup {
		n, err := a.In.Compile(o.Expr)
		if err != nil {
			return 0, err
		}
		args = append(args, n)
	}
	if !builtin(name) {
		if err := a.buildExt(f, name, spec, args); err != nil {
			return 0, err
		}
		return a.finishAgg(f, spec)
	}
	if len(f.WithinGroup) > 0 {
		return 0, pgerr.WithinGroupNotAllowed.New(name).WithPos(f.P)
	}
	if len(args) != 1 {
		return 0, scalar.NoFunc(f, args)
	}
	arg := args[0]
	if arg.Untyped || arg.Param > 0 {
		if name == "sum" || name == "avg" {
			return 0, scalar.NoFunc(f, args)
		}
		var err error
		if arg, err = a.In.Coerce(arg, types.Text, f.Args[0].Pos()); err != nil {
			return 0, err
		}
	}
	spec.Arg = arg
	switch name {
	case "count":
		spec.Kind, spec.T = Count, types.Int8
	case "sum":
		// PostgreSQL's result types: sum(int2|int4) bigint, sum(int8)
		// numeric, sum(real) real, the others their argument's type.
		spec.Kind = Sum
		switch {
		case arg.T == types.Int8:
			spec.T = types.Numeric
		case arg.T.IsInt():
			spec.T = types.Int8
		case arg.T.IsNumeric() || arg.T == types.Interval:
			spec.T = arg.T
		default:
			return 0, scalar.NoFunc(f, args)
		}
	case "avg":
		// avg of integers and numeric is numeric, of floats double.
		spec.Kind = Avg
		switch {
		case arg.T.IsInt() || arg.T == types.Numeric:
			spec.T = types.Numeric
		case arg.T.IsFloat():
			spec.T = types.Float8
		case arg.T == types.Interval:
			spec.T = types.Interval
		default:
			return 0, scalar.NoFunc(f, args)
		}
	case "min", "max":
		if arg.T.IsJSON() || arg.T == types.Uuid || arg.T.IsArray() {
			// PostgreSQL has no min/max of json or uuid; arrays' are not
			// supported here yet.
			return 0, scalar.NoFunc(f, args)
		}
		spec.Kind = Min
		if name == "max" {
			spec.Kind = Max
		}
		spec.T = arg.T
	}
	spec.Args = []*scalar.Node{arg}
	return a.finishAgg(f, spec)
}

func builtin(name string) bool {
	switch name {
	case "count", "sum", "min", "max", "avg":
		return true
	}
	return false
}

// finishAgg compiles FILTER, wraps a DISTINCT aggregate in its value set,
// and registers spec.
func (a *Scope) finishAgg(f *parser.Func, spec *Spec) (int, error) {
	if f.Filter != nil {
		n, err := a.In.Compile(f.Filter)
		if err != nil {
			return 0, err
		}
		if spec.Filter, err = a.In.BoolArg(n, "FILTER", f.Filter.Pos()); err != nil {
			return 0, err
		}
	}
	if spec.Distinct {
		if len(f.WithinGroup) > 0 {
			return 0, pgerr.DistinctWithinGroup.New().WithPos(f.P)
		}
		wrapDistinct(spec)
	}
	a.Aggs = append(a.Aggs, spec)
	return len(a.Aggs) - 1, nil
}

// Accum is the running state of one aggregate in one group of a SELECT.
type Accum struct {
	n   int64 // values folded (count; sum/avg/min/max: non-NULL values)
	i   int64
	hi  uint64      // high word of a 128-bit sum (low word in i)
	dec apd.Decimal // numeric sum/avg
	f   float64
	iv  types.IntervalValue
	d   types.Datum // min/max so far
	w   []uint64    // a Fixed aggregate's words
	b   BlobState   // a Blob aggregate's state
}

// Add folds v (the value of s's argument in one row) into a, for the
// built-in kinds (AddRow takes every kind); scratch is unused.
func (a *Accum) Add(s *Spec, v types.Datum, scratch *[]byte) error {
	if s.Kind == CountStar {
		a.n++
		return nil
	}
	if v.Null {
		return nil
	}
	a.n++
	switch s.Kind {
	case Sum, Avg:
		switch {
		case v.T == types.Interval:
			a.iv = AddInterval(a.iv, v.Iv)
		case v.T == types.Numeric:
			var x apd.Decimal
			if err := types.NumericDecimal(v.S, &x); err != nil {
				return err
			}
			return foldDecimal(s.Kind, uint64(a.n-1), &a.dec, &x)
		case wideSum(s):
			lo, hi := Add128(uint64(a.i), a.hi, v.I)
			a.i, a.hi = int64(lo), hi
		case v.T.IsInt():
			r := a.i + v.I
			if (r > a.i) != (v.I > 0) {
				return scalar.RangeErr(types.Int8)
			}
			a.i = r
		default:
			a.f += v.F
		}
	case Min, Max:
		if a.n == 1 {
			a.d = scalar.Own(v)
			return nil
		}
		c := scalar.CompareDatums(v, a.d)
		if (s.Kind == Min && c < 0) || (s.Kind == Max && c > 0) {
			a.d = scalar.Own(v)
		}
	}
	return nil
}

// AddInterval adds intervals field by field, as sum() does.
func AddInterval(a, b types.IntervalValue) types.IntervalValue {
	return types.IntervalValue{Months: a.Months + b.Months, Days: a.Days + b.Days, Micros: a.Micros + b.Micros}
}

// ResultErr is the aggregate's value over everything added, for every
// kind (a DISTINCT sum can overflow when its values are folded).
func (a *Accum) ResultErr(s *Spec) (types.Datum, error) {
	if s.Ext() {
		return a.extResult(s)
	}
	return a.Result(s), nil
}

// Result is the value of a built-in aggregate over everything added.
func (a *Accum) Result(s *Spec) types.Datum {
	switch s.Kind {
	case CountStar, Count:
		return types.NewInt(types.Int8, a.n)
	}
	if a.n == 0 {
		return types.NullOf(s.T)
	}
	switch {
	case wideSum(s):
		return finalWide(s, a.n, uint64(a.i), a.hi)
	case s.Arg.T == types.Numeric && (s.Kind == Sum || s.Kind == Avg):
		d, err := finalDecimal(s, a.n, &a.dec)
		if err != nil {
			return types.NullOf(s.T)
		}
		return d
	}
	return Final(s, a.n, a.i, a.f, a.iv, a.d)
}

// Final finalizes sum/avg/min/max from their running values; shared by
// SELECT and continuous views so both produce identical results.
func Final(s *Spec, n, i int64, f float64, iv types.IntervalValue, d types.Datum) types.Datum {
	argT := s.Arg.T
	switch s.Kind {
	case Sum:
		switch {
		case argT == types.Interval:
			return types.Datum{T: types.Interval, Iv: iv}
		case argT.IsInt():
			return types.NewInt(types.Int8, i)
		case s.T == types.Float4:
			return types.NewFloat(s.T, float64(float32(f)))
		}
		return types.NewFloat(s.T, f)
	case Avg:
		if argT == types.Interval {
			return types.Datum{T: types.Interval, Iv: scalar.ScaleInterval(iv, 1/float64(n))}
		}
		return types.NewFloat(types.Float8, f/float64(n))
	}
	d.T = s.T
	return d
}
