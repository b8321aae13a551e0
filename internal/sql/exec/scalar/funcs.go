package scalar

import (
	"crypto/rand"
	"errors"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// errNoMatch tells compileFunc that no variant of a function accepts the
// argument types; it becomes 42883 with the call's signature.
var errNoMatch = errors.New("no matching function")

type funcBuilder func(c *Compiler, f *parser.Func, args []*Node) (*Node, error)

var funcs map[string]funcBuilder

func init() {
	funcs = map[string]funcBuilder{
		"now":                   nowFunc(types.TimestampTZ, false),
		"current_timestamp":     nowFunc(types.TimestampTZ, false),
		"transaction_timestamp": nowFunc(types.TimestampTZ, false),
		"statement_timestamp":   nowFunc(types.TimestampTZ, false),
		"clock_timestamp":       nowFunc(types.TimestampTZ, true),
		"localtimestamp":        nowFunc(types.Timestamp, false),
		"current_date":          nowFunc(types.Date, false),
		"version":               buildVersion,
		"current_setting":       buildCurrentSetting,
		"current_user":          settingFunc("user", "cairn"),
		"session_user":          settingFunc("user", "cairn"),
		"user":                  settingFunc("user", "cairn"),
		"current_role":          settingFunc("user", "cairn"),
		"current_database":      settingFunc("database", "cairn"),
		"current_catalog":       settingFunc("database", "cairn"),
		"coalesce":              buildCoalesce,
		"nullif":                buildNullif,
		"greatest":              buildExtreme(1),
		"least":                 buildExtreme(-1),
		"lower":                 textFunc(strings.ToLower),
		"upper":                 textFunc(strings.ToUpper),
		"length":                buildLength,
		"char_length":           buildLength,
		"character_length":      buildLength,
		"octet_length":          buildOctetLength,
		"concat":                buildConcat,
		"replace":               buildReplace,
		"substr":                buildSubstr,
		"substring":             buildSubstr,
		"btrim":                 trimFunc(strings.Trim),
		"trim":                  trimFunc(strings.Trim),
		"ltrim":                 trimFunc(strings.TrimLeft),
		"rtrim":                 trimFunc(strings.TrimRight),
		"abs":                   buildAbs,
		"round":                 roundFunc("round"),
		"trunc":                 roundFunc("trunc"),
		"ceil":                  mathFunc(math.Ceil, numCeil),
		"ceiling":               mathFunc(math.Ceil, numCeil),
		"floor":                 mathFunc(math.Floor, numFloor),
		"sign":                  mathFunc(func(f float64) float64 { return sign(f) }, numSign),
		"sqrt": checkedMath(func(f float64) (float64, error) {
			if f < 0 {
				return 0, pgerr.SqrtOfNegative.New()
			}
			return math.Sqrt(f), nil
		}, numSqrt),
		"exp": mathFunc(math.Exp, numExp),
		"ln": checkedMath(func(f float64) (float64, error) {
			if f <= 0 {
				return 0, pgerr.LogOfNonPositive.New()
			}
			return math.Log(f), nil
		}, numLn),
		"power":        buildPower,
		"pow":          buildPower,
		"mod":          buildMod,
		"date_trunc":   buildDateTrunc,
		"timezone":     buildTimezone,
		"to_char":      buildToChar,
		"date_part":    buildExtract(types.Float8),
		"extract":      buildExtract(types.Numeric),
		"to_timestamp": buildToTimestamp,

		"json_typeof":        buildJSONTypeof(false),
		"jsonb_typeof":       buildJSONTypeof(true),
		"json_array_length":  buildJSONArrayLength(false),
		"jsonb_array_length": buildJSONArrayLength(true),
		"to_json":            buildToJSON(false),
		"to_jsonb":           buildToJSON(true),
		"gen_random_uuid":    buildGenRandomUUID,

		parser.ArrayFunc:     buildArray,
		parser.SubscriptFunc: buildSubscript,
		"array_length":       buildArrayLength("array_length"),
		"array_upper":        buildArrayLength("array_upper"),
		"array_lower":        buildArrayLength("array_lower"),
		"cardinality":        buildArrayLength("cardinality"),
	}
}

// IsAggName reports whether the lower-case function name is an
// aggregate.
func IsAggName(name string) bool { return aggNames[name] }

// aggNames are the aggregates (package agg resolves them; a test there
// checks the two lists agree).
var aggNames = map[string]bool{
	"count": true, "sum": true, "min": true, "max": true, "avg": true,
	"var_pop": true, "var_samp": true, "variance": true,
	"stddev_pop": true, "stddev_samp": true, "stddev": true,
	"corr": true, "covar_pop": true, "covar_samp": true,
	"regr_count": true, "regr_avgx": true, "regr_avgy": true, "regr_slope": true,
	"regr_intercept": true, "regr_r2": true, "regr_sxx": true, "regr_syy": true, "regr_sxy": true,
	"bool_and": true, "bool_or": true, "every": true,
	"bit_and": true, "bit_or": true, "bit_xor": true,
	"string_agg": true, "keyed_min": true, "keyed_max": true,
	"percentile_cont": true, "percentile_disc": true, "combine": true,
	"approx_count_distinct": true, "hll_count_distinct": true,
	"hll_agg": true, "hll_union_agg": true, "dist_agg": true, "freq_agg": true, "bloom_agg": true,
	"json_agg": true, "jsonb_agg": true, "json_object_agg": true, "jsonb_object_agg": true,
	"array_agg": true, "set_agg": true, "first_values": true, "topk_agg": true,
}

func (c *Compiler) compileFunc(f *parser.Func) (*Node, error) {
	name := strings.ToLower(f.Name)
	if IsAggName(name) {
		if c.NoAgg == "" {
			return nil, pgerr.NestedAggregate.New().WithPos(f.P)
		}
		return nil, pgerr.AggregateNotAllowed.New(c.NoAgg).WithPos(f.P)
	}
	if err := c.olapMisuse(f, name); err != nil {
		return nil, err
	}
	if f.Filter != nil {
		return nil, pgerr.NotAnAggregate.New("FILTER", name).WithPos(f.P)
	}
	if len(f.WithinGroup) > 0 {
		return nil, pgerr.NotAnAggregate.New("WITHIN GROUP", name).WithPos(f.P)
	}
	if f.Star {
		return nil, NoFunc(f, nil)
	}
	if _, ok := funcs[name]; !ok {
		// No such function: say so with its argument types, typed in the
		// input scope (after grouping, an argument naming an ungrouped
		// column would otherwise hide the real error).
		in := c
		if g, ok := c.Agg.(interface{ Input() *Compiler }); ok {
			in = g.Input()
		}
		args := make([]*Node, 0, len(f.Args))
		for _, a := range f.Args {
			n, err := in.Compile(a)
			if err != nil {
				return nil, err
			}
			args = append(args, n)
		}
		return nil, NoFunc(f, args)
	}
	args := make([]*Node, len(f.Args))
	for i, a := range f.Args {
		// date_trunc(minute, ts) / extract(hour from ts): a bare word names a field.
		if i == 0 && (name == "extract" || name == "date_part" || name == "date_trunc") {
			if r, ok := a.(*parser.ColumnRef); ok && r.Table == "" {
				if idx, _ := c.ResolveCol(r); idx < 0 {
					args[i] = constNode(types.NewText(r.Name))
					continue
				}
			}
		}
		n, err := c.Compile(a)
		if err != nil {
			return nil, err
		}
		args[i] = n
	}
	b, ok := funcs[name]
	if !ok {
		return nil, NoFunc(f, args)
	}
	n, err := b(c, f, args)
	if errors.Is(err, errNoMatch) {
		return nil, NoFunc(f, args)
	}
	if err != nil {
		return nil, PosErr(err, f.P)
	}
	if n.Volatile {
		return n, nil
	}
	return fold(n, args...)
}

// NoFunc is the 42883 error for a call of f with arguments args that
// matches no function.
func NoFunc(f *parser.Func, args []*Node) error {
	var sb strings.Builder
	sb.WriteString(f.Name)
	sb.WriteByte('(')
	if f.Star {
		sb.WriteByte('*')
	}
	for i, a := range args {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(typeLabel(a))
	}
	sb.WriteByte(')')
	return pgerr.FunctionNotFound.New(sb.String()).WithPos(f.P)
}

// want coerces args to the given types, or returns errNoMatch when the
// count differs or an argument cannot be converted implicitly.
func (c *Compiler) want(f *parser.Func, args []*Node, ts ...types.T) error {
	if len(args) != len(ts) {
		return errNoMatch
	}
	for i, t := range ts {
		a := args[i]
		if !(a.Untyped || a.Param > 0 || ImplicitCast(a.T, t)) {
			return errNoMatch
		}
		n, err := c.Coerce(a, t, f.Args[i].Pos())
		if err != nil {
			return err
		}
		args[i] = n
	}
	return nil
}

func nowFunc(t types.T, clock bool) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) != 0 {
			return nil, errNoMatch
		}
		cs := c.style()
		n := newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
			now := ec.now()
			if clock {
				now = time.Now()
			}
			us := now.UnixMicro()
			if t != types.TimestampTZ {
				// localtimestamp and current_date: the session's wall clock.
				us = evalStyle(ec, cs).ToLocal(us)
			}
			if t == types.Date {
				return types.Datum{T: t, I: floorDiv(us, usPerDay)}, nil
			}
			return types.Datum{T: t, I: us}, nil
		})
		n.Volatile = true
		return n, nil
	}
}

