package types

import (
	"bytes"
	"math"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
)

func ts(y, mo, d, h, mi, s, us int64) int64 {
	return DaysFromCivil(y, mo, d)*microsPerDay + h*microsPerHour + mi*microsPerMinute + s*microsPerSecond + us
}

func TestParseTextAndPrint(t *testing.T) {
	tests := []struct {
		t    T
		in   string
		want Datum
		out  string // canonical text ("" = same as in)
	}{
		{Bool, "true", NewBool(true), "t"},
		{Bool, " f ", NewBool(false), "f"},
		{Bool, "YES", NewBool(true), "t"},
		{Bool, "off", NewBool(false), "f"},
		{Bool, "on", NewBool(true), "t"},
		{Bool, "1", NewBool(true), "t"},
		{Bool, "0", NewBool(false), "f"},
		{Int2, "-32768", NewInt(Int2, -32768), ""},
		{Int4, " 42 ", NewInt(Int4, 42), "42"},
		{Int4, "+7", NewInt(Int4, 7), "7"},
		{Int8, "-9223372036854775808", NewInt(Int8, math.MinInt64), ""},
		{Int8, "9223372036854775807", NewInt(Int8, math.MaxInt64), ""},
		{Float8, "1.5", NewFloat(Float8, 1.5), ""},
		{Float8, "1e20", NewFloat(Float8, 1e20), "1e+20"},
		{Float8, "100000000000000", NewFloat(Float8, 1e14), ""},
		{Float8, "1e15", NewFloat(Float8, 1e15), "1e+15"},
		{Float8, "0.0001", NewFloat(Float8, 0.0001), ""},
		{Float8, "0.00001", NewFloat(Float8, 0.00001), "1e-05"},
		{Float8, "0.1", NewFloat(Float8, 0.1), ""},
		{Float8, "-2.5e-10", NewFloat(Float8, -2.5e-10), "-2.5e-10"},
		{Float8, "123456.789", NewFloat(Float8, 123456.789), ""},
		{Float8, "Infinity", NewFloat(Float8, math.Inf(1)), ""},
		{Float8, "-inf", NewFloat(Float8, math.Inf(-1)), "-Infinity"},
		{Float4, "1000000", NewFloat(Float4, 1e6), "1e+06"},
		{Float4, "123456", NewFloat(Float4, 123456), ""},
		{Float4, "0.1", NewFloat(Float4, float64(float32(0.1))), "0.1"},
		{Numeric, "123.4500", NewNumeric("123.4500"), ""},
		{Numeric, "1e20", NewNumeric("100000000000000000000"), "100000000000000000000"},
		{Numeric, "-0.000001", NewNumeric("-0.000001"), ""},
		{Numeric, " +.5 ", NewNumeric("0.5"), "0.5"},
		{Numeric, "1.5e-3", NewNumeric("0.0015"), "0.0015"},
		{Numeric, "-0.00", NewNumeric("0.00"), "0.00"},
		{Numeric, "nan", NewNumeric("NaN"), "NaN"},
		{Numeric, "-inf", NewNumeric("-Infinity"), "-Infinity"},
		{Numeric, "10000000000000000000000000000000000000000000000000000.2003", NewNumeric("10000000000000000000000000000000000000000000000000000.2003"), ""},
		{Text, "héllo", NewText("héllo"), ""},
		{Uuid, "{A0EEBC99-9C0B4EF8-BB6D-6BB9BD380A11}", Datum{T: Uuid, S: "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11"}, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{Jsonb, `{"b": [1.50], "a": null}`, Datum{T: Jsonb, S: `{"a": null, "b": [1.50]}`}, `{"a": null, "b": [1.50]}`},
		{Json, `{"b": [1.50], "a": null}`, Datum{T: Json, S: `{"b": [1.50], "a": null}`}, ""},
		{Timestamp, "2024-01-02 03:04:05.123456", NewInt(Timestamp, ts(2024, 1, 2, 3, 4, 5, 123456)), ""},
		{Timestamp, "2024-01-02T03:04:05Z", NewInt(Timestamp, ts(2024, 1, 2, 3, 4, 5, 0)), "2024-01-02 03:04:05"},
		{Timestamp, "2024-01-02 03:04:05+05", NewInt(Timestamp, ts(2024, 1, 2, 3, 4, 5, 0)), "2024-01-02 03:04:05"},
		{Timestamp, "2024-01-02", NewInt(Timestamp, ts(2024, 1, 2, 0, 0, 0, 0)), "2024-01-02 00:00:00"},
		{Timestamp, "2024-01-02 03:04", NewInt(Timestamp, ts(2024, 1, 2, 3, 4, 0, 0)), "2024-01-02 03:04:00"},
		{Timestamp, "2024-01-02 03:04:05.5", NewInt(Timestamp, ts(2024, 1, 2, 3, 4, 5, 500000)), ""},
		{Timestamp, "2024-01-02 03:04:05.1234567", NewInt(Timestamp, ts(2024, 1, 2, 3, 4, 5, 123457)), "2024-01-02 03:04:05.123457"},
		{Timestamp, "1969-12-31 23:59:59.999999", NewInt(Timestamp, -1), ""},
		{Timestamp, "0044-03-15 12:00:00 BC", NewInt(Timestamp, ts(-43, 3, 15, 12, 0, 0, 0)), ""},
		{Timestamp, "infinity", NewInt(Timestamp, TimestampInfinity), ""},
		{TimestampTZ, "2024-01-02 03:04:05+02", NewInt(TimestampTZ, ts(2024, 1, 2, 1, 4, 5, 0)), "2024-01-02 01:04:05+00"},
		{TimestampTZ, "2024-01-02T03:04:05.25-01:30", NewInt(TimestampTZ, ts(2024, 1, 2, 4, 34, 5, 250000)), "2024-01-02 04:34:05.25+00"},
		{TimestampTZ, "2024-01-02 03:04:05 UTC", NewInt(TimestampTZ, ts(2024, 1, 2, 3, 4, 5, 0)), "2024-01-02 03:04:05+00"},
		{TimestampTZ, "2024-01-02 03:04:05+0530", NewInt(TimestampTZ, ts(2024, 1, 1, 21, 34, 5, 0)), "2024-01-01 21:34:05+00"},
		{Date, "2024-02-29", NewInt(Date, DaysFromCivil(2024, 2, 29)), ""},
		{Date, "1970-01-01", NewInt(Date, 0), ""},
		{Date, "1900-03-04", NewInt(Date, DaysFromCivil(1900, 3, 4)), ""},
		{Interval, "1 hour", Datum{T: Interval, Iv: IntervalValue{Micros: microsPerHour}}, "01:00:00"},
		{Interval, "2 days 03:00:00", Datum{T: Interval, Iv: IntervalValue{Days: 2, Micros: 3 * microsPerHour}}, "2 days 03:00:00"},
		{Interval, "1 day 2 hours", Datum{T: Interval, Iv: IntervalValue{Days: 1, Micros: 2 * microsPerHour}}, "1 day 02:00:00"},
		{Interval, "90 minutes", Datum{T: Interval, Iv: IntervalValue{Micros: 90 * microsPerMinute}}, "01:30:00"},
		{Interval, "-1 week", Datum{T: Interval, Iv: IntervalValue{Days: -7}}, "-7 days"},
		{Interval, "00:05:00", Datum{T: Interval, Iv: IntervalValue{Micros: 5 * microsPerMinute}}, ""},
		{Interval, "3 mons", Datum{T: Interval, Iv: IntervalValue{Months: 3}}, ""},
		{Interval, "1 year 2 months", Datum{T: Interval, Iv: IntervalValue{Months: 14}}, "1 year 2 mons"},
		{Interval, "P1D", Datum{T: Interval, Iv: IntervalValue{Days: 1}}, "1 day"},
		{Interval, "P1Y2M3DT4H5M6.5S", Datum{T: Interval, Iv: IntervalValue{Months: 14, Days: 3, Micros: 4*microsPerHour + 5*microsPerMinute + 6500000}}, "1 year 2 mons 3 days 04:05:06.5"},
		{Interval, "-1 day 2 hours", Datum{T: Interval, Iv: IntervalValue{Days: -1, Micros: 2 * microsPerHour}}, "-1 days +02:00:00"},
		{Interval, "1 day ago", Datum{T: Interval, Iv: IntervalValue{Days: -1}}, "-1 days"},
		{Interval, "1.5 days", Datum{T: Interval, Iv: IntervalValue{Days: 1, Micros: 12 * microsPerHour}}, "1 day 12:00:00"},
		{Interval, "0", Datum{T: Interval}, "00:00:00"},
		{Interval, "-00:00:01.5", Datum{T: Interval, Iv: IntervalValue{Micros: -1500000}}, "-00:00:01.5"},
		{Interval, "30 seconds", Datum{T: Interval, Iv: IntervalValue{Micros: 30 * microsPerSecond}}, "00:00:30"},
		{Interval, "100 hours", Datum{T: Interval, Iv: IntervalValue{Micros: 100 * microsPerHour}}, "100:00:00"},
	}
	for _, tc := range tests {
		got, err := ParseText(tc.t, tc.in)
		if err != nil {
			t.Errorf("ParseText(%s, %q): %v", tc.t, tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseText(%s, %q) = %+v, want %+v", tc.t, tc.in, got, tc.want)
		}
		want := tc.out
		if want == "" {
			want = tc.in
		}
		if s := string(AppendText(nil, got)); s != want {
			t.Errorf("AppendText(%s %q) = %q, want %q", tc.t, tc.in, s, want)
		}
		// The canonical text reads back to the same value.
		back, err := ParseText(tc.t, want)
		if err != nil || back != got {
			t.Errorf("round trip of %s %q via %q: %+v, %v", tc.t, tc.in, want, back, err)
		}
		// And so does the binary form.
		bin := AppendBinary(nil, got)
		fromBin, err := ParseBinary(tc.t, bin)
		if err != nil || fromBin != got {
			t.Errorf("binary round trip of %s %q: %+v, %v", tc.t, tc.in, fromBin, err)
		}
		// The column appenders agree with ParseText/ParseBinary.
		c := NewBatch([]T{tc.t}).Cols[0]
		if err := c.AppendTextValue(0, []byte(tc.in)); err != nil || c.Datum(0) != got {
			t.Errorf("AppendTextValue(%s %q) = %+v, %v", tc.t, tc.in, c.Datum(0), err)
		}
		if err := c.AppendBinaryValue(1, bin); err != nil || c.Datum(1) != got {
			t.Errorf("AppendBinaryValue(%s %q) = %+v, %v", tc.t, tc.in, c.Datum(1), err)
		}
	}
}

func TestParseTextErrors(t *testing.T) {
	tests := []struct {
		t    T
		in   string
		code string
		msg  string
	}{
		{Int4, "abc", pgerr.InvalidTextRep, `invalid input syntax for type integer: "abc"`},
		{Int4, "", pgerr.InvalidTextRep, `invalid input syntax for type integer: ""`},
		{Int4, "1.5", pgerr.InvalidTextRep, `invalid input syntax for type integer: "1.5"`},
		{Int4, "2147483648", pgerr.NumericOutOfRange, `value "2147483648" is out of range for type integer`},
		{Int2, "40000", pgerr.NumericOutOfRange, `value "40000" is out of range for type smallint`},
		{Int8, "99999999999999999999", pgerr.NumericOutOfRange, `value "99999999999999999999" is out of range for type bigint`},
		{Bool, "maybe", pgerr.InvalidTextRep, `invalid input syntax for type boolean: "maybe"`},
		{Float8, "x1", pgerr.InvalidTextRep, `invalid input syntax for type double precision: "x1"`},
		{Float8, "1e400", pgerr.NumericOutOfRange, `"1e400" is out of range for type double precision`},
		{Float4, "1e40", pgerr.NumericOutOfRange, `"1e40" is out of range for type real`},
		{Numeric, "abc", pgerr.InvalidTextRep, `invalid input syntax for type numeric: "abc"`},
		{Timestamp, "yesterday-ish", pgerr.InvalidDatetimeFormat, `invalid input syntax for type timestamp without time zone: "yesterday-ish"`},
		{Timestamp, "2024-02-30 00:00:00", pgerr.DatetimeFieldOverflow, `date/time field value out of range: "2024-02-30 00:00:00"`},
		{TimestampTZ, "2024-01-01 25:00:00", pgerr.DatetimeFieldOverflow, `date/time field value out of range: "2024-01-01 25:00:00"`},
		{Date, "2023-02-29", pgerr.DatetimeFieldOverflow, `date/time field value out of range: "2023-02-29"`},
		{Date, "20x4-01-01", pgerr.InvalidDatetimeFormat, `invalid input syntax for type date: "20x4-01-01"`},
		{Interval, "1 fortnight", pgerr.InvalidDatetimeFormat, `invalid input syntax for type interval: "1 fortnight"`},
		{Interval, "", pgerr.InvalidDatetimeFormat, `invalid input syntax for type interval: ""`},
		{Text, "a\xffb", pgerr.CharacterNotInRepertoire, `invalid byte sequence for encoding "UTF8": 0xff 0x62`},
	}
	for _, tc := range tests {
		_, err := ParseText(tc.t, tc.in)
		e, ok := err.(*pgerr.Error)
		if !ok {
			t.Errorf("ParseText(%s, %q) error = %v (%T), want *pgerr.Error", tc.t, tc.in, err, err)
			continue
		}
		if e.Code != tc.code || e.Message != tc.msg {
			t.Errorf("ParseText(%s, %q) = %s %q, want %s %q", tc.t, tc.in, e.Code, e.Message, tc.code, tc.msg)
		}
	}
}

// Binary encodings as PostgreSQL (and pgx) write them.
func TestBinaryEncodings(t *testing.T) {
	tests := []struct {
		d   Datum
		bin []byte
	}{
		{NewBool(true), []byte{1}},
		{NewInt(Int2, -2), []byte{0xff, 0xfe}},
		{NewInt(Int4, 258), []byte{0, 0, 1, 2}},
		{NewInt(Int8, 1), []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{NewFloat(Float8, 1.5), []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}},
		{NewFloat(Float4, 1.5), []byte{0x3f, 0xc0, 0, 0}},
		{NewText("hi"), []byte("hi")},
		// 2000-01-01 00:00:01 is 1e6 micros after the PostgreSQL epoch.
		{NewInt(TimestampTZ, pgEpochMicros+1_000_000), []byte{0, 0, 0, 0, 0, 0x0f, 0x42, 0x40}},
		{NewInt(Timestamp, pgEpochMicros-1), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{NewInt(Date, pgEpochDays+1), []byte{0, 0, 0, 1}},
		{Datum{T: Interval, Iv: IntervalValue{Months: 1, Days: 2, Micros: 3}}, []byte{0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1}},
		// numeric 123.45: ndigits 2, weight 0, sign +, dscale 2, digits 123 4500.
		{NewNumeric("123.45"), []byte{0, 2, 0, 0, 0, 0, 0, 2, 0, 123, 0x11, 0x94}},
		// numeric 1.50: the display scale travels (dscale 2).
		{NewNumeric("1.50"), []byte{0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88}},
		// numeric 0: no digits.
		{NewNumeric("0"), []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		// numeric -10000: 1 digit (1), weight 1, negative.
		{NewNumeric("-10000"), []byte{0, 1, 0, 1, 0x40, 0, 0, 0, 0, 1}},
		// numeric 0.0001: 1 digit (1), weight -1, dscale 4.
		{NewNumeric("0.0001"), []byte{0, 1, 0xff, 0xff, 0, 0, 0, 4, 0, 1}},
		{NewNumeric("NaN"), []byte{0, 0, 0, 0, 0xc0, 0, 0, 0}},
		{NewNumeric("-Infinity"), []byte{0, 0, 0, 0, 0xf0, 0, 0, 0}},
	}
	for _, tc := range tests {
		got := AppendBinary(nil, tc.d)
		if !bytes.Equal(got, tc.bin) {
			t.Errorf("AppendBinary(%+v) = %x, want %x", tc.d, got, tc.bin)
		}
		back, err := ParseBinary(tc.d.T, tc.bin)
		if err != nil {
			t.Errorf("ParseBinary(%s, %x): %v", tc.d.T, tc.bin, err)
			continue
		}
		if back != tc.d {
			t.Errorf("ParseBinary(%s, %x) = %+v, want %+v", tc.d.T, tc.bin, back, tc.d)
		}
	}
	if _, err := ParseBinary(Int4, []byte{1, 2}); pgerr.Code(err) != "22P03" {
		t.Errorf("short int4: %v", err)
	}
	if _, err := ParseBinary(Text, []byte{0xc3, 0x28}); pgerr.Code(err) != pgerr.CharacterNotInRepertoire {
		t.Errorf("invalid utf8: %v", err)
	}
}

func TestCivilDays(t *testing.T) {
	for _, d := range []int64{-1000000, -719468, -1, 0, 1, 10957, 59, 60, 2932896} {
		y, m, dd := CivilFromDays(d)
		if got := DaysFromCivil(y, m, dd); got != d {
			t.Errorf("days %d -> %d-%d-%d -> %d", d, y, m, dd, got)
		}
	}
}

func TestAppendValueNoAlloc(t *testing.T) {
	b := NewBatch([]T{TimestampTZ, Int4, Text, Float8, Numeric})
	ts := []byte("2024-01-02 03:04:05.123456+00")
	n := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if n >= 512 {
			b.Reset()
			n = 0
		}
		_ = b.Cols[0].AppendTextValue(n, ts)
		_ = b.Cols[1].AppendTextValue(n, []byte("12345"))
		_ = b.Cols[2].AppendTextValue(n, []byte("eu-west"))
		_ = b.Cols[3].AppendTextValue(n, []byte("1.25"))
		_ = b.Cols[4].AppendTextValue(n, []byte("1.25"))
		n++
	})
	if allocs > 0.1 {
		t.Errorf("AppendTextValue allocates %.2f per row", allocs)
	}
}
