package scalar

import (
	"math"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

const usPerDay = 86400 * 1000000

// RangeErr is the 22003 error for a value out of t's range.
func RangeErr(t types.T) error {
	return pgerr.TypeOutOfRange.New(t)
}

func checkIntRange(t types.T, v int64) error {
	switch t {
	case types.Int2:
		if v < math.MinInt16 || v > math.MaxInt16 {
			return RangeErr(t)
		}
	case types.Int4:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return RangeErr(t)
		}
	}
	return nil
}

func opErr(op string, l, r *Node, pos int) error {
	return pgerr.OperatorNotFound.New(typeLabel(l), op, typeLabel(r)).WithPos(pos).
		WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

func typeLabel(n *Node) string {
	if n.Untyped || n.Param > 0 {
		return "unknown"
	}
	return n.T.String()
}

func (c *Compiler) compileBinary(e *parser.Binary) (*Node, error) {
	l, err := c.Compile(e.L)
	if err != nil {
		return nil, err
	}
	r, err := c.Compile(e.R)
	if err != nil {
		return nil, err
	}
	op := strings.ToUpper(e.Op)
	if isArrayOp(op, l, r) {
		return c.compileArrayOp(op, l, r, e)
	}
	switch op {
	case "AND", "OR":
		if l, err = c.BoolArg(l, op, e.L.Pos()); err != nil {
			return nil, err
		}
		if r, err = c.BoolArg(r, op, e.R.Pos()); err != nil {
			return nil, err
		}
		return fold(logicNode(op == "AND", l, r), l, r)
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		return c.compileCompare(op, l, r, e)
	case "LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE", "~~", "!~~", "~~*", "!~~*":
		return c.compileLike(op, l, r, e)
	case "||":
		return c.compileConcat(l, r, e)
	case "~", "!~", "~*", "!~*":
		return c.compileRegex(op, l, r, e)
	case "+", "-", "*", "/", "%", "^":
		return c.compileArith(op, l, r, e)
	}
	if isJSONOp(op) {
		return c.compileJSONOp(op, l, r, e)
	}
	return nil, pgerr.OperatorNotFound.New(typeLabel(l), e.Op, typeLabel(r)).WithPos(e.P)
}

// logicNode is three-valued AND/OR; the right side is skipped when the
// left decides.
func logicNode(and bool, l, r *Node) *Node {
	return newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
		a, err := l.Fn(ec, in)
		if err != nil {
			return a, err
		}
		if !a.Null && (a.I != 0) != and {
			return types.NewBool(!and), nil
		}
		b, err := r.Fn(ec, in)
		if err != nil {
			return b, err
		}
		if !b.Null && (b.I != 0) != and {
			return types.NewBool(!and), nil
		}
		if a.Null || b.Null {
			return types.NullOf(types.Bool), nil
		}
		return types.NewBool(and), nil
	})
}

func (c *Compiler) compileCompare(op string, l, r *Node, e *parser.Binary) (*Node, error) {
	t, ok := commonType([]*Node{l, r})
	if !ok || t == types.Json {
		// json has no comparison operators in PostgreSQL (jsonb has).
		return nil, opErr(e.Op, l, r, e.P)
	}
	var err error
	if l, err = c.Coerce(l, t, e.L.Pos()); err != nil {
		return nil, err
	}
	if r, err = c.Coerce(r, t, e.R.Pos()); err != nil {
		return nil, err
	}
	var test func(int) bool
	switch op {
	case "=":
		test = func(c int) bool { return c == 0 }
	case "<>", "!=":
		test = func(c int) bool { return c != 0 }
	case "<":
		test = func(c int) bool { return c < 0 }
	case "<=":
		test = func(c int) bool { return c <= 0 }
	case ">":
		test = func(c int) bool { return c > 0 }
	default:
		test = func(c int) bool { return c >= 0 }
	}
	if n := colConstCompare(l, r, test); n != nil {
		return n, nil
	}
	return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, null, err := binEval(l, r, ec, in)
		if err != nil || null {
			return types.NullOf(types.Bool), err
		}
		return types.NewBool(test(CompareDatums(a, b))), nil
	}), l, r)
}

