package scalar

import (
	"encoding/binary"
	"math"
	"strings"
	"unsafe"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// BatchDatum reads value i of c without allocating. A text or numeric
// result is a string over c.Bytes: it must not outlive the batch.
func BatchDatum(c *types.Column, i int) types.Datum {
	if c.Nulls != nil && c.Nulls[i] {
		return types.Datum{T: c.T, Null: true}
	}
	switch {
	case c.T.UsesBytes():
		lo, hi := c.Offs[i], c.Offs[i+1]
		if hi == lo {
			return types.Datum{T: c.T}
		}
		return types.Datum{T: c.T, S: unsafe.String(&c.Bytes[lo], int(hi-lo))}
	case c.T == types.Interval:
		return types.Datum{T: c.T, Iv: c.Iv[i]}
	case c.T.IsFloat():
		return types.Datum{T: c.T, F: c.F[i]}
	default:
		return types.Datum{T: c.T, I: c.I[i]}
	}
}

// Own returns d with any text copied, so it may outlive the batch it was
// read from.
func Own(d types.Datum) types.Datum {
	if d.T.UsesBytes() && !d.Null {
		d.S = strings.Clone(d.S)
	}
	return d
}

// CmpFloat orders floats like PostgreSQL: NaN equals NaN and sorts above
// every other value.
func CmpFloat(a, b float64) int {
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// IntervalSpan is the interval's length for ordering, with PostgreSQL's
// 30-day months and 24-hour days.
func IntervalSpan(v types.IntervalValue) float64 {
	return float64(v.Months)*30*usPerDay + float64(v.Days)*usPerDay + float64(v.Micros)
}

// CompareDatums orders two non-NULL datums of the same comparison class
// (both integer-like, both numbers, both text, both interval); mixed
// integer and float compare as floats, numeric with an integer as
// numeric.
func CompareDatums(a, b types.Datum) int {
	switch {
	case a.T == types.Record && b.T == types.Record:
		return compareRecords(a, b)
	case a.T.IsArray() && b.T.IsArray():
		return compareArrays(a, b)
	case a.T == types.Jsonb && b.T == types.Jsonb:
		return CompareJSONB(a.S, b.S)
	case a.T.UsesBytes() && a.T != types.Numeric || b.T == types.Text:
		return strings.Compare(a.S, b.S)
	case a.T == types.Interval || b.T == types.Interval:
		return CmpFloat(IntervalSpan(a.Iv), IntervalSpan(b.Iv))
	case a.T.IsFloat() || b.T.IsFloat():
		return CmpFloat(a.Float(), b.Float())
	case a.T == types.Numeric || b.T == types.Numeric:
		return CompareNumeric(ToNumeric(a).S, ToNumeric(b).S)
	}
	return cmpInt(a.I, b.I)
}

// CompareNullable orders datums with NULL placement given by nullsFirst.
func CompareNullable(a, b types.Datum, nullsFirst bool) int {
	switch {
	case a.Null && b.Null:
		return 0
	case a.Null:
		if nullsFirst {
			return -1
		}
		return 1
	case b.Null:
		if nullsFirst {
			return 1
		}
		return -1
	}
	return CompareDatums(a, b)
}

// AppendKey appends an order-preserving encoding of d (typed t) to dst;
// used for group keys and DISTINCT. NULL sorts first. Numeric keys are
// canonical: 1.0 and 1.00 encode alike (and decode as 1).
func AppendKey(dst []byte, d types.Datum) []byte {
	if d.Null {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	switch {
	case d.T == types.Text || d.T == types.Json || d.T == types.Uuid || d.T == types.Bytea || d.T == types.Record:
		dst = binary.AppendUvarint(dst, uint64(len(d.S)))
		return append(dst, d.S...)
	case d.T.IsArray():
		// The elements' keys, length-prefixed: canonical (1.0 = 1.00),
		// though not ordered like the arrays.
		ds, err := arrayElems(d)
		if err != nil {
			return append(dst, 0xFF)
		}
		var inner []byte
		for _, e := range ds {
			inner = AppendKey(inner, e)
		}
		dst = binary.AppendUvarint(dst, uint64(len(inner)))
		return append(dst, inner...)
	case d.T == types.Jsonb:
		k := types.JSONBKey(d.S)
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		return append(dst, k...)
	case d.T == types.Numeric:
		return types.AppendNumericKey(dst, d.S)
	case d.T == types.Interval:
		dst = binary.BigEndian.AppendUint32(dst, uint32(d.Iv.Months)^1<<31)
		dst = binary.BigEndian.AppendUint32(dst, uint32(d.Iv.Days)^1<<31)
		return binary.BigEndian.AppendUint64(dst, uint64(d.Iv.Micros)^1<<63)
	case d.T.IsFloat():
		return appendFloatKey(dst, d.F)
	}
	return binary.BigEndian.AppendUint64(dst, uint64(d.I)^1<<63)
}

func appendFloatKey(dst []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0 and 0 are one group
	}
	if f != f {
		f = math.NaN() // one NaN group
	}
	u := math.Float64bits(f)
	if u>>63 == 1 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, u)
}

// DecodeKey decodes one value of type t written by AppendKey from buf,
// returning the rest. Text aliases buf.
func DecodeKey(buf []byte, t types.T) (types.Datum, []byte, error) {
	if len(buf) < 1 {
		return types.Datum{}, nil, ErrCorruptState
	}
	if buf[0] == 0 {
		return types.NullOf(t), buf[1:], nil
	}
	buf = buf[1:]
	d := types.Datum{T: t}
	switch {
	case t == types.Text || t.IsJSON() || t == types.Uuid || t == types.Bytea || t == types.Record:
		n, k := binary.Uvarint(buf)
		if k <= 0 || uint64(len(buf)-k) < n {
			return d, nil, ErrCorruptState
		}
		d.S = string(buf[k : k+int(n)])
		return d, buf[k+int(n):], nil
	case t == types.Numeric:
		s, rest, err := types.DecodeNumericKey(buf)
		if err != nil {
			return d, nil, ErrCorruptState
		}
		d.S = s
		return d, rest, nil
	case t.IsArray():
		n, k := binary.Uvarint(buf)
		if k <= 0 || uint64(len(buf)-k) < n {
			return d, nil, ErrCorruptState
		}
		inner := buf[k : k+int(n)]
		var ds []types.Datum
		for len(inner) > 0 {
			var e types.Datum
			var err error
			if e, inner, err = DecodeKey(inner, t.Elem()); err != nil {
				return d, nil, err
			}
			ds = append(ds, e)
		}
		return arrayDatum(t, ds), buf[k+int(n):], nil
	case t == types.Interval:
		if len(buf) < 16 {
			return d, nil, ErrCorruptState
		}
		d.Iv.Months = int32(binary.BigEndian.Uint32(buf) ^ 1<<31)
		d.Iv.Days = int32(binary.BigEndian.Uint32(buf[4:]) ^ 1<<31)
		d.Iv.Micros = int64(binary.BigEndian.Uint64(buf[8:]) ^ 1<<63)
		return d, buf[16:], nil
	}
	if len(buf) < 8 {
		return d, nil, ErrCorruptState
	}
	u := binary.BigEndian.Uint64(buf)
	if t.IsFloat() {
		if u>>63 == 1 {
			u &^= 1 << 63
		} else {
			u = ^u
		}
		d.F = math.Float64frombits(u)
	} else {
		d.I = int64(u ^ 1<<63)
	}
	return d, buf[8:], nil
}

// ErrCorruptState is returned for an encoded group key or partial state
// that cannot be decoded.
var ErrCorruptState = pgerr.CorruptViewState.New()
