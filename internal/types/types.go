// Package types defines Cairn's SQL types, the scalar Datum used on the
// query path, and the columnar Batch used on the ingest and aggregation
// paths. Datum is a plain struct (no interface boxing) so that rows of
// datums can be reused without allocation.
package types

import (
	"strconv"
	"strings"
)

// T is a SQL type.
type T uint8

// The SQL types Cairn supports.
const (
	Unknown T = iota
	Bool
	Int2
	Int4
	Int8
	Float4
	Float8
	Numeric
	Text
	Timestamp
	TimestampTZ
	Date
	Interval
	Json
	Jsonb
	Uuid
	// One-dimensional arrays (see array.go); keep them together, in this
	// order.
	BoolArray
	Int2Array
	Int4Array
	Int8Array
	Float4Array
	Float8Array
	NumericArray
	TextArray
	// Bytea is a byte string; values live in Datum.S (raw bytes) and in a
	// batch in Column.Bytes/Offs, like text.
	Bytea
	// Record is an anonymous composite value (see record.go).
	Record
	// lastType is the highest type number; keep it last.
	lastType = Record
)

var names = [...]string{
	Unknown:     "unknown",
	Bool:        "boolean",
	Int2:        "smallint",
	Int4:        "integer",
	Int8:        "bigint",
	Float4:      "real",
	Float8:      "double precision",
	Numeric:     "numeric",
	Text:        "text",
	Timestamp:   "timestamp without time zone",
	TimestampTZ: "timestamp with time zone",
	Date:        "date",
	Interval:    "interval",
	Json:        "json",
	Jsonb:       "jsonb",
	Uuid:        "uuid",

	BoolArray:    "boolean[]",
	Int2Array:    "smallint[]",
	Int4Array:    "integer[]",
	Int8Array:    "bigint[]",
	Float4Array:  "real[]",
	Float8Array:  "double precision[]",
	NumericArray: "numeric[]",
	TextArray:    "text[]",
	Bytea:        "bytea",
	Record:       "record",
}

var oids = [...]uint32{
	Unknown:     705,
	Bool:        16,
	Int2:        21,
	Int4:        23,
	Int8:        20,
	Float4:      700,
	Float8:      701,
	Numeric:     1700,
	Text:        25,
	Timestamp:   1114,
	TimestampTZ: 1184,
	Date:        1082,
	Interval:    1186,
	Json:        114,
	Jsonb:       3802,
	Uuid:        2950,

	BoolArray:    1000,
	Int2Array:    1005,
	Int4Array:    1007,
	Int8Array:    1016,
	Float4Array:  1021,
	Float8Array:  1022,
	NumericArray: 1231,
	TextArray:    1009,
	Bytea:        17,
	Record:       2249,
}

// String returns the PostgreSQL name of the type.
func (t T) String() string {
	if int(t) < len(names) {
		return names[t]
	}
	return "unknown"
}

// OID returns the PostgreSQL type OID.
func (t T) OID() uint32 {
	if int(t) < len(oids) {
		return oids[t]
	}
	return 705
}

// Size returns the pg_type typlen of the type (-1 for variable length).
func (t T) Size() int16 {
	switch t {
	case Bool:
		return 1
	case Int2:
		return 2
	case Int4, Float4, Date:
		return 4
	case Int8, Float8, Timestamp, TimestampTZ:
		return 8
	case Interval, Uuid:
		return 16
	}
	return -1
}

// FromOID maps a PostgreSQL type OID to a type; ok is false when unknown.
func FromOID(oid uint32) (T, bool) {
	for t, o := range oids {
		if o == oid && T(t) != Unknown {
			return T(t), true
		}
	}
	if oid == 1043 || oid == 1042 || oid == 19 { // varchar, bpchar, name
		return Text, true
	}
	return Unknown, false
}

// IsInt reports whether t is one of the integer types.
func (t T) IsInt() bool { return t == Int2 || t == Int4 || t == Int8 }