func buildVersion(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 0 {
		return nil, errNoMatch
	}
	n := newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		if ec == nil || ec.Version == "" {
			return types.NewText("Cairn"), nil
		}
		return types.NewText(ec.Version), nil
	})
	n.Volatile = true
	return n, nil
}

func settingFunc(name, def string) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) != 0 {
			return nil, errNoMatch
		}
		n := newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
			if name != "" && ec != nil && ec.Setting != nil {
				if v, ok := ec.Setting(name); ok {
					return types.NewText(v), nil
				}
			}
			return types.NewText(def), nil
		})
		n.Volatile = true
		return n, nil
	}
}

func buildCurrentSetting(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	var err error
	if len(args) == 1 {
		err = c.want(f, args, types.Text)
	} else {
		err = c.want(f, args, types.Text, types.Bool)
	}
	if err != nil {
		return nil, err
	}
	n := newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		name, err := args[0].Fn(ec, in)
		if err != nil || name.Null {
			return types.NullOf(types.Text), err
		}
		missingOK := false
		if len(args) == 2 {
			m, err := args[1].Fn(ec, in)
			if err != nil {
				return m, err
			}
			missingOK = m.Bool()
		}
		if ec != nil && ec.Setting != nil {
			if v, ok := ec.Setting(strings.ToLower(name.S)); ok {
				return types.NewText(v), nil
			}
		}
		if missingOK {
			return types.NullOf(types.Text), nil
		}
		return types.Datum{}, pgerr.UnknownParameter.New(name.S)
	})
	n.Volatile = true
	return n, nil
}

