package types

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
	"unsafe"
)

// Column appenders for COPY: they parse one value straight into a
// column without allocating for the fixed-width types and text.

// view returns b as a string without copying. The parsers it is passed
// to never retain their argument (their errors clone it).
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// AppendTextValue parses b, the text representation of a value of the
// column's type, and appends it; n is the number of rows before this one.
// On error nothing is appended.
func (c *Column) AppendTextValue(n int, b []byte) error {
	if c.T.IsArray() {
		v, err := ParseArray(c.T, string(b))
		if err != nil {
			return err
		}
		c.AppendString(n, v)
		return nil
	}
	switch c.T {
	case Text, Unknown:
		if err := checkUTF8Bytes(b); err != nil {
			return err
		}
		c.AppendBytes(n, b)
		return nil
	case Numeric:
		out, err := appendParsedNumeric(c.Bytes, view(b))
		if err != nil {
			return err
		}
		c.setNull(n, false)
		c.Bytes = out
		c.Offs = append(c.Offs, uint32(len(c.Bytes)))
		return nil
	case Float4, Float8:
		f, err := parseFloat(c.T, view(b))
		if err != nil {
			return err
		}
		c.AppendFloat(n, f)
		return nil
	case Uuid:
		var u [16]byte
		if err := parseUUID(view(b), &u); err != nil {
			return err
		}
		c.AppendBytes(n, u[:])
		return nil
	case Json, Jsonb:
		// A copy: the parser keeps parts of its input, so an unsafe view
		// would make b escape (and allocate) for every type.
		v, err := ParseJSONText(c.T, string(b))
		if err != nil {
			return err
		}
		c.AppendString(n, v)
		return nil
	case Interval:
		iv, err := parseInterval(view(b))
		if err != nil {
			return err
		}
		c.setNull(n, false)
		c.Iv = append(c.Iv, iv)
		return nil
	}
	v, err := parseIntLike(c.T, view(b))
	if err != nil {
		return err
	}
	c.AppendInt(n, v)
	return nil
}

// AppendTextValueStyle is AppendTextValue reading dates and timestamps
// as a session with style st does (field order, time zone).
func (c *Column) AppendTextValueStyle(n int, b []byte, st *Style) error {
	if st == nil || (c.T != Date && c.T != Timestamp && c.T != TimestampTZ) {
		return c.AppendTextValue(n, b)
	}
	d, err := ParseTextStyle(c.T, view(b), st)
	if err != nil {
		return err
	}
	c.AppendInt(n, d.I)
	return nil
}

// AppendBinaryValue decodes b, the binary representation of a value of
// the column's type, and appends it; n is the number of rows before this
// one. On error nothing is appended.
func (c *Column) AppendBinaryValue(n int, b []byte) error {
	if c.T.IsArray() {
		v, err := parseArrayBinary(c.T, b)
		if err != nil {
			return err
		}
		c.AppendString(n, v)
		return nil
	}
	switch c.T {
	case Int4:
		if len(b) != 4 {
			return binaryErr(c.T, len(b))
		}
		c.AppendInt(n, int64(int32(binary.BigEndian.Uint32(b))))
		return nil
	case Int8:
		if len(b) != 8 {
			return binaryErr(c.T, len(b))
		}
		c.AppendInt(n, int64(binary.BigEndian.Uint64(b)))
		return nil
	case Float8:
		if len(b) != 8 {
			return binaryErr(c.T, len(b))
		}
		c.AppendFloat(n, math.Float64frombits(binary.BigEndian.Uint64(b)))
		return nil
	case Text, Unknown:
		if err := checkUTF8Bytes(b); err != nil {
			return err
		}
		c.AppendBytes(n, b)
		return nil
	case Numeric:
		v, err := numericBinaryText(b)
		if err != nil {
			return err
		}
		c.AppendString(n, v)
		return nil
	case Float4:
		f, err := parseBinaryFloat(c.T, b)
		if err != nil {
			return err
		}
		c.AppendFloat(n, f)
		return nil
	case Uuid:
		if len(b) != 16 {
			return binaryErr(c.T, len(b))
		}
		c.AppendBytes(n, b)
		return nil
	case Json, Jsonb:
		d, err := ParseBinary(c.T, b)
		if err != nil {
			return err
		}
		c.AppendString(n, d.S)
		return nil
	case Interval:
		d, err := ParseBinary(c.T, b)
		if err != nil {
			return err
		}
		c.setNull(n, false)
		c.Iv = append(c.Iv, d.Iv)
		return nil
	}
	v, err := parseBinaryInt(c.T, b)
	if err != nil {
		return err
	}
	c.AppendInt(n, v)
	return nil
}

// checkUTF8Bytes is CheckUTF8 for a byte slice, with an ASCII fast path.
func checkUTF8Bytes(b []byte) error {
	for _, c := range b {
		if c == 0 || c >= utf8.RuneSelf {
			if utf8.Valid(b) && !hasNUL(b) {
				return nil
			}
			return CheckUTF8(string(b))
		}
	}
	return nil
}

func hasNUL(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return true
		}
	}
	return false
}
