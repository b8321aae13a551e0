package httpapi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// Column is one column of a stream as the ingest endpoint needs it.
type Column struct {
	Name string
	T    types.T
}

// decodeError is a bad input line. Line is 1-based (0: not tied to a line).
type decodeError struct {
	Line int
	Err  *pgerr.Error
}

func (e *decodeError) Error() string { return e.Err.Message }

// decoder turns NDJSON lines — one flat JSON object per line, mapping
// column names to values — into rows of a columnar batch. It is a small
// hand-written scanner rather than encoding/json so that a row costs no
// map, no interface boxing and, for numbers, booleans and text, no
// allocation at all.
type decoder struct {
	stream string
	cols   []Column
	index  map[string]int // column name → position
	batch  *types.Batch
	// seen[j] is true once the current row has a value for column j.
	seen []bool
	// scratch holds the unescaped bytes of the string being decoded.
	scratch []byte
	// line is the current 1-based line number, for errors.
	line int
}

func newDecoder(stream string, cols []Column) *decoder {
	d := &decoder{
		stream: stream,
		cols:   cols,
		index:  make(map[string]int, len(cols)),
		seen:   make([]bool, len(cols)),
	}
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		d.index[c.Name] = i
		ts[i] = c.T
	}
	d.batch = types.NewBatch(ts)
	return d
}