// unify coerces all args to their common type.
func (c *Compiler) unify(f *parser.Func, args []*Node) (types.T, error) {
	t, ok := commonType(args)
	if !ok {
		return t, pgerr.TypesCannotMatch.New(strings.ToUpper(f.Name), args[0].T, args[len(args)-1].T).WithPos(f.P)
	}
	for i := range args {
		n, err := c.Coerce(args[i], t, f.Args[i].Pos())
		if err != nil {
			return t, err
		}
		args[i] = n
	}
	return t, nil
}

func buildCoalesce(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) == 0 {
		return nil, errNoMatch
	}
	t, err := c.unify(f, args)
	if err != nil {
		return nil, err
	}
	return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		for _, a := range args {
			d, err := a.Fn(ec, in)
			if err != nil || !d.Null {
				return d, err
			}
		}
		return types.NullOf(t), nil
	}), nil
}

func buildNullif(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 2 {
		return nil, errNoMatch
	}
	t, err := c.unify(f, args)
	if err != nil {
		return nil, err
	}
	return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, _, err := binEval(args[0], args[1], ec, in)
		if err != nil {
			return a, err
		}
		if !a.Null && !b.Null && CompareDatums(a, b) == 0 {
			return types.NullOf(t), nil
		}
		return a, nil
	}), nil
}

func buildExtreme(dir int) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) == 0 {
			return nil, errNoMatch
		}
		t, err := c.unify(f, args)
		if err != nil {
			return nil, err
		}
		return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
			best := types.NullOf(t)
			for _, a := range args {
				d, err := a.Fn(ec, in)
				if err != nil {
					return d, err
				}
				if !d.Null && (best.Null || CompareDatums(d, best)*dir > 0) {
					best = d
				}
			}
			return best, nil
		}), nil
	}
}

// unaryFn builds a one-argument function of fixed argument and result
// types that maps NULL to NULL.
func unaryFn(t types.T, arg *Node, f func(d types.Datum) (types.Datum, error)) *Node {
	return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		d, err := arg.Fn(ec, in)
		if err != nil || d.Null {
			return types.NullOf(t), err
		}
		r, err := f(d)
		r.T = t
		return r, err
	})
}