// IsFloat reports whether t is stored as a float64 (float4, float8).
func (t T) IsFloat() bool { return t == Float4 || t == Float8 }

// IsNumeric reports whether t is a number: an integer, floating or
// numeric type.
func (t T) IsNumeric() bool { return t.IsInt() || t.IsFloat() || t == Numeric }

// UsesBytes reports whether values of t live in Datum.S and, in a batch,
// in Column.Bytes/Offs: text, numeric and json/jsonb as their text, uuid
// as its 16 bytes, bytea as its bytes.
func (t T) UsesBytes() bool {
	return t == Text || t == Numeric || t == Json || t == Jsonb || t == Uuid || t.IsArray() || t == Bytea || t == Record
}

// IsJSON reports whether t is json or jsonb.
func (t T) IsJSON() bool { return t == Json || t == Jsonb }

// IsTime reports whether t is a timestamp type.
func (t T) IsTime() bool { return t == Timestamp || t == TimestampTZ }

// UsesI reports whether values of t live in Datum.I / Column.I.
func (t T) UsesI() bool {
	switch t {
	case Bool, Int2, Int4, Int8, Timestamp, TimestampTZ, Date:
		return true
	}
	return false
}

// FromName resolves a type name as written in SQL (case-insensitive,
// already lower-cased multiword names joined by one space, without any
// length modifier such as varchar(10)).
func FromName(name string) (T, bool) {
	if elem, ok := strings.CutSuffix(name, "[]"); ok {
		for strings.HasSuffix(elem, "[]") { // int[][] is int[] in PostgreSQL
			elem = strings.TrimSuffix(elem, "[]")
		}
		if t, ok := FromName(elem); ok {
			return ArrayOf(t)
		}
		return Unknown, false
	}
	switch strings.ToLower(name) {
	case "bool", "boolean":
		return Bool, true
	case "int2", "smallint":
		return Int2, true
	case "int", "int4", "integer", "serial":
		return Int4, true
	case "int8", "bigint", "bigserial":
		return Int8, true
	case "float4", "real":
		return Float4, true
	case "float", "float8", "double precision", "double":
		return Float8, true
	case "numeric", "decimal":
		return Numeric, true
	case "text", "varchar", "character varying", "char", "character", "bpchar", "string", "name":
		return Text, true
	case "timestamp", "timestamp without time zone":
		return Timestamp, true
	case "timestamptz", "timestamp with time zone":
		return TimestampTZ, true
	case "date":
		return Date, true
	case "interval":
		return Interval, true
	case "json":
		return Json, true
	case "jsonb":
		return Jsonb, true
	case "uuid":
		return Uuid, true
	case "bytea":
		return Bytea, true
	}
	return Unknown, false
}

// IntervalValue is a PostgreSQL interval: months, days and microseconds
// are kept apart because their lengths vary.
type IntervalValue struct {
	Months int32
	Days   int32
	Micros int64
}

// Datum is one SQL value. Which field holds the value depends on T:
// I for bool (0/1), integers, timestamps (microseconds since the Unix
// epoch, UTC) and dates (days since the Unix epoch); F for float4 and
// float8; S for text, numeric (its canonical text, see numeric.go),
// json/jsonb (text), uuid (16 bytes) and arrays (text); Iv for interval.
type Datum struct {
	T    T
	Null bool
	I    int64
	F    float64
	S    string
	Iv   IntervalValue
}

// NullOf returns a NULL of type t.
func NullOf(t T) Datum { return Datum{T: t, Null: true} }

// NewInt returns an integer datum of type t.
func NewInt(t T, v int64) Datum { return Datum{T: t, I: v} }

// NewFloat returns a float datum of type t.
func NewFloat(t T, v float64) Datum { return Datum{T: t, F: v} }

// NewText returns a text datum.
func NewText(s string) Datum { return Datum{T: Text, S: s} }

// NewBool returns a boolean datum.
func NewBool(b bool) Datum {
	if b {
		return Datum{T: Bool, I: 1}
	}
	return Datum{T: Bool}
}

