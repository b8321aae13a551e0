package types

import (
	"encoding/binary"
	"testing"
)

func TestBatchSliceEncodeRoundTrip(t *testing.T) {
	b := NewBatch([]T{Int8, Text, Float8, Interval, Bool})
	for i := 0; i < 10; i++ {
		row := []Datum{NewInt(Int8, int64(i)), NewText(string(rune('a' + i))), NewFloat(Float8, float64(i)/2), {T: Interval, Iv: IntervalValue{Days: int32(i)}}, NewBool(i%2 == 0)}
		if i == 3 {
			row[1] = NullOf(Text)
		}
		b.AppendRow(row)
	}
	s := b.Slice(2, 7)
	if s.N != 5 {
		t.Fatalf("slice has %d rows", s.N)
	}
	for r := 0; r < s.N; r++ {
		for c := range s.Cols {
			got, want := s.Cols[c].Datum(r), b.Cols[c].Datum(r+2)
			if got != want {
				t.Fatalf("row %d col %d: %+v, want %+v", r, c, got, want)
			}
		}
	}
	var d Batch
	if err := Decode(AppendEncoded(nil, s), &d); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < s.N; r++ {
		for c := range s.Cols {
			if got, want := d.Cols[c].Datum(r), s.Cols[c].Datum(r); got != want {
				t.Fatalf("decoded row %d col %d: %+v, want %+v", r, c, got, want)
			}
		}
	}
	if err := Decode([]byte{1, 5, 1, 99}, &d); err == nil {
		t.Fatal("corrupt batch decoded")
	}
}

// TestDecodeHugeTextLength: a text column whose byte length is near 2^64
// is an error, not a panic (the bounds check once overflowed).
func TestDecodeHugeTextLength(t *testing.T) {
	buf := []byte{batchVersion, 1, 1, byte(Text), 0}
	buf = binary.AppendUvarint(buf, ^uint64(0)-2)
	buf = append(buf, 0, 0, 0, 0, 'x')
	var d Batch
	if err := Decode(buf, &d); err == nil {
		t.Fatal("huge text length decoded")
	}
}

// FuzzDecode: arbitrary bytes decode to a batch or an error, never a
// panic; what decodes re-encodes to the same bytes' meaning.
func FuzzDecode(f *testing.F) {
	b := NewBatch([]T{Int8, Text, Float8, Interval, Bool})
	b.AppendRow([]Datum{NewInt(Int8, 1), NewText("ab"), NewFloat(Float8, 0.5), {T: Interval, Iv: IntervalValue{Days: 2}}, NullOf(Bool)})
	f.Add(AppendEncoded(nil, b))
	f.Fuzz(func(t *testing.T, buf []byte) {
		var d Batch
		if Decode(buf, &d) != nil {
			return
		}
		var again Batch
		if err := Decode(AppendEncoded(nil, &d), &again); err != nil || again.N != d.N {
			t.Fatalf("re-encoded batch: %v (%d rows, want %d)", err, again.N, d.N)
		}
	})
}
