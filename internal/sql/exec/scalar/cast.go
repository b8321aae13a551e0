package scalar

import (
	"math"
	"unicode/utf8"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// explicitCast reports whether CAST(x AS to) exists for x of type from.
func explicitCast(from, to types.T) bool {
	switch {
	case from == to, from == types.Unknown, from == types.Text, to == types.Text:
		return true
	case from.IsNumeric() && to.IsNumeric():
		return true
	case from == types.Bool && to.IsInt(), from.IsInt() && to == types.Bool:
		return true
	case TimeRank(from) > 0 && TimeRank(to) > 0:
		return true
	case from.IsJSON() && to.IsJSON(), from.IsArray() && to.IsArray():
		return true
	}
	return false
}

// assignCast reports whether a value of type from may be stored in a
// column of type to (PostgreSQL's assignment casts, plus text input for
// values that arrive as text).
func assignCast(from, to types.T) bool {
	switch {
	case from == to, from == types.Unknown, from == types.Text, to == types.Text:
		return true
	case from.IsNumeric() && to.IsNumeric():
		return true
	case TimeRank(from) > 0 && TimeRank(to) > 0:
		return true
	case from.IsJSON() && to.IsJSON(), from.IsArray() && to.IsArray():
		return true
	}
	return false
}

// Coerce converts d to type t with assignment-cast rules: numbers convert
// with rounding and range checks, text (as sent for untyped literals and
// text-format parameters) is parsed, anything converts to text, and the
// date/time types convert among themselves (in UTC; CoerceStyle converts
// in a session's zone).
// Anything else is 42804; unparsable text is 22P02 (or the datetime codes
// from types.ParseText).
func Coerce(d types.Datum, t types.T) (types.Datum, error) {
	return CoerceStyle(d, t, nil)
}

// CoerceStyle is Coerce for a session with style st: text is read, and
// timestamptz converted, in its DateStyle and time zone.
func CoerceStyle(d types.Datum, t types.T, st *types.Style) (types.Datum, error) {
	if d.T == t {
		return d, nil
	}
	if d.Null {
		return types.NullOf(t), nil
	}
	if !assignCast(d.T, t) {
		return types.Datum{}, pgerr.CannotAssign.New(d.T, t)
	}
	return castDatumStyle(d, t, st)
}

// castDatumStyle converts a non-NULL d to t in a session with style st
// (nil: defaults, UTC). Unknown-typed datums (untyped literals) hold their
// text in S. Text input and output follow the style's DateStyle,
// IntervalStyle and extra_float_digits; timestamptz converts to and from
// timestamp and date in its time zone.
func castDatumStyle(d types.Datum, t types.T, st *types.Style) (types.Datum, error) {
	if d.Null {
		return types.NullOf(t), nil
	}
	from := d.T
	if from == t {
		return d, nil
	}
	switch {
	case from == types.Unknown || from == types.Text:
		return parseTextStyle(t, d.S, st)
	case t == types.Text:
		return types.NewText(formatTextStyle(d, st)), nil
	case from.IsNumeric() && t.IsNumeric():
		return castNumber(d, t)
	case from.IsArray() && t.IsArray():
		return castArray(d, t)
	case from == types.Json && t == types.Jsonb:
		return parseText(t, d.S)
	case from == types.Jsonb && t == types.Json:
		return types.Datum{T: t, S: d.S}, nil
	case from == types.Bool && t.IsInt():
		return types.NewInt(t, d.I), nil
	case from.IsInt() && t == types.Bool:
		return types.NewBool(d.I != 0), nil
	case TimeRank(from) > 0 && TimeRank(t) > 0:
		us := toMicros(d)
		switch {
		case from == types.TimestampTZ:
			us = st.ToLocal(us) // a wall-clock time in the session's zone
		case t == types.TimestampTZ:
			return types.Datum{T: t, I: st.FromLocal(us)}, nil
		}
		if t == types.Date {
			switch us {
			case types.TimestampInfinity:
				return types.Datum{T: t, I: types.DateInfinity}, nil
			case types.TimestampNegInfinity:
				return types.Datum{T: t, I: types.DateNegInfinity}, nil
			}
			return types.Datum{T: t, I: floorDiv(us, usPerDay)}, nil
		}
		return types.Datum{T: t, I: us}, nil
	}
	return types.Datum{}, pgerr.CannotCast.New(from, t)
}

// parseText converts text input to t with types.ParseText, giving plain
// errors the SQLSTATE 22P02.
func parseText(t types.T, s string) (types.Datum, error) {
	return parseTextStyle(t, s, nil)
}

func parseTextStyle(t types.T, s string, st *types.Style) (types.Datum, error) {
	if t == types.Text || t == types.Unknown {
		return types.NewText(s), nil
	}
	d, err := types.ParseTextStyle(t, s, st)
	if err != nil {
		pe := pgerr.From(err)
		if pe.Code == pgerr.InternalError {
			return types.Datum{}, pgerr.InvalidCastInput.New(t, s)
		}
		return types.Datum{}, pe
	}
	d.T = t
	return d, nil
}

// formatTextStyle renders a non-NULL datum as text in style st; booleans
// spell true/false as PostgreSQL's bool-to-text cast does.
func formatTextStyle(d types.Datum, st *types.Style) string {
	if d.T == types.Bool {
		if d.I != 0 {
			return "true"
		}
		return "false"
	}
	return string(types.AppendTextStyle(nil, d, st))
}

func castNumber(d types.Datum, t types.T) (types.Datum, error) {
	switch {
	case t == types.Numeric:
		return ToNumeric(d), nil
	case t.IsInt():
		v := d.I
		switch {
		case d.T == types.Numeric:
			var err error
			if v, err = numericToInt(d.S, t); err != nil {
				return types.Datum{}, err
			}
		case d.T.IsFloat():
			f := math.RoundToEven(d.F) // float uses rint
			if f != f || f < -9.223372036854775808e18 || f >= 9.223372036854775808e18 {
				return types.Datum{}, RangeErr(t)
			}
			v = int64(f)
		}
		if err := checkIntRange(t, v); err != nil {
			return types.Datum{}, err
		}
		return types.NewInt(t, v), nil
	case t == types.Float4:
		f := d.Float()
		if d.T == types.Numeric {
			var err error
			if f, err = numericToFloat(d.S, t); err != nil {
				return types.Datum{}, err
			}
		}
		f32 := float32(f)
		if math.IsInf(float64(f32), 0) && !math.IsInf(f, 0) {
			return types.Datum{}, pgerr.FloatOverflow.New()
		}
		return types.NewFloat(t, float64(f32)), nil
	case d.T == types.Numeric:
		f, err := numericToFloat(d.S, t)
		if err != nil {
			return types.Datum{}, err
		}
		return types.NewFloat(t, f), nil
	}
	return types.NewFloat(t, d.Float()), nil
}

// applyMods applies type modifiers: numeric(p,s) rounds to s digits and
// checks the precision; varchar(n) truncates to n characters.
func applyMods(d types.Datum, mods []int) (types.Datum, error) {
	if d.Null || len(mods) == 0 {
		return d, nil
	}
	switch d.T {
	case types.Numeric:
		if err := checkNumericMods(mods); err != nil {
			return d, err
		}
		p, s := mods[0], 0
		if len(mods) > 1 {
			s = mods[1]
		}
		return applyNumericMods(d, p, s)
	case types.Text:
		n := mods[0]
		if n > 0 && utf8.RuneCountInString(d.S) > n {
			i, k := 0, 0
			for i = range d.S {
				if k == n {
					break
				}
				k++
			}
			d.S = d.S[:i]
		}
	}
	return d, nil
}
