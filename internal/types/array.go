package types

import (
	"encoding/binary"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// One-dimensional arrays of the scalar types below, held (like text) in
// Datum.S and a batch column's bytes as PostgreSQL's text form
// ({1,2,NULL}, {a,"b c"}) with each element in its type's canonical text.

// arrayElems maps each array type to its element type.
var arrayElems = map[T]T{
	BoolArray: Bool, Int2Array: Int2, Int4Array: Int4, Int8Array: Int8,
	Float4Array: Float4, Float8Array: Float8, NumericArray: Numeric, TextArray: Text,
}

// IsArray reports whether t is an array type.
func (t T) IsArray() bool { return t >= BoolArray && t <= TextArray }

// Elem returns the element type of an array type (Unknown otherwise).
func (t T) Elem() T { return arrayElems[t] }

// ArrayOf returns the array type whose elements are of type t.
func ArrayOf(t T) (T, bool) {
	for a, e := range arrayElems {
		if e == t {
			return a, true
		}
	}
	return Unknown, false
}

// ParseArrayElems reads PostgreSQL's text form of a one-dimensional
// array ('{a,"b c",NULL}'): the elements' texts, nil for NULL. Errors are
// 22P02 (malformed) or 0A000 (more than one dimension).
func ParseArrayElems(s string) ([]*string, error) {
	bad := func() error { return pgerr.MalformedArray.New(s) }
	w := trimSpace(s)
	if len(w) < 2 || w[0] != '{' || w[len(w)-1] != '}' {
		return nil, bad()
	}
	w = w[1 : len(w)-1]
	var out []*string
	if trimSpace(w) == "" {
		return out, nil
	}
	i := 0
	for {
		for i < len(w) && isSpace(w[i]) {
			i++
		}
		if i < len(w) && w[i] == '{' {
			return nil, pgerr.MultiDimArray.New()
		}
		var sb strings.Builder
		quoted := false
		if i < len(w) && w[i] == '"' {
			quoted = true
			i++
			for i < len(w) && w[i] != '"' {
				if w[i] == '\\' && i+1 < len(w) {
					i++
				}
				sb.WriteByte(w[i])
				i++
			}
			if i >= len(w) {
				return nil, bad()
			}
			i++
		} else {
			for i < len(w) && w[i] != ',' {
				if w[i] == '"' || w[i] == '{' || w[i] == '}' {
					return nil, bad()
				}
				if w[i] == '\\' && i+1 < len(w) {
					i++
				}
				sb.WriteByte(w[i])
				i++
			}
		}
		v := sb.String()
		if !quoted {
			v = strings.TrimRight(v, " \t\n\r\v\f")
			if v == "" {
				return nil, bad()
			}
		}
		if !quoted && strings.EqualFold(v, "null") {
			out = append(out, nil)
		} else {
			out = append(out, &v)
		}
		for i < len(w) && isSpace(w[i]) {
			i++
		}
		if i == len(w) {
			return out, nil
		}
		if w[i] != ',' {
			return nil, bad()
		}
		i++
	}
}

// ParseArray reads array input of type t (element values checked and
// made canonical) and returns its canonical text.
func ParseArray(t T, s string) (string, error) {
	elems, err := ParseArrayElems(s)
	if err != nil {
		return "", err
	}
	ds := make([]Datum, len(elems))
	for i, e := range elems {
		if e == nil {
			ds[i] = NullOf(t.Elem())
			continue
		}
		if ds[i], err = ParseText(t.Elem(), *e); err != nil {
			return "", err
		}
	}
	return string(AppendArray(nil, ds)), nil
}

// ArrayDatums splits canonical array text into element datums of type
// elem.
func ArrayDatums(elem T, s string) ([]Datum, error) {
	elems, err := ParseArrayElems(s)
	if err != nil {
		return nil, err
	}
	ds := make([]Datum, len(elems))
	for i, e := range elems {
		if e == nil {
			ds[i] = NullOf(elem)
			continue
		}
		if ds[i], err = ParseText(elem, *e); err != nil {
			return nil, err
		}
		ds[i].T = elem
	}
	return ds, nil
}

// AppendArray appends the text form of the elements ds.
func AppendArray(dst []byte, ds []Datum) []byte {
	dst = append(dst, '{')
	for i, d := range ds {
		if i > 0 {
			dst = append(dst, ',')
		}
		if d.Null {
			dst = append(dst, "NULL"...)
			continue
		}
		var buf [64]byte
		v := AppendText(buf[:0], d)
		dst = appendArrayElem(dst, v)
	}
	return append(dst, '}')
}

// appendArrayElem quotes an element as PostgreSQL's array_out does: when
// empty, NULL, or holding a quote, backslash, brace, comma or space.
func appendArrayElem(dst, v []byte) []byte {
	quote := len(v) == 0 || strings.EqualFold(string(v), "null")
	for _, c := range v {
		if c == '"' || c == '\\' || c == '{' || c == '}' || c == ',' || isSpace(c) {
			quote = true
			break
		}
	}
	if !quote {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, c := range v {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// appendArrayBinary appends PostgreSQL's binary array form: ndim,
// has-nulls flag, element OID, then per dimension its length and lower
// bound (1), then each element as a length and its binary form (-1 for
// NULL).
func appendArrayBinary(dst []byte, t T, s string) []byte {
	ds, err := ArrayDatums(t.Elem(), s)
	if err != nil {
		ds = nil
	}
	if len(ds) == 0 {
		dst = binary.BigEndian.AppendUint32(dst, 0)
		dst = binary.BigEndian.AppendUint32(dst, 0)
		return binary.BigEndian.AppendUint32(dst, t.Elem().OID())
	}
	hasNull := uint32(0)
	for _, d := range ds {
		if d.Null {
			hasNull = 1
		}
	}
	dst = binary.BigEndian.AppendUint32(dst, 1)
	dst = binary.BigEndian.AppendUint32(dst, hasNull)
	dst = binary.BigEndian.AppendUint32(dst, t.Elem().OID())
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(ds)))
	dst = binary.BigEndian.AppendUint32(dst, 1)
	for _, d := range ds {
		if d.Null {
			dst = binary.BigEndian.AppendUint32(dst, 0xFFFFFFFF)
			continue
		}
		at := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = AppendBinary(dst, d)
		binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	return dst
}

// parseArrayBinary reads the binary form written by appendArrayBinary.
func parseArrayBinary(t T, b []byte) (string, error) {
	bad := func() error { return binaryErr(t, len(b)) }
	if len(b) < 12 {
		return "", bad()
	}
	ndim := binary.BigEndian.Uint32(b)
	elemOID := binary.BigEndian.Uint32(b[8:])
	if elemOID != t.Elem().OID() {
		return "", pgerr.WrongArrayElemType.New(t)
	}
	b = b[12:]
	switch ndim {
	case 0:
		return "{}", nil
	case 1:
	default:
		return "", pgerr.MultiDimArray.New()
	}
	if len(b) < 8 {
		return "", bad()
	}
	n := binary.BigEndian.Uint32(b)
	b = b[8:]
	if uint64(n)*4 > uint64(len(b)) {
		return "", bad()
	}
	ds := make([]Datum, n)
	for i := range ds {
		if len(b) < 4 {
			return "", bad()
		}
		l := binary.BigEndian.Uint32(b)
		b = b[4:]
		if l == 0xFFFFFFFF {
			ds[i] = NullOf(t.Elem())
			continue
		}
		if uint64(l) > uint64(len(b)) {
			return "", bad()
		}
		d, err := ParseBinary(t.Elem(), b[:l])
		if err != nil {
			return "", err
		}
		d.T = t.Elem()
		ds[i] = d
		b = b[l:]
	}
	if len(b) != 0 {
		return "", bad()
	}
	return string(AppendArray(nil, ds)), nil
}