// Bool reports the value of a boolean datum (false for NULL).
func (d Datum) Bool() bool { return !d.Null && d.I != 0 }

// Float returns a number datum's value as float64 (numeric is rounded to
// the nearest float64, ±Inf beyond its range).
func (d Datum) Float() float64 {
	switch {
	case d.T.IsFloat():
		return d.F
	case d.T == Numeric:
		f, _ := strconv.ParseFloat(d.S, 64)
		return f
	}
	return float64(d.I)
}

// Column is one column of a Batch. Exactly one value slice is used,
// chosen by T like Datum's fields: I, F, text and numeric in Bytes/Offs (value i is
// Bytes[Offs[i]:Offs[i+1]], so len(Offs) == N+1), or Iv. Nulls is nil
// when the column holds no NULL; otherwise len(Nulls) == N.
type Column struct {
	T     T
	Nulls []bool
	I     []int64
	F     []float64
	Bytes []byte
	Offs  []uint32
	Iv    []IntervalValue
}

// Batch is a columnar set of rows: the unit of ingest, replication and
// aggregation.
type Batch struct {
	N    int
	Cols []Column
	// Arrival is when the batch was appended to its stream, in Unix
	// microseconds (arrival_timestamp); 0 when unknown. Set by readers of
	// a stream, not encoded.
	Arrival int64
}

// NewBatch returns an empty batch with columns of the given types.
func NewBatch(ts []T) *Batch {
	b := &Batch{Cols: make([]Column, len(ts))}
	for i, t := range ts {
		b.Cols[i].T = t
		if t.UsesBytes() {
			b.Cols[i].Offs = []uint32{0}
		}
	}
	return b
}

// Reset empties the batch, keeping its column types and capacity.
func (b *Batch) Reset() {
	b.N = 0
	for i := range b.Cols {
		c := &b.Cols[i]
		c.Nulls = c.Nulls[:0]
		c.I = c.I[:0]
		c.F = c.F[:0]
		c.Bytes = c.Bytes[:0]
		c.Iv = c.Iv[:0]
		if c.T.UsesBytes() {
			c.Offs = append(c.Offs[:0], 0)
		} else {
			c.Offs = c.Offs[:0]
		}
	}
}

// IsNull reports whether value i is NULL.
func (c *Column) IsNull(i int) bool { return c.Nulls != nil && c.Nulls[i] }

// StrBytes returns text value i without copying.
func (c *Column) StrBytes(i int) []byte { return c.Bytes[c.Offs[i]:c.Offs[i+1]] }

// Datum returns value i as a Datum (text is copied into a string).
func (c *Column) Datum(i int) Datum {
	if c.IsNull(i) {
		return NullOf(c.T)
	}
	d := Datum{T: c.T}
	switch {
	case c.T.UsesBytes():
		d.S = string(c.StrBytes(i))
	case c.T == Interval:
		d.Iv = c.Iv[i]
	case c.T.IsFloat():
		d.F = c.F[i]
	default:
		d.I = c.I[i]
	}
	return d
}

// setNull records whether the value being appended at row n is NULL.
func (c *Column) setNull(n int, null bool) {
	if c.Nulls == nil {
		if !null {
			return
		}
		c.Nulls = make([]bool, n, n+16)
	}
	c.Nulls = append(c.Nulls, null)
}

// AppendInt appends an integer-like value (bool, ints, timestamps, dates).
func (c *Column) AppendInt(n int, v int64) { c.setNull(n, false); c.I = append(c.I, v) }

// AppendFloat appends a float value.
func (c *Column) AppendFloat(n int, v float64) { c.setNull(n, false); c.F = append(c.F, v) }

// AppendBytes appends a text value.
func (c *Column) AppendBytes(n int, v []byte) {
	c.setNull(n, false)
	c.Bytes = append(c.Bytes, v...)
	c.Offs = append(c.Offs, uint32(len(c.Bytes)))
}

