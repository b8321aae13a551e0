package types

import (
	"bytes"
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

func TestParseNumericErrors(t *testing.T) {
	for _, in := range []string{"", " ", "abc", "1.2.3", "1e", "1e+", "--1", "+-1", "1 2", "0x10", "1_000", "-NaN", ".", "e5", "1e1001", "1e-1001", "Infinityx"} {
		if v, err := ParseNumeric(in); err == nil {
			t.Errorf("ParseNumeric(%q) = %q, want an error", in, v)
		}
	}
	// Beyond the range of numeric: 22003.
	if _, err := ParseNumeric("1" + strings.Repeat("0", NumericMaxIntDigits)); err == nil {
		t.Error("a 131073-digit integer parsed")
	}
}

// randNumeric returns canonical numeric text: mixed signs, scales and
// magnitudes, zeros of several scales, now and then a special value.
func randNumeric(r *rand.Rand) string {
	switch r.Intn(30) {
	case 0:
		return "NaN"
	case 1:
		return "Infinity"
	case 2:
		return "-Infinity"
	case 3:
		v, _ := ParseNumeric("0." + strings.Repeat("0", r.Intn(4)))
		return v
	}
	var sb strings.Builder
	if r.Intn(2) == 0 {
		sb.WriteByte('-')
	}
	nd := 1 + r.Intn(40)
	for i := 0; i < nd; i++ {
		sb.WriteByte(byte('0' + r.Intn(10)))
	}
	sb.WriteString("e" + strconv.Itoa(r.Intn(60)-30))
	v, err := ParseNumeric(sb.String())
	if err != nil {
		panic(err)
	}
	return v
}

func cmpDecimalText(t *testing.T, a, b string) int {
	t.Helper()
	rank := func(s string) int {
		switch s {
		case "-Infinity":
			return 0
		case "Infinity":
			return 2
		case "NaN":
			return 3
		}
		return 1
	}
	ra, rb := rank(a), rank(b)
	if ra != rb || ra != 1 {
		return ra - rb
	}
	var x, y apd.Decimal
	if err := NumericDecimal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := NumericDecimal(b, &y); err != nil {
		t.Fatal(err)
	}
	return x.Cmp(&y)
}

// TestNumericKeyOrder: the key encoding orders values as numeric
// comparison does, equal values (of any scale) encode alike, and keys
// decode to the same value.
func TestNumericKeyOrder(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	vals := []string{"0", "0.00", "1", "1.0", "1.00", "-1", "-1.000", "10", "9.99", "0.1", "0.10", "-0.1", "100", "1e52"}
	for i := 0; i < 2000; i++ {
		vals = append(vals, randNumeric(r))
	}
	for i := range vals {
		if v, err := ParseNumeric(vals[i]); err == nil {
			vals[i] = v
		}
	}
	keys := make([][]byte, len(vals))
	for i, v := range vals {
		keys[i] = AppendNumericKey(nil, v)
		back, rest, err := DecodeNumericKey(append(keys[i], 0xAB))
		if err != nil || len(rest) != 1 || rest[0] != 0xAB {
			t.Fatalf("decode key of %q: %q, %x, %v", v, back, rest, err)
		}
		if cmpDecimalText(t, back, v) != 0 {
			t.Fatalf("key of %q decodes to %q", v, back)
		}
	}
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return bytes.Compare(keys[idx[a]], keys[idx[b]]) < 0 })
	for k := 1; k < len(idx); k++ {
		a, b := vals[idx[k-1]], vals[idx[k]]
		c := bytes.Compare(keys[idx[k-1]], keys[idx[k]])
		if want := cmpDecimalText(t, a, b); (c == 0) != (want == 0) || want > 0 {
			t.Fatalf("keys order %q (%x) before %q (%x), values compare %d", a, keys[idx[k-1]], b, keys[idx[k]], want)
		}
	}
}

// TestNumericRoundTrip: canonical text survives the decimal, the text
// parser, the binary wire form and a batch column, for random values.
func TestNumericRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	b := NewBatch([]T{Numeric})
	for i := 0; i < 3000; i++ {
		v := randNumeric(r)
		var d apd.Decimal
		if err := NumericDecimal(v, &d); err != nil {
			t.Fatalf("NumericDecimal(%q): %v", v, err)
		}
		if got := string(AppendDecimal(nil, &d)); got != v {
			t.Fatalf("decimal of %q prints %q", v, got)
		}
		if got, err := ParseNumeric(v); err != nil || got != v {
			t.Fatalf("ParseNumeric(%q) = %q, %v", v, got, err)
		}
		bin := AppendNumericBinary(nil, v)
		if got, err := ParseBinary(Numeric, bin); err != nil || got.S != v {
			t.Fatalf("binary of %q (%x) reads %q, %v", v, bin, got.S, err)
		}
		b.AppendRow([]Datum{NewNumeric(v)})
	}
	enc := AppendEncoded(nil, b)
	var back Batch
	if err := Decode(enc, &back); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if back.Cols[0].Datum(i) != b.Cols[0].Datum(i) {
			t.Fatalf("row %d: %+v, want %+v", i, back.Cols[0].Datum(i), b.Cols[0].Datum(i))
		}
	}
}

// TestDecodeBatchV1Numeric: batches written before numeric was exact
// (version 1, numeric as float64) still decode, as numeric text.
func TestDecodeBatchV1Numeric(t *testing.T) {
	buf := []byte{batchVersionV1, 2, 1, byte(Numeric), 0}
	for _, f := range []float64{1.5, -0.25} {
		var w [8]byte
		for k := 0; k < 8; k++ {
			w[k] = byte(math.Float64bits(f) >> (8 * k))
		}
		buf = append(buf, w[:]...)
	}
	var b Batch
	if err := Decode(buf, &b); err != nil {
		t.Fatal(err)
	}
	if got := []string{b.Cols[0].Datum(0).S, b.Cols[0].Datum(1).S}; got[0] != "1.5" || got[1] != "-0.25" {
		t.Fatalf("v1 numeric decoded as %q", got)
	}
}

func TestNumericNormalized(t *testing.T) {
	for in, want := range map[string]string{"1.500": "1.5", "2.000": "2", "0.00": "0", "-0.10": "-0.1", "100": "100", "NaN": "NaN"} {
		if got := NumericNormalized(in); got != want {
			t.Errorf("NumericNormalized(%q) = %q, want %q", in, got, want)
		}
	}
}