func textFunc(g func(string) string) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if err := c.want(f, args, types.Text); err != nil {
			return nil, err
		}
		return unaryFn(types.Text, args[0], func(d types.Datum) (types.Datum, error) {
			return types.Datum{S: g(d.S)}, nil
		}), nil
	}
}

func buildLength(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) == 1 && args[0].T == types.Bytea {
		return buildOctetLength(c, f, args)
	}
	if err := c.want(f, args, types.Text); err != nil {
		return nil, err
	}
	return unaryFn(types.Int4, args[0], func(d types.Datum) (types.Datum, error) {
		return types.Datum{I: int64(utf8.RuneCountInString(d.S))}, nil
	}), nil
}

func buildOctetLength(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 1 || args[0].T != types.Bytea {
		if err := c.want(f, args, types.Text); err != nil {
			return nil, err
		}
	}
	return unaryFn(types.Int4, args[0], func(d types.Datum) (types.Datum, error) {
		return types.Datum{I: int64(len(d.S))}, nil
	}), nil
}

func buildConcat(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	for i, a := range args {
		if a.Untyped || a.Param > 0 {
			n, err := c.Coerce(a, types.Text, f.Args[i].Pos())
			if err != nil {
				return nil, err
			}
			args[i] = n
		}
	}
	cs := c.style()
	return newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		var sb strings.Builder
		for _, a := range args {
			d, err := a.Fn(ec, in)
			if err != nil {
				return d, err
			}
			if !d.Null {
				sb.WriteString(formatTextStyle(d, evalStyle(ec, cs)))
			}
		}
		return types.NewText(sb.String()), nil
	}), nil
}

func buildReplace(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if err := c.want(f, args, types.Text, types.Text, types.Text); err != nil {
		return nil, err
	}
	return newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		var v [3]types.Datum
		for i, a := range args {
			d, err := a.Fn(ec, in)
			if err != nil || d.Null {
				return types.NullOf(types.Text), err
			}
			v[i] = d
		}
		if v[1].S == "" {
			return v[0], nil
		}
		return types.NewText(strings.ReplaceAll(v[0].S, v[1].S, v[2].S)), nil
	}), nil
}

func buildSubstr(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	var err error
	if len(args) == 2 {
		err = c.want(f, args, types.Text, types.Int8)
	} else {
		err = c.want(f, args, types.Text, types.Int8, types.Int8)
	}
	if err != nil {
		return nil, err
	}
	return newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		var v [3]types.Datum
		for i, a := range args {
			d, err := a.Fn(ec, in)
			if err != nil || d.Null {
				return types.NullOf(types.Text), err
			}
			v[i] = d
		}
		rs := []rune(v[0].S)
		start := v[1].I - 1 // 0-based, may be negative
		end := int64(len(rs))
		if len(args) == 3 {
			if v[2].I < 0 {
				return types.Datum{}, pgerr.NegativeSubstringLength.New()
			}
			if e := start + v[2].I; e < end {
				end = e
			}
		}
		if start < 0 {
			start = 0
		}
		if start >= end {
			return types.NewText(""), nil
		}
		return types.NewText(string(rs[start:end])), nil
	}), nil
}

func trimFunc(g func(s, cut string) string) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		var err error
		if len(args) == 1 {
			err = c.want(f, args, types.Text)
		} else {
			err = c.want(f, args, types.Text, types.Text)
		}
		if err != nil {
			return nil, err
		}
		return newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
			s, err := args[0].Fn(ec, in)
			if err != nil || s.Null {
				return types.NullOf(types.Text), err
			}
			cut := " "
			if len(args) == 2 {
				d, err := args[1].Fn(ec, in)
				if err != nil || d.Null {
					return types.NullOf(types.Text), err
				}
				cut = d.S
			}
			return types.NewText(g(s.S, cut)), nil
		}), nil
	}
}

// numArg coerces an untyped argument to float8 and checks the argument is
// a number.
func (c *Compiler) numArg(f *parser.Func, args []*Node, i int) error {
	if args[i].Untyped || args[i].Param > 0 {
		n, err := c.Coerce(args[i], types.Float8, f.Args[i].Pos())
		if err != nil {
			return err
		}
		args[i] = n
	}
	if !args[i].T.IsNumeric() {
		return errNoMatch
	}
	return nil
}