// AppendString appends a text value.
func (c *Column) AppendString(n int, v string) {
	c.setNull(n, false)
	c.Bytes = append(c.Bytes, v...)
	c.Offs = append(c.Offs, uint32(len(c.Bytes)))
}

// AppendNull appends a NULL; n is the number of rows before this one.
func (c *Column) AppendNull(n int) {
	c.setNull(n, true)
	switch {
	case c.T.UsesBytes():
		c.Offs = append(c.Offs, uint32(len(c.Bytes)))
	case c.T == Interval:
		c.Iv = append(c.Iv, IntervalValue{})
	case c.T.IsFloat():
		c.F = append(c.F, 0)
	default:
		c.I = append(c.I, 0)
	}
}

// AppendDatum appends d (which must already have the column's type or be
// NULL); n is the number of rows before this one.
func (c *Column) AppendDatum(n int, d Datum) {
	if d.Null {
		c.AppendNull(n)
		return
	}
	switch {
	case c.T.UsesBytes():
		c.AppendString(n, d.S)
	case c.T == Interval:
		c.setNull(n, false)
		c.Iv = append(c.Iv, d.Iv)
	case c.T.IsFloat():
		c.AppendFloat(n, d.F)
	default:
		c.AppendInt(n, d.I)
	}
}

// AppendRow appends one row of datums, one per column, each already of
// its column's type (or NULL).
func (b *Batch) AppendRow(row []Datum) {
	for i := range b.Cols {
		b.Cols[i].AppendDatum(b.N, row[i])
	}
	b.N++
}

// Types returns the column types.
func (b *Batch) Types() []T {
	ts := make([]T, len(b.Cols))
	for i := range b.Cols {
		ts[i] = b.Cols[i].T
	}
	return ts
}

// AppendBatch appends every row of o, which must have the same column types.
func (b *Batch) AppendBatch(o *Batch) {
	for i := range b.Cols {
		c, oc := &b.Cols[i], &o.Cols[i]
		if oc.Nulls != nil || c.Nulls != nil {
			if c.Nulls == nil {
				c.Nulls = make([]bool, b.N, b.N+o.N)
			}
			if oc.Nulls == nil {
				c.Nulls = append(c.Nulls, make([]bool, o.N)...)
			} else {
				c.Nulls = append(c.Nulls, oc.Nulls...)
			}
		}
		switch {
		case c.T.UsesBytes():
			base := uint32(len(c.Bytes))
			c.Bytes = append(c.Bytes, oc.Bytes...)
			for _, off := range oc.Offs[1:] {
				c.Offs = append(c.Offs, base+off)
			}
		case c.T == Interval:
			c.Iv = append(c.Iv, oc.Iv...)
		case c.T.IsFloat():
			c.F = append(c.F, oc.F...)
		default:
			c.I = append(c.I, oc.I...)
		}
	}
	b.N += o.N
}

// Slice returns a new batch holding rows [lo, hi) of b (copied).
func (b *Batch) Slice(lo, hi int) *Batch {
	if lo == 0 && hi == b.N {
		return b
	}
	out := NewBatch(b.Types())
	out.N = hi - lo
	for i := range b.Cols {
		c, oc := &b.Cols[i], &out.Cols[i]
		if c.Nulls != nil {
			oc.Nulls = append([]bool(nil), c.Nulls[lo:hi]...)
		}
		switch {
		case c.T.UsesBytes():
			base := c.Offs[lo]
			oc.Bytes = append(oc.Bytes[:0], c.Bytes[base:c.Offs[hi]]...)
			oc.Offs = oc.Offs[:1]
			for _, o := range c.Offs[lo+1 : hi+1] {
				oc.Offs = append(oc.Offs, o-base)
			}
		case c.T == Interval:
			oc.Iv = append(oc.Iv, c.Iv[lo:hi]...)
		case c.T.IsFloat():
			oc.F = append(oc.F, c.F[lo:hi]...)
		default:
			oc.I = append(oc.I, c.I[lo:hi]...)
		}
	}
	return out
}