// colConstCompare is the fast path for `column op constant` over a
// numeric or date/time column (the usual WHERE of a continuous view): it
// reads the batch column directly instead of going through Datums.
func colConstCompare(l, r *Node, test func(int) bool) *Node {
	if l.Col < 0 || !r.konst || r.val.Null || l.T != r.T || !(l.T.UsesI() || l.T.IsFloat()) {
		return nil
	}
	idx, cv, useF := l.Col, r.val, l.T.IsFloat()
	return newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
		var c int
		if in.b == nil {
			d := in.row[idx]
			if d.Null {
				return types.NullOf(types.Bool), nil
			}
			c = CompareDatums(d, cv)
		} else {
			col := &in.b.Cols[idx]
			if col.Nulls != nil && col.Nulls[in.i] {
				return types.NullOf(types.Bool), nil
			}
			if useF {
				c = CmpFloat(col.F[in.i], cv.F)
			} else {
				c = cmpInt(col.I[in.i], cv.I)
			}
		}
		if test(c) {
			return types.Datum{T: types.Bool, I: 1}, nil
		}
		return types.Datum{T: types.Bool}, nil
	})
}

func (c *Compiler) textArgs(l, r *Node, e *parser.Binary) (*Node, *Node, error) {
	var err error
	if l.Untyped || l.Param > 0 {
		if l, err = c.Coerce(l, types.Text, e.L.Pos()); err != nil {
			return nil, nil, err
		}
	}
	if r.Untyped || r.Param > 0 {
		if r, err = c.Coerce(r, types.Text, e.R.Pos()); err != nil {
			return nil, nil, err
		}
	}
	return l, r, nil
}

func (c *Compiler) compileLike(op string, l, r *Node, e *parser.Binary) (*Node, error) {
	l, r, err := c.textArgs(l, r, e)
	if err != nil {
		return nil, err
	}
	if l.T != types.Text || r.T != types.Text {
		return nil, opErr(e.Op, l, r, e.P)
	}
	not := strings.HasPrefix(op, "NOT") || strings.HasPrefix(op, "!")
	fold_ := strings.Contains(op, "ILIKE") || strings.HasSuffix(op, "*")
	return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
		a, p, null, err := binEval(l, r, ec, in)
		if err != nil || null {
			return types.NullOf(types.Bool), err
		}
		return types.NewBool(likeMatch(a.S, p.S, fold_) != not), nil
	}), l, r)
}

func (c *Compiler) compileConcat(l, r *Node, e *parser.Binary) (*Node, error) {
	if l.T != types.Text && r.T != types.Text && !l.Untyped && !r.Untyped && l.Param == 0 && r.Param == 0 {
		return nil, opErr("||", l, r, e.P)
	}
	l, r, err := c.textArgs(l, r, e)
	if err != nil {
		return nil, err
	}
	if l.T != types.Text {
		if l, err = castNode(l, types.Text, nil, e.L.Pos(), c.style()); err != nil {
			return nil, err
		}
	}
	if r.T != types.Text {
		if r, err = castNode(r, types.Text, nil, e.R.Pos(), c.style()); err != nil {
			return nil, err
		}
	}
	return fold(newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, null, err := binEval(l, r, ec, in)
		if err != nil || null {
			return types.NullOf(types.Text), err
		}
		return types.NewText(a.S + b.S), nil
	}), l, r)
}

// arithType is the result type of a numeric operator: the wider operand,
// except that real mixed with anything else widens to double precision.
func arithType(a, b types.T) types.T {
	t := a
	if numRank(b) > numRank(a) {
		t = b
	}
	if t == types.Float4 && (a != types.Float4 || b != types.Float4) {
		t = types.Float8
	}
	return t
}