// readAll decodes every line of r into d.batch. A read error from an
// http.MaxBytesReader comes back as a 54000 error.
func (d *decoder) readAll(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // a line longer than the bufio buffer, reassembled
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
		}
		// A read error comes first: the partial line before it is cut off,
		// and decoding it would report a misleading syntax error.
		if err != nil && err != io.EOF {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return &decodeError{Err: pgerr.BodyOverLimit.New(mbe.Limit)}
			}
			return &decodeError{Err: pgerr.IngestBodyReadFailed.New(err)}
		}
		if len(line) > 0 {
			d.line++
			if perr := d.decodeLine(line); perr != nil {
				return perr
			}
		}
		long = nil
		if err == io.EOF {
			return nil
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// fail builds a decodeError for the current line.
func (d *decoder) fail(code, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &decodeError{Line: d.line, Err: pgerr.New(code, "line %d: %s", d.line, msg)}
}

// failCol builds a decodeError about column j's value on the current line.
func (d *decoder) failCol(j int, code, format string, args ...any) error {
	return d.fail(code, "column %q: %s", d.cols[j].Name, fmt.Sprintf(format, args...))
}

// decodeLine appends the row in p (which may end in "\n"); a line of only
// whitespace is skipped. On error the batch is left with a partial row,
// which is fine: the whole request is rejected.
func (d *decoder) decodeLine(p []byte) error {
	i := 0
	for i < len(p) && isSpace(p[i]) {
		i++
	}
	if i == len(p) {
		return nil
	}
	if p[i] != '{' {
		return d.fail(pgerr.InvalidTextRep, "expected a JSON object, found %s", describe(p, i))
	}
	i++
	clear(d.seen)
	n := d.batch.N
	first := true
	for {
		for i < len(p) && isSpace(p[i]) {
			i++
		}
		if i < len(p) && p[i] == '}' && first {
			i++
			break
		}
		if i >= len(p) || p[i] != '"' {
			return d.fail(pgerr.InvalidTextRep, "invalid JSON: expected a column name at byte %d, found %s", i+1, describe(p, i))
		}
		var err error
		d.scratch, i, err = d.readString(p, i+1, d.scratch[:0])
		if err != nil {
			return err
		}
		j, ok := d.index[string(d.scratch)] // no allocation: map lookup by []byte
		if !ok {
			return d.fail(pgerr.UndefinedColumn, "column %q of stream %q does not exist", string(d.scratch), d.stream)
		}
		if d.seen[j] {
			return d.fail(pgerr.DuplicateColumn, "column %q specified more than once", d.cols[j].Name)
		}
		d.seen[j] = true
		for i < len(p) && isSpace(p[i]) {
			i++
		}
		if i >= len(p) || p[i] != ':' {
			return d.fail(pgerr.InvalidTextRep, "invalid JSON: expected ':' at byte %d, found %s", i+1, describe(p, i))
		}
		i++
		for i < len(p) && isSpace(p[i]) {
			i++
		}
		if i, err = d.readValue(p, i, j, n); err != nil {
			return err
		}
		first = false
		for i < len(p) && isSpace(p[i]) {
			i++
		}
		if i < len(p) && p[i] == ',' {
			i++
			continue
		}
		if i < len(p) && p[i] == '}' {
			i++
			break
		}
		return d.fail(pgerr.InvalidTextRep, "invalid JSON: expected ',' or '}' at byte %d, found %s", i+1, describe(p, i))
	}
	for ; i < len(p); i++ {
		if !isSpace(p[i]) {
			return d.fail(pgerr.InvalidTextRep, "invalid JSON: unexpected %s after the object (one object per line)", describe(p, i))
		}
	}
	for j, ok := range d.seen {
		if !ok {
			d.batch.Cols[j].AppendNull(n)
		}
	}
	d.batch.N++
	return nil
}

// describe names what is at p[i] for an error message.
func describe(p []byte, i int) string {
	if i >= len(p) || p[i] == '\n' {
		return "end of line"
	}
	r, _ := utf8.DecodeRune(p[i:])
	return strconv.QuoteRune(r)
}

// readString decodes the JSON string whose opening quote is at p[i-1],
// appending its bytes to dst; it returns the index after the closing quote.
func (d *decoder) readString(p []byte, i int, dst []byte) ([]byte, int, error) {
	for {
		// Copy the run of plain bytes in one append.
		start := i
		for i < len(p) && p[i] != '"' && p[i] != '\\' && p[i] >= 0x20 {
			i++
		}
		dst = append(dst, p[start:i]...)
		if i >= len(p) {
			return dst, i, d.fail(pgerr.InvalidTextRep, "invalid JSON: unterminated string")
		}
		switch c := p[i]; {
		case c == '"':
			return dst, i + 1, nil
		case c < 0x20:
			return dst, i, d.fail(pgerr.InvalidTextRep, "invalid JSON: control character in string at byte %d", i+1)
		}
		// A backslash escape.
		if i+1 >= len(p) {
			return dst, i, d.fail(pgerr.InvalidTextRep, "invalid JSON: unterminated string")
		}
		e := p[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(p, i)
			if !ok {
				return dst, i, d.fail(pgerr.InvalidTextRep, "invalid JSON: bad \\u escape at byte %d", i-1)
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A surrogate pair is two \u escapes; a lone half is U+FFFD
				// like encoding/json does.
				if r2, ok := hex4(p, i+2); ok && i+1 < len(p) && p[i] == '\\' && p[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, i, d.fail(pgerr.InvalidTextRep, "invalid JSON: bad escape \\%c", e)
		}
	}
}

func hex4(p []byte, i int) (rune, bool) {
	if i+4 > len(p) {
		return 0, false
	}
	var r rune
	for _, c := range p[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// hasPrefix reports whether p[i:] starts with lit.
func hasPrefix(p []byte, i int, lit string) bool {
	return len(p)-i >= len(lit) && string(p[i:i+len(lit)]) == lit
}

// readValue decodes the JSON value at p[i] into column j as row n and
// returns the index after it.
func (d *decoder) readValue(p []byte, i, j, n int) (int, error) {
	col := &d.batch.Cols[j]
	if i >= len(p) {
		return i, d.failCol(j, pgerr.InvalidTextRep, "invalid JSON: missing value")
	}
	if col.T.IsJSON() && !hasPrefix(p, i, "null") {
		// A json/jsonb column takes the value itself as its document.
		end, ok := jsonValueEnd(p, i)
		if !ok {
			return i, d.failCol(j, pgerr.InvalidTextRep, "invalid JSON: unexpected %s", describe(p, i))
		}
		v, err := types.ParseJSONText(col.T, string(p[i:end]))
		if err != nil {
			e := pgerr.From(err)
			return i, d.failCol(j, e.Code, "%s", e.Message)
		}
		col.AppendString(n, v)
		return end, nil
	}
	switch c := p[i]; {
	case c == '"':
		var err error
		d.scratch, i, err = d.readString(p, i+1, d.scratch[:0])
		if err != nil {
			return i, err
		}
		return i, d.appendString(j, n, d.scratch)
	case c == 'n' && hasPrefix(p, i, "null"):
		col.AppendNull(n)
		return i + 4, nil
	case c == 't' && hasPrefix(p, i, "true"):
		return i + 4, d.appendBool(j, n, true)
	case c == 'f' && hasPrefix(p, i, "false"):
		return i + 5, d.appendBool(j, n, false)
	case c == '-' || (c >= '0' && c <= '9'):
		end, isInt, ok := scanNumber(p, i)
		if !ok {
			return i, d.failCol(j, pgerr.InvalidTextRep, "invalid JSON number %q", p[i:end])
		}
		return end, d.appendNumber(j, n, p[i:end], isInt)
	case c == '{' || c == '[':
		return i, d.failCol(j, pgerr.DatatypeMismatch, "nested JSON objects and arrays are not supported; send a %s", d.cols[j].T)
	}
	return i, d.failCol(j, pgerr.InvalidTextRep, "invalid JSON: unexpected %s", describe(p, i))
}

// scanNumber checks the JSON number grammar at p[i:] and returns its end
// and whether it is a plain integer (no fraction or exponent).
func scanNumber(p []byte, i int) (end int, isInt, ok bool) {
	digits := func() int {
		s := i
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		return i - s
	}
	if p[i] == '-' {
		i++
	}
	intStart := i
	if digits() == 0 || (p[intStart] == '0' && i-intStart > 1) {
		return i, false, false
	}
	isInt = true
	if i < len(p) && p[i] == '.' {
		i++
		isInt = false
		if digits() == 0 {
			return i, false, false
		}
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		isInt = false
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false, false
		}
	}
	// A number runs into the next delimiter; "12abc" is not a number.
	if i < len(p) && !isSpace(p[i]) && p[i] != ',' && p[i] != '}' {
		for i < len(p) && !isSpace(p[i]) && p[i] != ',' && p[i] != '}' {
			i++
		}
		return i, false, false
	}
	return i, isInt, true
}

// intRange returns the bounds of an integer type.
func intRange(t types.T) (int64, int64) {
	switch t {
	case types.Int2:
		return math.MinInt16, math.MaxInt16
	case types.Int4:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// appendNumber stores a JSON number into column j.
//
// Integer columns take integer literals, and also integral floats such as
// 5.0 or 1e3 because many JSON encoders write those. Timestamp columns
// take seconds since the Unix epoch (fractions allowed), like
// to_timestamp(). Text columns take the number's literal text. Other types
// get the literal through types.ParseText, as if it had been quoted.
func (d *decoder) appendNumber(j, n int, raw []byte, isInt bool) error {
	col := &d.batch.Cols[j]
	t := col.T
	switch {
	case t.IsInt():
		lo, hi := intRange(t)
		if isInt {
			v, ok := parseInt(raw)
			if !ok || v < lo || v > hi {
				return d.failCol(j, pgerr.NumericOutOfRange, "value %q is out of range for type %s", raw, t)
			}
			col.AppendInt(n, v)
			return nil
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f != math.Trunc(f) {
			return d.failCol(j, pgerr.InvalidTextRep, "invalid input syntax for type %s: %q", t, raw)
		}
		if f < float64(lo) || f >= -float64(lo) || f > float64(hi) {
			return d.failCol(j, pgerr.NumericOutOfRange, "value %q is out of range for type %s", raw, t)
		}
		col.AppendInt(n, int64(f))
		return nil
	case t.IsFloat():
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || (t == types.Float4 && math.Abs(f) > math.MaxFloat32) {
			return d.failCol(j, pgerr.NumericOutOfRange, "value %q is out of range for type %s", raw, t)
		}
		col.AppendFloat(n, f)
		return nil
	case t.IsTime():
		f, err := strconv.ParseFloat(string(raw), 64)
		us := math.Round(f * 1e6)
		if err != nil || us < math.MinInt64 || us >= math.MaxInt64 {
			return d.failCol(j, pgerr.DatetimeFieldOverflow, "timestamp out of range: %q", raw)
		}
		col.AppendInt(n, int64(us))
		return nil
	case t == types.Text:
		col.AppendBytes(n, raw)
		return nil
	}
	return d.appendParsed(j, n, string(raw))
}

// parseInt parses an optionally negative decimal integer without
// converting to string; ok is false on overflow.
func parseInt(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var u uint64
	for _, c := range b {
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// appendBool stores a JSON boolean into column j.
func (d *decoder) appendBool(j, n int, v bool) error {
	col := &d.batch.Cols[j]
	switch col.T {
	case types.Bool:
		var i int64
		if v {
			i = 1
		}
		col.AppendInt(n, i)
		return nil
	case types.Text:
		col.AppendString(n, strconv.FormatBool(v))
		return nil
	}
	return d.appendParsed(j, n, strconv.FormatBool(v))
}

// appendString stores a JSON string into column j: text as is, anything
// else parsed from its PostgreSQL text form.
func (d *decoder) appendString(j, n int, s []byte) error {
	col := &d.batch.Cols[j]
	if col.T == types.Text {
		// Plain ASCII without NUL, the common case, needs no further check.
		for _, c := range s {
			if c == 0 || c >= utf8.RuneSelf {
				if err := types.CheckUTF8(string(s)); err != nil {
					return d.failCol(j, pgerr.Code(err), "%s", pgerr.From(err).Message)
				}
				break
			}
		}
		col.AppendBytes(n, s)
		return nil
	}
	return d.appendParsed(j, n, string(s))
}

// appendParsed parses s as the PostgreSQL text form of column j's type.
func (d *decoder) appendParsed(j, n int, s string) error {
	col := &d.batch.Cols[j]
	v, err := types.ParseText(col.T, s)
	if err != nil {
		e := pgerr.From(err)
		code := e.Code
		if code == pgerr.InternalError {
			code = pgerr.InvalidTextRep // a parse failure is bad input, whatever its type
		}
		return d.failCol(j, code, "%s", e.Message)
	}
	if v.Null {
		col.AppendNull(n)
		return nil
	}
	v.T = col.T
	col.AppendDatum(n, v)
	return nil
}

// jsonValueEnd returns the end of the JSON value starting at p[i]: a
// string (escapes skipped), an object or array (brackets matched outside
// strings), or a scalar running to the next delimiter. The value is
// validated afterwards by its column type's parser.
func jsonValueEnd(p []byte, i int) (int, bool) {
	depth := 0
	for k := i; k < len(p); k++ {
		switch c := p[k]; c {
		case '"':
			for k++; k < len(p) && p[k] != '"'; k++ {
				if p[k] == '\\' {
					k++
				}
			}
			if k >= len(p) {
				return 0, false
			}
			if depth == 0 {
				return k + 1, true
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return k, k > i
			}
			if depth--; depth == 0 {
				return k + 1, true
			}
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return k, k > i
			}
		}
	}
	return len(p), depth == 0 && len(p) > i
}
