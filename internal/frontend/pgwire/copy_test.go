package pgwire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cairndb/cairn/internal/types"
)

var w1Epoch = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// w1Row is row i of the W1 workload shape.
func w1Row(i int) []any {
	var region any = fmt.Sprintf("region-%d", i%8)
	if i%1000 == 999 {
		region = nil
	}
	return []any{w1Epoch.Add(time.Duration(i) * time.Millisecond), int32(i % 10000), region, float64(i) / 4}
}

type w1Source struct{ i, n int }

func (s *w1Source) Next() bool             { s.i++; return s.i <= s.n }
func (s *w1Source) Values() ([]any, error) { return w1Row(s.i - 1), nil }
func (s *w1Source) Err() error             { return nil }

func checkW1(t *testing.T, b *types.Batch, n int) {
	t.Helper()
	if b == nil || b.N != n {
		t.Fatalf("copied batch has %v rows, want %d", b, n)
	}
	for i := range n {
		want := w1Row(i)
		if got := b.Cols[0].I[i]; got != want[0].(time.Time).UnixMicro() {
			t.Fatalf("row %d ts = %d", i, got)
		}
		if got := b.Cols[1].I[i]; got != int64(want[1].(int32)) {
			t.Fatalf("row %d device = %d", i, got)
		}
		if want[2] == nil {
			if !b.Cols[2].IsNull(i) {
				t.Fatalf("row %d region not NULL", i)
			}
		} else if b.Cols[2].IsNull(i) || string(b.Cols[2].StrBytes(i)) != want[2].(string) {
			t.Fatalf("row %d region = %q", i, b.Cols[2].StrBytes(i))
		}
		if got := b.Cols[3].F[i]; got != want[3].(float64) {
			t.Fatalf("row %d value = %v", i, got)
		}
	}
}

func TestCopyFromBinaryPgx(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	c := connect(t, s, pgx.QueryExecModeCacheStatement)
	const n = 100_000
	got, err := c.CopyFrom(testCtx(t), pgx.Identifier{"w1"}, []string{"ts", "device_id", "region", "value"}, &w1Source{n: n})
	if err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("CopyFrom = %d rows", got)
	}
	checkW1(t, h.takeCopied(), n)

	// Every type through binary COPY.
	row := make([]any, len(allTypesRow))
	for i, d := range allTypesRow {
		switch d.T {
		case types.Bool:
			row[i] = d.I != 0
		case types.Int2:
			row[i] = int16(d.I)
		case types.Int4:
			row[i] = int32(d.I)
		case types.Int8:
			row[i] = d.I
		case types.Float4:
			row[i] = float32(d.F)
		case types.Float8:
			row[i] = d.F
		case types.Numeric:
			var n pgtype.Numeric
			if err := n.Scan(d.S); err != nil {
				t.Fatal(err)
			}
			row[i] = n
		case types.Text:
			row[i] = d.S
		case types.Timestamp, types.TimestampTZ:
			row[i] = time.UnixMicro(d.I).UTC()
		case types.Date:
			row[i] = pgtype.Date{Time: time.Unix(d.I*86400, 0).UTC(), Valid: true}
		case types.Interval:
			row[i] = pgtype.Interval{Months: d.Iv.Months, Days: d.Iv.Days, Microseconds: d.Iv.Micros, Valid: true}
		}
	}
	nulls := make([]any, len(row))
	cols := make([]string, len(row))
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i)
	}
	if _, err := c.CopyFrom(testCtx(t), pgx.Identifier{"all"}, cols, pgx.CopyFromRows([][]any{row, nulls})); err != nil {
		t.Fatal(err)
	}
	b := h.takeCopied()
	if b.N != 2 {
		t.Fatalf("all types: %d rows", b.N)
	}
	for i, want := range allTypesRow {
		if got := b.Cols[i].Datum(0); got != want {
			t.Errorf("column %d = %+v, want %+v", i, got, want)
		}
		if !b.Cols[i].IsNull(1) {
			t.Errorf("column %d of row 2 not NULL", i)
		}
	}
}

// chunkReader returns its data a few bytes at a time, so that pgconn
// sends tiny CopyData messages and rows straddle them.
type chunkReader struct {
	s     string
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.s))
	copy(p, r.s[:n])
	r.s = r.s[n:]
	return n, nil
}

