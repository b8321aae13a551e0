package types

import (
	"fmt"
	"strconv"
)

// ParseText parses the PostgreSQL text representation of a value of type
// t (as sent by clients in text format, in COPY text/csv, and in SQL
// string literals cast to t). Errors carry SQLSTATE 22P02 / 22007 / 22008.
//
// PLACEHOLDER: the pgwire work replaces this with the full implementation.
func ParseText(t T, s string) (Datum, error) {
	switch {
	case t == Text:
		return NewText(s), nil
	case t.IsInt():
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Datum{}, fmt.Errorf("invalid input syntax for type %s: %q", t, s)
		}
		return NewInt(t, v), nil
	case t.IsFloat():
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Datum{}, fmt.Errorf("invalid input syntax for type %s: %q", t, s)
		}
		return NewFloat(t, v), nil
	}
	return Datum{}, fmt.Errorf("cannot parse %s yet", t)
}

// AppendText appends the PostgreSQL text representation of d (which must
// not be NULL) to dst.
//
// PLACEHOLDER: the pgwire work replaces this with the full implementation.
func AppendText(dst []byte, d Datum) []byte {
	switch {
	case d.T == Text:
		return append(dst, d.S...)
	case d.T.IsFloat():
		return strconv.AppendFloat(dst, d.F, 'g', -1, 64)
	default:
		return strconv.AppendInt(dst, d.I, 10)
	}
}

// ParseBinary decodes the PostgreSQL binary representation of a value of
// type t.
//
// PLACEHOLDER: the pgwire work replaces this with the full implementation.
func ParseBinary(t T, b []byte) (Datum, error) {
	return Datum{}, fmt.Errorf("binary format for %s not supported yet", t)
}

// AppendBinary appends the PostgreSQL binary representation of d (not NULL).
//
// PLACEHOLDER: the pgwire work replaces this with the full implementation.
func AppendBinary(dst []byte, d Datum) []byte { return dst }