func (c *Compiler) compileArith(op string, l, r *Node, e *parser.Binary) (*Node, error) {
	lu, ru := l.Untyped || l.Param > 0, r.Untyped || r.Param > 0
	var err error
	// An untyped operand takes the other side's type, except that next to
	// a date/time it is an interval (now() - '1 hour').
	switch {
	case lu && ru:
		return nil, opErr(e.Op, l, r, e.P)
	case lu:
		t := r.T
		if TimeRank(t) > 0 {
			t = types.Interval
		}
		if l, err = c.Coerce(l, t, e.L.Pos()); err != nil {
			return nil, err
		}
	case ru:
		t := l.T
		if TimeRank(t) > 0 && (op == "+" || op == "-") {
			t = types.Interval
			// PostgreSQL reads ts - 'literal' as ts - ts (same type as
			// the left side); we fall back to an interval when the literal
			// is not a timestamp, so now() - '1 hour' works too.
			if op == "-" && r.Untyped && !r.val.Null {
				if _, err := parseText(l.T, r.val.S); err == nil {
					t = l.T
				}
			}
		}
		if l.T == types.Interval && (op == "*" || op == "/") {
			t = types.Float8
		}
		if r, err = c.Coerce(r, t, e.R.Pos()); err != nil {
			return nil, err
		}
	}
	lt, rt := l.T, r.T
	if op == "^" {
		if !lt.IsNumeric() || !rt.IsNumeric() {
			return nil, opErr(e.Op, l, r, e.P)
		}
		if (lt == types.Numeric || rt == types.Numeric) && !lt.IsFloat() && !rt.IsFloat() {
			return fold(numericPowerNode(l, r), l, r)
		}
		return fold(floatBin(l, r, types.Float8, func(a, b float64) (float64, error) {
			if a == 0 && b < 0 {
				return 0, pgerr.ZeroToNegativePower.New()
			}
			v := math.Pow(a, b)
			if math.IsNaN(v) && !math.IsNaN(a) && !math.IsNaN(b) {
				return 0, pgerr.ComplexPowerResult.New()
			}
			return v, nil
		}), l, r)
	}
	if lt.IsNumeric() && rt.IsNumeric() {
		t := arithType(lt, rt)
		if l, err = c.Coerce(l, t, e.L.Pos()); err != nil {
			return nil, err
		}
		if r, err = c.Coerce(r, t, e.R.Pos()); err != nil {
			return nil, err
		}
		switch {
		case t.IsInt():
			return fold(intArith(op, l, r, t), l, r)
		case t == types.Numeric:
			return fold(numericArith(op, l, r), l, r)
		}
		return fold(floatArith(op, l, r, t), l, r)
	}
	n, err := timeArith(op, l, r, c.style())
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, opErr(e.Op, l, r, e.P)
	}
	return fold(n, l, r)
}

func binEval(l, r *Node, ec *Ctx, in Input) (a, b types.Datum, null bool, err error) {
	if a, err = l.Fn(ec, in); err != nil {
		return
	}
	if b, err = r.Fn(ec, in); err != nil {
		return
	}
	return a, b, a.Null || b.Null, nil
}

func intArith(op string, l, r *Node, t types.T) *Node {
	var f func(a, b int64) (int64, error)
	switch op {
	case "+":
		f = func(a, b int64) (int64, error) {
			s := a + b
			if (s > a) != (b > 0) {
				return 0, RangeErr(t)
			}
			return s, nil
		}
	case "-":
		f = func(a, b int64) (int64, error) {
			s := a - b
			if (s < a) != (b > 0) {
				return 0, RangeErr(t)
			}
			return s, nil
		}
	case "*":
		f = func(a, b int64) (int64, error) {
			if a == 0 || b == 0 {
				return 0, nil
			}
			s := a * b
			if s/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
				return 0, RangeErr(t)
			}
			return s, nil
		}
	case "/":
		f = func(a, b int64) (int64, error) {
			if b == 0 {
				return 0, pgerr.DivideByZero.New()
			}
			if b == -1 {
				if a == math.MinInt64 {
					return 0, RangeErr(t)
				}
				return -a, nil
			}
			return a / b, nil
		}
	default: // %
		f = func(a, b int64) (int64, error) {
			if b == 0 {
				return 0, pgerr.DivideByZero.New()
			}
			if b == -1 {
				return 0, nil
			}
			return a % b, nil
		}
	}
	return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, null, err := binEval(l, r, ec, in)
		if err != nil || null {
			return types.NullOf(t), err
		}
		v, err := f(a.I, b.I)
		if err == nil {
			err = checkIntRange(t, v)
		}
		return types.Datum{T: t, I: v}, err
	})
}

func floatBin(l, r *Node, t types.T, f func(a, b float64) (float64, error)) *Node {
	return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, null, err := binEval(l, r, ec, in)
		if err != nil || null {
			return types.NullOf(t), err
		}
		v, err := f(a.Float(), b.Float())
		if err != nil {
			return types.Datum{}, err
		}
		if t == types.Float4 {
			v = float64(float32(v))
		}
		if math.IsInf(v, 0) && !math.IsInf(a.Float(), 0) && !math.IsInf(b.Float(), 0) {
			return types.Datum{}, pgerr.FloatOverflow.New()
		}
		return types.Datum{T: t, F: v}, nil
	})
}