func TestCopyFromTextAndCSV(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	c := connect(t, s, pgx.QueryExecModeCacheStatement)
	pc := c.PgConn()

	const n = 2000
	var text, csv strings.Builder
	csv.WriteString("ts,device_id,region,value\n")
	for i := range n {
		r := w1Row(i)
		ts := r[0].(time.Time).Format("2006-01-02 15:04:05.999999Z07:00")
		region, cregion := `\N`, ""
		if r[2] != nil {
			region, cregion = r[2].(string), `"`+r[2].(string)+`"`
		}
		fmt.Fprintf(&text, "%s\t%d\t%s\t%v\n", ts, r[1], region, r[3])
		fmt.Fprintf(&csv, "%s,%d,%s,%v\r\n", ts, r[1], cregion, r[3])
	}
	for _, chunk := range []int{1 << 20, 7} {
		tag, err := pc.CopyFrom(testCtx(t), &chunkReader{s: text.String(), chunk: chunk}, "COPY w1 FROM STDIN")
		if err != nil || tag.RowsAffected() != n {
			t.Fatalf("text copy (chunk %d): %v %v", chunk, tag, err)
		}
		checkW1(t, h.takeCopied(), n)
		tag, err = pc.CopyFrom(testCtx(t), &chunkReader{s: csv.String(), chunk: chunk}, "COPY w1 FROM STDIN (FORMAT csv, HEADER)")
		if err != nil || tag.RowsAffected() != n {
			t.Fatalf("csv copy (chunk %d): %v %v", chunk, tag, err)
		}
		checkW1(t, h.takeCopied(), n)
	}
}

func TestCopyEscapesAndQuotes(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	pc := connect(t, s, pgx.QueryExecModeCacheStatement).PgConn()
	tests := []struct {
		query, data string
		want        []string // region column; "<NULL>" for NULL
	}{
		{"COPY w1 FROM STDIN", "2024-01-01\t1\ta\\tb\\\\c\\nd\\x41\\101\t1\n2024-01-01\t2\t\\N\t2\n\\.\nignored garbage\n", []string{"a\tb\\c\ndAA", "<NULL>"}},
		{"COPY w1 FROM STDIN DELIMITER '|'", "2024-01-01|1|x\\|y|1", []string{"x|y"}},
		{"COPY w1 FROM STDIN CSV", "2024-01-01,1,\"a,\"\"b\"\"\nc\",1\n2024-01-01,2,,2\n2024-01-01,3,\"\",3\n", []string{"a,\"b\"\nc", "<NULL>", ""}},
		{"COPY w1 FROM STDIN CSV", "2024-01-01,1,\"é\",1\n\\.\n", []string{"é"}},
	}
	for _, tc := range tests {
		tag, err := pc.CopyFrom(testCtx(t), strings.NewReader(tc.data), tc.query)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		b := h.takeCopied()
		if tag.RowsAffected() != int64(len(tc.want)) || b.N != len(tc.want) {
			t.Errorf("%s: tag %v, %d rows", tc.query, tag, b.N)
			continue
		}
		for i, w := range tc.want {
			got := string(b.Cols[2].StrBytes(i))
			if b.Cols[2].IsNull(i) {
				got = "<NULL>"
			}
			if got != w {
				t.Errorf("%s: row %d region = %q, want %q", tc.query, i, got, w)
			}
		}
	}
}