func buildAbs(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 1 {
		return nil, errNoMatch
	}
	if err := c.numArg(f, args, 0); err != nil {
		return nil, err
	}
	t := args[0].T
	if t == types.Numeric {
		return numericUnary(args[0], numAbs), nil
	}
	return unaryFn(t, args[0], func(d types.Datum) (types.Datum, error) {
		if t.IsFloat() {
			d.F = math.Abs(d.F)
			return d, nil
		}
		if d.I < 0 {
			if d.I == math.MinInt64 {
				return d, RangeErr(t)
			}
			d.I = -d.I
		}
		return d, checkIntRange(t, d.I)
	}), nil
}

func sign(f float64) float64 {
	switch {
	case f > 0:
		return 1
	case f < 0:
		return -1
	}
	return f
}

// mathFunc is a float function with a numeric variant num for numeric
// arguments (integers go through double precision, as in PostgreSQL).
func mathFunc(g func(float64) float64, num func(*apd.Decimal) error) funcBuilder {
	return checkedMath(func(f float64) (float64, error) { return g(f), nil }, num)
}

func checkedMath(g func(float64) (float64, error), num func(*apd.Decimal) error) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) != 1 {
			return nil, errNoMatch
		}
		if err := c.numArg(f, args, 0); err != nil {
			return nil, err
		}
		if args[0].T == types.Numeric {
			return numericUnary(args[0], num), nil
		}
		return unaryFn(types.Float8, args[0], func(d types.Datum) (types.Datum, error) {
			v, err := g(d.Float())
			return types.Datum{F: v}, err
		}), nil
	}
}

// roundFunc builds round/trunc: one argument keeps float8 (round half to
// even, like rint) or numeric (half away from zero, exact); round(x, n)
// is numeric (PostgreSQL has only round(numeric, int); other numbers
// convert to numeric first).
func roundFunc(name string) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) == 0 || len(args) > 2 {
			return nil, errNoMatch
		}
		if err := c.numArg(f, args, 0); err != nil {
			return nil, err
		}
		trunc := name == "trunc"
		if len(args) == 1 {
			if args[0].T == types.Numeric {
				return numericUnary(args[0], func(x *apd.Decimal) error { return numRoundTo(x, 0, trunc) }), nil
			}
			return unaryFn(types.Float8, args[0], func(d types.Datum) (types.Datum, error) {
				x := d.Float()
				if trunc {
					x = math.Trunc(x)
				} else {
					x = math.RoundToEven(x)
				}
				return types.Datum{F: x}, nil
			}), nil
		}
		if args[0].T != types.Numeric {
			n, err := castNode(args[0], types.Numeric, nil, f.Args[0].Pos(), nil)
			if err != nil {
				return nil, err
			}
			args[0] = n
		}
		if err := c.want(f, args, types.Numeric, types.Int4); err != nil {
			return nil, err
		}
		return newNode(types.Numeric, func(ec *Ctx, in Input) (types.Datum, error) {
			x, n, null, err := binEval(args[0], args[1], ec, in)
			if err != nil || null {
				return types.NullOf(types.Numeric), err
			}
			var v apd.Decimal
			if err := Dec(x, &v); err != nil {
				return types.Datum{}, err
			}
			if err := numRoundTo(&v, n.I, trunc); err != nil {
				return types.Datum{}, err
			}
			return types.NumericDatum(&v)
		}), nil
	}
}

// buildPower is power(a, b): numeric when an argument is numeric and
// neither is a float, double precision otherwise.
func buildPower(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 2 {
		return nil, errNoMatch
	}
	for i := range args {
		if !(args[i].Untyped || args[i].Param > 0 || args[i].T.IsNumeric()) {
			return nil, errNoMatch
		}
	}
	num := (args[0].T == types.Numeric || args[1].T == types.Numeric) && !args[0].T.IsFloat() && !args[1].T.IsFloat()
	if num {
		if err := c.want(f, args, types.Numeric, types.Numeric); err != nil {
			return nil, err
		}
		return numericPowerNode(args[0], args[1]), nil
	}
	if err := c.want(f, args, types.Float8, types.Float8); err != nil {
		return nil, err
	}
	return newNode(types.Float8, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, null, err := binEval(args[0], args[1], ec, in)
		if err != nil || null {
			return types.NullOf(types.Float8), err
		}
		if a.F == 0 && b.F < 0 {
			return types.Datum{}, pgerr.ZeroToNegativePower.New()
		}
		v := math.Pow(a.F, b.F)
		if math.IsNaN(v) && !math.IsNaN(a.F) && !math.IsNaN(b.F) {
			return types.Datum{}, pgerr.ComplexPowerResult.New()
		}
		return types.NewFloat(types.Float8, v), nil
	}), nil
}

