package httpapi

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cairndb/cairn/internal/types"
)

var w1Cols = []Column{
	{"ts", types.TimestampTZ}, {"device_id", types.Int4},
	{"region", types.Text}, {"value", types.Float8},
}

// w1Body returns n W1-shaped NDJSON lines.
func w1Body(n int) []byte {
	var buf bytes.Buffer
	regions := []string{"eu-west", "eu-north", "us-east", "us-west", "ap-south", "ap-east", "sa-east", "af-south"}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, `{"ts": %d.%06d, "device_id": %d, "region": %q, "value": %d.%03d}`+"\n",
			1700000000+i/1000, i%1000*1000, i*7919%10000, regions[i%8], i%997, i%1000)
	}
	return buf.Bytes()
}

// Decoding a row of numbers and text must not allocate once the batch's
// slices have grown: the hot path is per event.
func TestDecodeLineNoAlloc(t *testing.T) {
	lines := bytes.Split(w1Body(64), []byte("\n"))[:64]
	d := newDecoder("w1", w1Cols)
	i := 0
	decode := func() {
		if d.batch.N == 1<<14 {
			d.batch.Reset()
		}
		if err := d.decodeLine(lines[i%len(lines)]); err != nil {
			t.Fatal(err)
		}
		i++
	}
	for range 1 << 15 { // grow the batch to full capacity first
		decode()
	}
	if a := testing.AllocsPerRun(1000, decode); a > 0 {
		t.Errorf("decodeLine allocates %.1f times per row", a)
	}
}

func TestDecodeSurrogates(t *testing.T) {
	d := newDecoder("w1", w1Cols)
	if err := d.decodeLine([]byte(`{"region": "\ud83d\ude00 \ud83d x"}`)); err != nil {
		t.Fatal(err)
	}
	if got := string(d.batch.Cols[2].StrBytes(0)); got != "😀 \uFFFD x" {
		t.Errorf("got %q", got)
	}
}

// BenchmarkDecode reports rows/s for W1-shaped lines, the whole-body path
// (reader, line split, decode).
func BenchmarkDecode(b *testing.B) {
	const rows = 10000
	body := w1Body(rows)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		d := newDecoder("w1", w1Cols)
		if err := d.readAll(bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
		if d.batch.N != rows {
			b.Fatalf("decoded %d rows", d.batch.N)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestDecodeJSONAndNumeric: a json/jsonb column takes any JSON value as
// its document (jsonb normalized), null is SQL NULL, and a numeric column
// keeps a JSON number's digits exactly.
func TestDecodeJSONAndNumeric(t *testing.T) {
	cols := []Column{{"doc", types.Jsonb}, {"raw", types.Json}, {"amt", types.Numeric}}
	d := newDecoder("docs", cols)
	lines := []string{
		`{"doc": {"b": [1, {"x": "}"}], "a": "q\"}"}, "raw": [1,  2], "amt": 10000000000000000000000000000000000000000000000000000.2003}`,
		`{"doc": "s", "raw": 1.50, "amt": 1.50}`,
		`{"doc": null, "raw": true, "amt": null}`,
	}
	for _, l := range lines {
		if err := d.decodeLine([]byte(l)); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	want := [][]string{
		{`{"a": "q\"}", "b": [1, {"x": "}"}]}`, `"s"`, "NULL"},
		{`[1,  2]`, `1.50`, `true`},
		{"10000000000000000000000000000000000000000000000000000.2003", "1.50", "NULL"},
	}
	for c, ws := range want {
		for r, w := range ws {
			got := "NULL"
			if !d.batch.Cols[c].IsNull(r) {
				got = string(d.batch.Cols[c].StrBytes(r))
			}
			if got != w {
				t.Errorf("column %s row %d = %s, want %s", cols[c].Name, r, got, w)
			}
		}
	}
	if err := d.decodeLine([]byte(`{"doc": {"a": tru}}`)); err == nil {
		t.Error("bad json accepted into a jsonb column")
	}
}