func TestCopyErrors(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	c := connect(t, s, pgx.QueryExecModeCacheStatement)
	pc := c.PgConn()
	tests := []struct {
		query, data, code, msg string
	}{
		{"COPY w1 FROM STDIN", "2024-01-01\t1\ta\t1\n2024-01-01\tabc\ta\t1\n2024-01-01\t3\ta\t1\n", "22P02",
			`invalid input syntax for type integer: "abc" (COPY w1, line 2, column 2)`},
		{"COPY w1 FROM STDIN", "2024-01-01\t1\ta\n", "22P04", "missing data for column 4 (COPY w1, line 1)"},
		{"COPY w1 FROM STDIN", "2024-01-01\t1\ta\t1\t5\n", "22P04", "extra data after last expected column (COPY w1, line 1)"},
		{"COPY w1 FROM STDIN", "2024-01-01\t1\ta\xff\t1\n", "22021", `invalid byte sequence for encoding "UTF8": 0xff (COPY w1, line 1, column 3)`},
		{"COPY w1 FROM STDIN CSV", "2024-01-01,1,\"open,1\n", "22P04", "unterminated CSV quoted field (COPY w1, line 1)"},
		{"COPY w1 FROM STDIN CSV", "2024-13-01,1,a,1\n", "22008", `date/time field value out of range: "2024-13-01" (COPY w1, line 1, column 1)`},
		{"COPY w1 FROM STDIN BINARY", "not a copy file at all", "22P04", "COPY file signature not recognized"},
		{"COPY nosuch FROM STDIN", "", "42P01", `stream "nosuch" does not exist`},
	}
	for _, tc := range tests {
		_, err := pc.CopyFrom(testCtx(t), strings.NewReader(tc.data), tc.query)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != tc.code || pgErr.Message != tc.msg {
			t.Errorf("%s %q: err = %v, want %s %s", tc.query, tc.data, err, tc.code, tc.msg)
		}
		h.takeCopied()
		// The connection stays in step.
		var v int32
		if err := c.QueryRow(testCtx(t), "SELECT 9").Scan(&v); err != nil || v != 9 {
			t.Fatalf("after %q: %v %v", tc.data, v, err)
		}
	}

	// A client-side failure (CopyFail) fails the statement with 57014.
	_, err := pc.CopyFrom(testCtx(t), &failingReader{data: "2024-01-01\t1\ta\t1\n"}, "COPY w1 FROM STDIN")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" || !strings.Contains(pgErr.Message, "COPY from stdin failed") {
		t.Errorf("CopyFail: %v", err)
	}
	// Binary copy with a wrong field count.
	bin := append([]byte("PGCOPY\n\xff\r\n\x00"), 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1)
	_, err = pc.CopyFrom(testCtx(t), strings.NewReader(string(bin)), "COPY w1 FROM STDIN BINARY")
	if !errors.As(err, &pgErr) || pgErr.Code != "22P04" || pgErr.Message != "row field count is 1, expected 4 (COPY w1, line 1)" {
		t.Errorf("binary field count: %v", err)
	}
	// Binary copy cut short.
	bin = append([]byte("PGCOPY\n\xff\r\n\x00"), 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 8)
	_, err = pc.CopyFrom(testCtx(t), strings.NewReader(string(bin)), "COPY w1 FROM STDIN BINARY")
	if !errors.As(err, &pgErr) || pgErr.Code != "22P04" {
		t.Errorf("short binary copy: %v", err)
	}
	var v int32
	if err := c.QueryRow(testCtx(t), "SELECT 10").Scan(&v); err != nil || v != 10 {
		t.Fatalf("after binary errors: %v %v", v, err)
	}
}

type failingReader struct{ data string }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, errors.New("client gave up")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// w1BinaryCopy encodes rows [0, n) of W1 in binary COPY format, as pgx
// does; trailer adds the end-of-data marker.
func w1BinaryCopy(n int, trailer bool) []byte {
	data := []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	for i := range n {
		r := w1Row(i)
		data = append(data, 0, 4)
		data = append(data, 0, 0, 0, 8)
		data = types.AppendBinary(data, types.NewInt(types.TimestampTZ, r[0].(time.Time).UnixMicro()))
		data = append(data, 0, 0, 0, 4)
		data = types.AppendBinary(data, types.NewInt(types.Int4, int64(r[1].(int32))))
		if r[2] == nil {
			data = append(data, 0xff, 0xff, 0xff, 0xff)
		} else {
			s := r[2].(string)
			data = append(data, 0, 0, 0, byte(len(s)))
			data = append(data, s...)
		}
		data = append(data, 0, 0, 0, 8)
		data = types.AppendBinary(data, types.NewFloat(types.Float8, r[3].(float64)))
	}
	if trailer {
		data = append(data, 0xff, 0xff)
	}
	return data
}