func buildMod(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 2 {
		return nil, errNoMatch
	}
	return c.compileArith("%", args[0], args[1], &parser.Binary{P: f.P, Op: "%", L: f.Args[0], R: f.Args[1]})
}

// timeArg coerces argument i to a timestamp type (a date becomes
// timestamptz, an untyped literal timestamptz).
func (c *Compiler) timeArg(f *parser.Func, args []*Node, i int) error {
	a := args[i]
	if a.T.IsTime() && !a.Untyped {
		return nil
	}
	if a.Untyped || a.Param > 0 || a.T == types.Date {
		n, err := c.Coerce(a, types.TimestampTZ, f.Args[i].Pos())
		if err != nil {
			return err
		}
		args[i] = n
		return nil
	}
	return errNoMatch
}

func buildDateTrunc(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 2 {
		return nil, errNoMatch
	}
	if err := c.want(f, args[:1], types.Text); err != nil {
		return nil, err
	}
	if err := c.timeArg(f, args, 1); err != nil {
		return nil, err
	}
	t := args[1].T
	unit, ts := args[0], args[1]
	cs := c.style()
	// A timestamptz is truncated in the session's time zone: to its
	// wall-clock time there, and back.
	trunc := func(ec *Ctx, u truncField, us int64) int64 {
		if t != types.TimestampTZ {
			return truncTime(u, us)
		}
		st := evalStyle(ec, cs)
		return st.FromLocal(truncTime(u, st.ToLocal(us)))
	}
	if unit.konst && !unit.val.Null {
		u, ok := truncUnit(unit.val.S)
		if !ok {
			return nil, unitErr(unit.val.S, t)
		}
		return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := ts.Fn(ec, in)
			if err != nil || d.Null {
				return types.NullOf(t), err
			}
			return types.Datum{T: t, I: trunc(ec, u, d.I)}, nil
		}), nil
	}
	return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		ud, d, null, err := binEval(unit, ts, ec, in)
		if err != nil || null {
			return types.NullOf(t), err
		}
		u, ok := truncUnit(ud.S)
		if !ok {
			return types.Datum{}, unitErr(ud.S, t)
		}
		return types.Datum{T: t, I: trunc(ec, u, d.I)}, nil
	}), nil
}

// buildTimezone is timezone(zone, x), what `x AT TIME ZONE zone` means:
// a timestamptz becomes the wall-clock timestamp in zone, a timestamp (a
// wall clock in zone) the timestamptz it stands for. zone is read as
// PostgreSQL reads it here: an IANA name or a POSIX spec ('UTC+3' is three
// hours west), not a bare number of hours.
func buildTimezone(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 2 {
		return nil, errNoMatch
	}
	if err := c.want(f, args[:1], types.Text); err != nil {
		return nil, err
	}
	if args[1].T != types.Timestamp || args[1].Untyped {
		if err := c.timeArg(f, args, 1); err != nil {
			return nil, err
		}
	}
	zone, ts := args[0], args[1]
	out := types.Timestamp
	if ts.T == types.Timestamp {
		out = types.TimestampTZ
	}
	convert := func(z string, us int64) (types.Datum, error) {
		_, loc, ok := types.ParseTimeZone(z, false)
		if !ok {
			return types.Datum{}, pgerr.ZoneNotRecognized.New(z).WithPos(f.Args[0].Pos())
		}
		st := &types.Style{Loc: loc}
		if out == types.Timestamp {
			return types.Datum{T: out, I: st.ToLocal(us)}, nil
		}
		return types.Datum{T: out, I: st.FromLocal(us)}, nil
	}
	if zone.konst && !zone.val.Null {
		if _, _, ok := types.ParseTimeZone(zone.val.S, false); !ok {
			return nil, pgerr.ZoneNotRecognized.New(zone.val.S).WithPos(f.Args[0].Pos())
		}
	}
	return fold(newNode(out, func(ec *Ctx, in Input) (types.Datum, error) {
		zd, d, null, err := binEval(zone, ts, ec, in)
		if err != nil || null {
			return types.NullOf(out), err
		}
		return convert(zd.S, d.I)
	}), zone, ts)
}

func unitErr(u string, t types.T) error {
	return pgerr.UnitNotRecognized.New(u, t)
}