func floatArith(op string, l, r *Node, t types.T) *Node {
	switch op {
	case "+":
		return floatBin(l, r, t, func(a, b float64) (float64, error) { return a + b, nil })
	case "-":
		return floatBin(l, r, t, func(a, b float64) (float64, error) { return a - b, nil })
	case "*":
		return floatBin(l, r, t, func(a, b float64) (float64, error) { return a * b, nil })
	case "/":
		return floatBin(l, r, t, func(a, b float64) (float64, error) {
			if b == 0 {
				return 0, pgerr.DivideByZero.New()
			}
			return a / b, nil
		})
	}
	return floatBin(l, r, t, func(a, b float64) (float64, error) {
		if b == 0 {
			return 0, pgerr.DivideByZero.New()
		}
		return math.Mod(a, b), nil
	})
}

// toMicros converts a date or timestamp datum to microseconds since the
// epoch.
func toMicros(d types.Datum) int64 {
	if d.T == types.Date {
		switch d.I {
		case types.DateInfinity:
			return types.TimestampInfinity
		case types.DateNegInfinity:
			return types.TimestampNegInfinity
		}
		return d.I * usPerDay
	}
	return d.I
}

// isInf reports whether a timestamp is ±infinity (which arithmetic and
// truncation leave alone, as PostgreSQL does).
func isInf(us int64) bool { return us == types.TimestampInfinity || us == types.TimestampNegInfinity }

// timeArith builds date/time/interval arithmetic; nil when the operator
// does not exist for these types.
//
// timestamptz ± interval adds months and days on the wall clock of the
// session's zone, as PostgreSQL does (a day across a DST change is 23 or
// 25 hours); st is the compile-time style, the statement's wins.
func timeArith(op string, l, r *Node, st *types.Style) (*Node, error) {
	lt, rt := l.T, r.T
	if (lt == types.TimestampTZ && rt == types.Interval && (op == "+" || op == "-")) ||
		(lt == types.Interval && rt == types.TimestampTZ && op == "+") {
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		return newNode(types.TimestampTZ, func(ec *Ctx, in Input) (types.Datum, error) {
			a, b, null, err := binEval(l, r, ec, in)
			if err != nil || null {
				return types.NullOf(types.TimestampTZ), err
			}
			if a.T == types.Interval {
				a, b = b, a
			}
			v, err := addIntervalIn(evalStyle(ec, st), a.I, b.Iv, sign)
			return types.Datum{T: types.TimestampTZ, I: v}, err
		}), nil
	}
	iv := types.Interval
	mk := func(t types.T, f func(a, b types.Datum) (types.Datum, error)) *Node {
		return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
			a, b, null, err := binEval(l, r, ec, in)
			if err != nil || null {
				return types.NullOf(t), err
			}
			d, err := f(a, b)
			d.T = t
			return d, err
		})
	}
	switch {
	case lt.IsTime() && rt == iv && (op == "+" || op == "-"):
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		return mk(lt, func(a, b types.Datum) (types.Datum, error) {
			v, err := addInterval(a.I, b.Iv, sign)
			return types.Datum{I: v}, err
		}), nil
	case lt == iv && rt.IsTime() && op == "+":
		return mk(rt, func(a, b types.Datum) (types.Datum, error) {
			v, err := addInterval(b.I, a.Iv, 1)
			return types.Datum{I: v}, err
		}), nil
	case lt == types.Date && rt == iv && (op == "+" || op == "-"):
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		return mk(types.Timestamp, func(a, b types.Datum) (types.Datum, error) {
			v, err := addInterval(a.I*usPerDay, b.Iv, sign)
			return types.Datum{I: v}, err
		}), nil
	case lt == iv && rt == types.Date && op == "+":
		return mk(types.Timestamp, func(a, b types.Datum) (types.Datum, error) {
			v, err := addInterval(b.I*usPerDay, a.Iv, 1)
			return types.Datum{I: v}, err
		}), nil
	case lt == types.Date && rt.IsInt() && (op == "+" || op == "-"):
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		return mk(types.Date, func(a, b types.Datum) (types.Datum, error) { return types.Datum{I: a.I + sign*b.I}, nil }), nil
	case lt.IsInt() && rt == types.Date && op == "+":
		return mk(types.Date, func(a, b types.Datum) (types.Datum, error) { return types.Datum{I: a.I + b.I}, nil }), nil
	case lt == types.Date && rt == types.Date && op == "-":
		return mk(types.Int4, func(a, b types.Datum) (types.Datum, error) { return types.Datum{I: a.I - b.I}, nil }), nil
	case TimeRank(lt) > 0 && TimeRank(rt) > 0 && op == "-":
		return mk(iv, func(a, b types.Datum) (types.Datum, error) {
			us := toMicros(a) - toMicros(b)
			return types.Datum{Iv: types.IntervalValue{Days: int32(us / usPerDay), Micros: us % usPerDay}}, nil
		}), nil
	case lt == iv && rt == iv && (op == "+" || op == "-"):
		sign := int32(1)
		if op == "-" {
			sign = -1
		}
		return mk(iv, func(a, b types.Datum) (types.Datum, error) {
			return types.Datum{Iv: types.IntervalValue{
				Months: a.Iv.Months + sign*b.Iv.Months,
				Days:   a.Iv.Days + sign*b.Iv.Days,
				Micros: a.Iv.Micros + int64(sign)*b.Iv.Micros}}, nil
		}), nil
	case lt == iv && rt.IsNumeric() && (op == "*" || op == "/"):
		div := op == "/"
		return mk(iv, func(a, b types.Datum) (types.Datum, error) {
			f := b.Float()
			if div {
				if f == 0 {
					return types.Datum{}, pgerr.DivideByZero.New()
				}
				f = 1 / f
			}
			return types.Datum{Iv: ScaleInterval(a.Iv, f)}, nil
		}), nil
	case lt.IsNumeric() && rt == iv && op == "*":
		return mk(iv, func(a, b types.Datum) (types.Datum, error) {
			return types.Datum{Iv: ScaleInterval(b.Iv, a.Float())}, nil
		}), nil
	}
	return nil, nil
}