// BenchmarkCopyFromBinary measures the server's binary COPY throughput
// (W1 rows, rows/s): the client sends pre-encoded COPY data through
// pgconn so that the client's own encoding cost is not measured.
func BenchmarkCopyFromBinary(b *testing.B) {
	h := newFakeHandler()
	h.discardCopy = true
	s := startServer(b, h, Config{})
	pc := connect(b, s, pgx.QueryExecModeCacheStatement).PgConn()
	const n = 100_000
	data := w1BinaryCopy(n, true)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		tag, err := pc.CopyFrom(testCtx(b), bytes.NewReader(data), "COPY w1 FROM STDIN BINARY")
		if err != nil || tag.RowsAffected() != n {
			b.Fatal(tag, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCopyFromPgx is the end to end figure with pgx's CopyFrom,
// whose client-side encoding (in the same process) dominates.
func BenchmarkCopyFromPgx(b *testing.B) {
	h := newFakeHandler()
	h.discardCopy = true
	s := startServer(b, h, Config{})
	c := connect(b, s, pgx.QueryExecModeCacheStatement)
	const n = 100_000
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = w1Row(i)
	}
	b.ResetTimer()
	for range b.N {
		got, err := c.CopyFrom(testCtx(b), pgx.Identifier{"w1"}, []string{"ts", "device_id", "region", "value"}, pgx.CopyFromRows(rows))
		if err != nil || got != n {
			b.Fatal(got, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCopyDecodeBinary measures the server-side decoder alone: W1
// rows in binary COPY format decoded into a batch.
func BenchmarkCopyDecodeBinary(b *testing.B) {
	const n = 1000
	data := w1BinaryCopy(n, false)
	batch := types.NewBatch(copyTables["w1"])
	cp := &copyIn{opts: CopyOptions{Format: CopyBinary}, cols: copyTables["w1"], table: "w1"}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cp.cur, cp.headerDone, cp.finished = data, false, false
		batch.Reset()
		for {
			ok, err := cp.binaryRow(batch)
			if err != nil {
				b.Fatal(err)
			}
			if !ok {
				break
			}
		}
		if batch.N != n {
			b.Fatalf("decoded %d rows", batch.N)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// The text, csv and binary decoders allocate nothing per row once the
// batch has grown to size.
func TestCopyDecodeNoAlloc(t *testing.T) {
	const n = 500
	var text, csv strings.Builder
	for i := range n {
		r := w1Row(i)
		ts := r[0].(time.Time).Format("2006-01-02 15:04:05.999999Z07:00")
		region := `\N`
		if r[2] != nil {
			region = r[2].(string)
		}
		fmt.Fprintf(&text, "%s\t%d\t%s\\t\t%v\n", ts, r[1], region, r[3])
		fmt.Fprintf(&csv, "%s,%d,\"%s\"\"\",%v\n", ts, r[1], region, r[3])
	}
	for _, tc := range []struct {
		name string
		f    CopyFormat
		data []byte
	}{
		{"text", CopyText, []byte(text.String())},
		{"csv", CopyCSV, []byte(csv.String())},
		{"binary", CopyBinary, w1BinaryCopy(n, false)},
	} {
		batch := types.NewBatch(copyTables["w1"])
		cp := &copyIn{opts: CopyOptions{Format: tc.f, Delimiter: map[CopyFormat]byte{CopyText: '\t', CopyCSV: ','}[tc.f], Null: `\N`, Quote: '"', Escape: '"'}, cols: copyTables["w1"], table: "w1"}
		if tc.f == CopyCSV {
			cp.opts.Null = ""
		}
		run := func() {
			cp.cur, cp.headerDone, cp.finished, cp.eof = tc.data, tc.f != CopyBinary, false, true
			batch.Reset()
			for {
				var ok bool
				var err error
				switch tc.f {
				case CopyText:
					ok, err = cp.textRow(batch)
				case CopyCSV:
					ok, err = cp.csvRow(batch)
				default:
					ok, err = cp.binaryRow(batch)
				}
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if !ok {
					break
				}
			}
			if batch.N != n {
				t.Fatalf("%s: decoded %d rows", tc.name, batch.N)
			}
		}
		run()
		if allocs := testing.AllocsPerRun(5, run); allocs > 0 {
			t.Errorf("%s: %.1f allocations per %d rows", tc.name, allocs, n)
		}
	}
}

// A row that never ends is refused once it exceeds MaxMessageSize.
func TestCopyRowTooLong(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{MaxMessageSize: 4096})
	c := connect(t, s, pgx.QueryExecModeCacheStatement)
	_, err := c.PgConn().CopyFrom(testCtx(t), &chunkReader{s: strings.Repeat("x", 20000), chunk: 1000}, "COPY w1 FROM STDIN")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "54000" {
		t.Errorf("long row: %v", err)
	}
	var v int32
	if err := c.QueryRow(testCtx(t), "SELECT 1").Scan(&v); err != nil || v != 1 {
		t.Errorf("after long row: %v %v", v, err)
	}
}