type unit uint8

// truncField is a unit, named so where a variable called unit shadows it.
type truncField = unit

const (
	uMicro unit = iota
	uMilli
	uSecond
	uMinute
	uHour
	uDay
	uWeek
	uMonth
	uQuarter
	uYear
	uDecade
	uCentury
	uMillennium
	uEpoch
	uDow
	uIsoDow
	uDoy
)

var unitNames = map[string]unit{
	"microsecond": uMicro, "microseconds": uMicro, "us": uMicro, "usec": uMicro,
	"millisecond": uMilli, "milliseconds": uMilli, "ms": uMilli, "msec": uMilli,
	"second": uSecond, "seconds": uSecond, "sec": uSecond, "s": uSecond,
	"minute": uMinute, "minutes": uMinute, "min": uMinute, "m": uMinute,
	"hour": uHour, "hours": uHour, "h": uHour,
	"day": uDay, "days": uDay, "d": uDay,
	"week": uWeek, "weeks": uWeek,
	"month": uMonth, "months": uMonth, "mon": uMonth,
	"quarter": uQuarter,
	"year":    uYear, "years": uYear, "y": uYear,
	"decade": uDecade, "decades": uDecade,
	"century": uCentury, "centuries": uCentury,
	"millennium": uMillennium, "millennia": uMillennium,
	"epoch": uEpoch, "dow": uDow, "isodow": uIsoDow, "doy": uDoy,
}

func truncUnit(s string) (unit, bool) {
	u, ok := unitNames[strings.ToLower(s)]
	return u, ok && u <= uMillennium
}

// truncTime truncates a UTC timestamp in microseconds to the unit.
func truncTime(u unit, us int64) int64 {
	if isInf(us) {
		return us
	}
	switch u {
	case uMicro:
		return us
	case uMilli:
		return floorDiv(us, 1000) * 1000
	case uSecond:
		return floorDiv(us, 1000000) * 1000000
	case uMinute:
		return floorDiv(us, 60000000) * 60000000
	case uHour:
		return floorDiv(us, 3600000000) * 3600000000
	case uDay:
		return floorDiv(us, usPerDay) * usPerDay
	case uWeek: // ISO weeks start on Monday; 1970-01-01 was a Thursday
		days := floorDiv(us, usPerDay)
		return (floorDiv(days+3, 7)*7 - 3) * usPerDay
	}
	y, m, _ := civil(floorDiv(us, usPerDay))
	switch u {
	case uMonth:
	case uQuarter:
		m = (m-1)/3*3 + 1
	case uYear:
		m = 1
	case uDecade:
		y, m = int(floorDiv(int64(y), 10)*10), 1
	case uCentury:
		y, m = int(floorDiv(int64(y)-1, 100)*100+1), 1
	case uMillennium:
		y, m = int(floorDiv(int64(y)-1, 1000)*1000+1), 1
	}
	return daysFromCivil(y, m, 1) * usPerDay
}

func buildExtract(t types.T) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) != 2 {
			return nil, errNoMatch
		}
		if err := c.want(f, args[:1], types.Text); err != nil {
			return nil, err
		}
		if args[1].T != types.Interval {
			if err := c.timeArg(f, args, 1); err != nil {
				return nil, err
			}
		}
		field, src := args[0], args[1]
		cs := c.style()
		return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
			fd, d, null, err := binEval(field, src, ec, in)
			if err != nil || null {
				return types.NullOf(t), err
			}
			u, ok := unitNames[strings.ToLower(fd.S)]
			if !ok {
				return types.Datum{}, pgerr.UnitNotRecognized.New(fd.S, d.T)
			}
			if d.T == types.TimestampTZ && u != uEpoch {
				// Fields of a timestamptz are those of its wall-clock time
				// in the session's zone.
				d.I = evalStyle(ec, cs).ToLocal(d.I)
			}
			if t == types.Numeric {
				return extractNumeric(u, d), nil
			}
			v := extractField(u, d)
			return types.NewFloat(t, v), nil
		}), nil
	}
}