// ScaleInterval multiplies an interval by f, cascading fractional months
// into days (30 per month) and fractional days into microseconds, as
// PostgreSQL does.
func ScaleInterval(v types.IntervalValue, f float64) types.IntervalValue {
	m := float64(v.Months) * f
	wm := math.Trunc(m)
	d := float64(v.Days)*f + (m-wm)*30
	wd := math.Trunc(d)
	us := float64(v.Micros)*f + (d-wd)*usPerDay
	return types.IntervalValue{Months: int32(wm), Days: int32(wd), Micros: int64(math.Round(us))}
}

// addIntervalIn adds sign*iv to a timestamptz in the zone of st: months
// and days on the local wall clock, then the time part as elapsed time.
func addIntervalIn(st *types.Style, ts int64, iv types.IntervalValue, sign int64) (int64, error) {
	if st.IsUTC() || isInf(ts) || (iv.Months == 0 && iv.Days == 0) {
		return addInterval(ts, iv, sign)
	}
	local, err := addInterval(st.ToLocal(ts), types.IntervalValue{Months: iv.Months, Days: iv.Days}, sign)
	if err != nil {
		return 0, err
	}
	return addInterval(st.FromLocal(local), types.IntervalValue{Micros: iv.Micros}, sign)
}

// addInterval adds sign*iv to a timestamp (microseconds, UTC): months
// first with the day clamped to the month's length, then days, then time.
func addInterval(ts int64, iv types.IntervalValue, sign int64) (int64, error) {
	if isInf(ts) {
		return ts, nil
	}
	if iv.Months != 0 {
		days := floorDiv(ts, usPerDay)
		tod := ts - days*usPerDay
		y, m, d := civil(days)
		mm := int64(m-1) + sign*int64(iv.Months)
		y += int(floorDiv(mm, 12))
		m = int(mm-floorDiv(mm, 12)*12) + 1
		if dim := daysIn(y, m); d > dim {
			d = dim
		}
		ts = daysFromCivil(y, m, d)*usPerDay + tod
	}
	delta := sign * (int64(iv.Days)*usPerDay + iv.Micros)
	r := ts + delta
	if (r > ts) != (delta > 0) || isInf(r) {
		return 0, pgerr.TimestampOutOfRange.New()
	}
	return r, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date.
func civil(z int64) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	mm := mp + 3
	if mm > 12 {
		mm -= 12
	}
	if mm <= 2 {
		yy++
	}
	return int(yy), int(mm), int(dd)
}

// daysFromCivil is the inverse of civil.
func daysFromCivil(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400
	mp := int64(m + 9)
	if m > 2 {
		mp = int64(m - 3)
	}
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func daysIn(y, m int) int {
	switch m {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}