func extractField(u unit, d types.Datum) float64 {
	if d.T == types.Interval {
		iv := d.Iv
		switch u {
		case uEpoch:
			return float64(iv.Months/12)*365.25*86400 + float64(iv.Months%12)*30*86400 + float64(iv.Days)*86400 + float64(iv.Micros)/1e6
		case uMicro:
			return float64(iv.Micros % 60000000)
		case uMilli:
			return float64(iv.Micros%60000000) / 1e3
		case uSecond:
			return float64(iv.Micros%60000000) / 1e6
		case uMinute:
			return float64(iv.Micros / 60000000 % 60)
		case uHour:
			return float64(iv.Micros / 3600000000)
		case uDay:
			return float64(iv.Days)
		case uMonth:
			return float64(iv.Months % 12)
		case uYear:
			return float64(iv.Months / 12)
		case uQuarter:
			return float64(iv.Months%12/3 + 1)
		}
		return 0
	}
	us := d.I
	days := floorDiv(us, usPerDay)
	tod := us - days*usPerDay
	y, m, dd := civil(days)
	switch u {
	case uEpoch:
		return float64(us) / 1e6
	case uMicro:
		return float64(tod % 60000000)
	case uMilli:
		return float64(tod%60000000) / 1e3
	case uSecond:
		return float64(tod%60000000) / 1e6
	case uMinute:
		return float64(tod / 60000000 % 60)
	case uHour:
		return float64(tod / 3600000000)
	case uDay:
		return float64(dd)
	case uWeek:
		t := time.UnixMicro(us).UTC()
		_, w := t.ISOWeek()
		return float64(w)
	case uMonth:
		return float64(m)
	case uQuarter:
		return float64((m-1)/3 + 1)
	case uYear:
		return float64(y)
	case uDecade:
		return float64(floorDiv(int64(y), 10))
	case uCentury:
		if y > 0 {
			return float64((y + 99) / 100)
		}
		return float64(-((99 - (y - 1)) / 100))
	case uMillennium:
		if y > 0 {
			return float64((y + 999) / 1000)
		}
		return float64(-((999 - (y - 1)) / 1000))
	case uDow:
		return float64(floorDiv(days+4, 7)*-7 + days + 4)
	case uIsoDow:
		w := floorDiv(days+4, 7)*-7 + days + 4
		if w == 0 {
			w = 7
		}
		return float64(w)
	case uDoy:
		return float64(days - daysFromCivil(y, 1, 1) + 1)
	}
	return 0
}

func buildToTimestamp(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if err := c.want(f, args, types.Float8); err != nil {
		return nil, err
	}
	return unaryFn(types.TimestampTZ, args[0], func(d types.Datum) (types.Datum, error) {
		v := d.F * 1e6
		if v != v || math.Abs(v) > 9.2e18 {
			return d, pgerr.TimestampOutOfRange.New()
		}
		return types.Datum{I: int64(math.Round(v))}, nil
	}), nil
}

// extractNumeric is extract(): PostgreSQL's numeric results, exact —
// seconds and epoch with 6 digits after the point, milliseconds with 3,
// the other fields integers.
func extractNumeric(u unit, d types.Datum) types.Datum {
	var us int64 // the field in microseconds, for the fractional units
	switch {
	case d.T == types.Interval && u == uEpoch:
		iv := d.Iv
		us = int64(iv.Months/12)*31557600*1000000 + int64(iv.Months%12)*30*usPerDay + int64(iv.Days)*usPerDay + iv.Micros
	case d.T == types.Interval && (u == uSecond || u == uMilli || u == uMicro):
		us = d.Iv.Micros % 60000000
	case d.T != types.Interval && u == uEpoch:
		if isInf(d.I) {
			if d.I > 0 {
				return types.NewNumeric("Infinity")
			}
			return types.NewNumeric("-Infinity")
		}
		us = d.I
	case d.T != types.Interval && (u == uSecond || u == uMilli || u == uMicro):
		tod := d.I - floorDiv(d.I, usPerDay)*usPerDay
		us = tod % 60000000
	default:
		return types.NumericFromInt(int64(extractField(u, d)))
	}
	switch u {
	case uMicro:
		return types.NumericFromInt(us)
	case uMilli:
		return fixedScale(us, 3)
	}
	return fixedScale(us, 6)
}

// buildGenRandomUUID is gen_random_uuid(): a version 4 (random) uuid.
func buildGenRandomUUID(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 0 {
		return nil, errNoMatch
	}
	n := newNode(types.Uuid, func(ec *Ctx, in Input) (types.Datum, error) {
		var u [16]byte
		if _, err := rand.Read(u[:]); err != nil {
			return types.Datum{}, pgerr.Internal.New(err)
		}
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		return types.Datum{T: types.Uuid, S: string(u[:])}, nil
	})
	n.Volatile = true
	return n, nil
}
