package pgwire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

var binarySignature = []byte("PGCOPY\n\xff\r\n\x00")

// copyIn reads COPY FROM STDIN data from the connection and decodes it
// straight into batch columns. Rows may span CopyData messages: the
// unparsed tail of a message is carried over into carry.
type copyIn struct {
	style *types.Style // the session's DateStyle order and TimeZone for date/time fields
	c     *conn
	opts  CopyOptions
	cols  []types.T
	table string

	cur        []byte // unparsed input; points into the last message or into carry
	curInCarry bool
	carry      []byte
	eof        bool // CopyDone received: cur is all that is left
	done       bool // CopyDone or CopyFail received, or the connection failed
	finished   bool // end of data seen (binary trailer or \. line)
	headerDone bool
	line       int // lines (text, csv) or tuples (binary) consumed
	err        error

	fields  []field
	scratch []byte
}

// field is one text/csv field: a range of the row's input or of scratch.
type field struct {
	start, end int
	inScratch  bool
	null       bool
}

func newCopyIn(c *conn, opts CopyOptions, cols []types.T, table string) (*copyIn, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if table == "" {
		table = "stdin"
	}
	cp := &copyIn{c: c, opts: opts, cols: cols, table: table, headerDone: !opts.Header, style: c.textStyle()}
	if opts.Format == CopyBinary {
		cp.headerDone = false
	}
	var f int16
	overall := byte(0)
	if opts.Format == CopyBinary {
		f, overall = 1, 1
	}
	codes := make([]uint16, len(cols))
	for i := range codes {
		codes[i] = uint16(f)
	}
	c.be.Send(&pgproto3.CopyInResponse{OverallFormat: overall, ColumnFormatCodes: codes})
	if err := c.flush(); err != nil {
		cp.done = true
		return nil, err
	}
	return cp, nil
}

// Next implements CopySource.
func (cp *copyIn) Next(b *types.Batch, max int) (int, error) {
	if cp.err != nil {
		return 0, cp.err
	}
	n := 0
	for n < max {
		var ok bool
		var err error
		if !cp.finished {
			switch cp.opts.Format {
			case CopyBinary:
				ok, err = cp.binaryRow(b)
			case CopyCSV:
				ok, err = cp.csvRow(b)
			default:
				ok, err = cp.textRow(b)
			}
		}
		if err != nil {
			cp.err = err
			return n, err
		}
		if ok {
			n++
			continue
		}
		if cp.finished {
			cp.cur = nil // data after the end marker is ignored
		}
		if cp.eof {
			if cp.finished || len(cp.cur) == 0 {
				return n, io.EOF
			}
			if cp.opts.Format == CopyBinary {
				cp.err = cp.rowErr(pgerr.CopyUnexpectedEOF.New())
				return n, cp.err
			}
			// A text or csv row parser returns !ok at eof only when the
			// input is malformed in a way it already reported, or empty.
			return n, io.EOF
		}
		if err := cp.more(); err != nil {
			cp.err = err
			return n, err
		}
	}
	return n, nil
}

// more receives the next CopyData (or the end of the copy).
func (cp *copyIn) more() error {
	if len(cp.cur) > 0 && !cp.curInCarry {
		// The message buffer is reused by the next Receive.
		cp.carry = append(cp.carry[:0], cp.cur...)
		cp.cur, cp.curInCarry = cp.carry, true
	}
	for {
		msg, err := cp.c.be.Receive()
		if err != nil {
			cp.done = true
			return &writeErr{err: err}
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if len(cp.cur) > 0 && len(cp.cur)+len(m.Data) > cp.c.s.cfg.MaxMessageSize {
				// One row may not grow without bound across messages.
				return cp.rowErr(pgerr.CopyRowTooLarge.New(cp.c.s.cfg.MaxMessageSize))
			}
			if len(cp.cur) > 0 {
				cp.carry = append(cp.carry[:0], cp.cur...)
				cp.carry = append(cp.carry, m.Data...)
				cp.cur, cp.curInCarry = cp.carry, true
			} else {
				cp.cur, cp.curInCarry = m.Data, false
			}
			return nil
		case *pgproto3.CopyDone:
			cp.eof, cp.done = true, true
			return nil
		case *pgproto3.CopyFail:
			cp.done = true
			return pgerr.CopyFailed.New(m.Message)
		case *pgproto3.Flush, *pgproto3.Sync:
			// Ignored during COPY, as in PostgreSQL.
		default:
			cp.done = true
			return pgerr.CopyUnexpectedMessage.New(msgType(msg))
		}
	}
}

func msgType(msg pgproto3.FrontendMessage) byte {
	b, err := msg.Encode(nil)
	if err != nil || len(b) == 0 {
		return 0
	}
	return b[0]
}

// drain discards copy data until CopyDone or CopyFail.
func (cp *copyIn) drain() error {
	cp.cur = nil
	for !cp.done {
		msg, err := cp.c.be.Receive()
		if err != nil {
			cp.done = true
			return &writeErr{err: err}
		}
		switch msg.(type) {
		case *pgproto3.CopyDone, *pgproto3.CopyFail:
			cp.done = true
		case *pgproto3.CopyData, *pgproto3.Flush, *pgproto3.Sync:
		default:
			cp.done = true
		}
	}
	return nil
}

// rowErr adds the COPY context to a decoding error.
func (cp *copyIn) rowErr(err error) error {
	e := pgerr.From(err)
	cp2 := *e
	cp2.Message = fmt.Sprintf("%s (COPY %s, line %d)", e.Message, cp.table, cp.line)
	return &cp2
}

func (cp *copyIn) colErr(err error, col int) error {
	e := pgerr.From(err)
	cp2 := *e
	cp2.Message = fmt.Sprintf("%s (COPY %s, line %d, column %d)", e.Message, cp.table, cp.line, col+1)
	return &cp2
}

// truncate drops the partly appended row n from b's columns.
func truncate(b *types.Batch, n int) {
	for i := range b.Cols {
		c := &b.Cols[i]
		if len(c.Nulls) > n {
			c.Nulls = c.Nulls[:n]
		}
		if len(c.I) > n {
			c.I = c.I[:n]
		}
		if len(c.F) > n {
			c.F = c.F[:n]
		}
		if len(c.Iv) > n {
			c.Iv = c.Iv[:n]
		}
		if c.T.UsesBytes() && len(c.Offs) > n+1 {
			c.Offs = c.Offs[:n+1]
			c.Bytes = c.Bytes[:c.Offs[n]]
		}
	}
}

// binaryRow decodes one tuple of the binary format. ok is false when more
// input is needed or the trailer was reached (finished is then set).
func (cp *copyIn) binaryRow(b *types.Batch) (ok bool, err error) {
	buf := cp.cur
	if !cp.headerDone {
		if len(buf) < 19 {
			if cp.eof && len(buf) > 0 {
				return false, pgerr.CopyBadSignature.New()
			}
			return false, nil
		}
		if !bytes.Equal(buf[:11], binarySignature) {
			return false, pgerr.CopyBadSignature.New()
		}
		flags := binary.BigEndian.Uint32(buf[11:])
		if flags&0x10000 != 0 {
			return false, pgerr.CopyWithOIDs.New()
		}
		ext := int(binary.BigEndian.Uint32(buf[15:]))
		if ext < 0 || len(buf) < 19+ext {
			return false, nil
		}
		cp.cur = buf[19+ext:]
		cp.headerDone = true
		buf = cp.cur
	}
	if len(buf) < 2 {
		return false, nil
	}
	cnt := int(int16(binary.BigEndian.Uint16(buf)))
	if cnt == -1 {
		cp.finished = true
		cp.cur = buf[2:]
		return false, nil
	}
	if cnt != len(b.Cols) {
		cp.line++
		return false, cp.rowErr(pgerr.CopyFieldCount.New(cnt, len(b.Cols)))
	}
	// Check the whole tuple is here before decoding any of it.
	p := 2
	for range cnt {
		if len(buf)-p < 4 {
			return false, nil
		}
		l := int(int32(binary.BigEndian.Uint32(buf[p:])))
		p += 4
		if l > 0 {
			if len(buf)-p < l {
				return false, nil
			}
			p += l
		} else if l < -1 {
			cp.line++
			return false, cp.rowErr(pgerr.CopyFieldSize.New())
		}
	}
	cp.line++
	p = 2
	for i := range cnt {
		l := int(int32(binary.BigEndian.Uint32(buf[p:])))
		p += 4
		c := &b.Cols[i]
		if l < 0 {
			c.AppendNull(b.N)
			continue
		}
		if err := c.AppendBinaryValue(b.N, buf[p:p+l]); err != nil {
			truncate(b, b.N)
			return false, cp.colErr(err, i)
		}
		p += l
	}
	b.N++
	cp.cur = buf[p:]
	return true, nil
}

// nextLine returns the next line of text input without its line ending;
// ok is false when more input is needed.
func (cp *copyIn) nextLine() (line []byte, ok bool) {
	buf := cp.cur
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		if !cp.eof || len(buf) == 0 {
			return nil, false
		}
		line, cp.cur = buf, nil
	} else {
		line, cp.cur = buf[:i], buf[i+1:]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	cp.line++
	return line, true
}

// textRow decodes one line of the text format.
func (cp *copyIn) textRow(b *types.Batch) (bool, error) {
	line, ok := cp.nextLine()
	if !ok {
		return false, nil
	}
	if !cp.headerDone {
		cp.headerDone = true
		return cp.textRow(b)
	}
	if len(line) == 2 && line[0] == '\\' && line[1] == '.' {
		cp.finished = true
		return false, nil
	}
	delim := cp.opts.Delimiter
	cp.fields = cp.fields[:0]
	cp.scratch = cp.scratch[:0]
	start, escaped := 0, false
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] != delim {
			if line[i] == '\\' {
				escaped = true
				i++
			}
			continue
		}
		end := min(i, len(line))
		raw := line[start:end]
		f := field{start: start, end: end}
		switch {
		case string(raw) == cp.opts.Null:
			f.null = true
		case escaped:
			f.inScratch, f.start = true, len(cp.scratch)
			cp.scratch = unescapeText(cp.scratch, raw)
			f.end = len(cp.scratch)
		}
		cp.fields = append(cp.fields, f)
		start, escaped = i+1, false
	}
	return cp.appendFields(b, line)
}

// unescapeText appends raw with the text format's backslash escapes
// resolved.
func unescapeText(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			dst = append(dst, c)
			continue
		}
		i++
		c = raw[i]
		switch c {
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
		case 'v':
			dst = append(dst, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(raw) && hexVal(raw[i+1]) >= 0 {
				v = v*16 + hexVal(raw[i+1])
				i++
				n++
			}
			if n == 0 {
				dst = append(dst, 'x')
			} else {
				dst = append(dst, byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for n := 1; n < 3 && i+1 < len(raw) && raw[i+1] >= '0' && raw[i+1] <= '7'; n++ {
				v = v*8 + int(raw[i+1]-'0')
				i++
			}
			dst = append(dst, byte(v))
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// appendFields decodes cp.fields (ranges of src or scratch) as one row.
func (cp *copyIn) appendFields(b *types.Batch, src []byte) (bool, error) {
	if len(cp.fields) < len(b.Cols) {
		return false, cp.rowErr(pgerr.CopyMissingColumn.New(len(cp.fields) + 1))
	}
	if len(cp.fields) > len(b.Cols) {
		return false, cp.rowErr(pgerr.CopyExtraData.New())
	}
	for i, f := range cp.fields {
		c := &b.Cols[i]
		if f.null {
			c.AppendNull(b.N)
			continue
		}
		v := src[f.start:f.end]
		if f.inScratch {
			v = cp.scratch[f.start:f.end]
		}
		if err := c.AppendTextValueStyle(b.N, v, cp.style); err != nil {
			truncate(b, b.N)
			return false, cp.colErr(err, i)
		}
	}
	b.N++
	return true, nil
}

// csvRow decodes one record of the csv format; a quoted field may span
// lines.
func (cp *copyIn) csvRow(b *types.Batch) (bool, error) {
	buf := cp.cur
	if len(buf) == 0 {
		return false, nil
	}
	// The end-of-data marker: a line holding only \.
	if len(buf) >= 2 && buf[0] == '\\' && buf[1] == '.' {
		rest := buf[2:]
		switch {
		case len(rest) == 0 && !cp.eof:
			return false, nil
		case len(rest) == 0 || rest[0] == '\n' || (rest[0] == '\r' && (len(rest) == 1 || rest[1] == '\n')):
			cp.finished = true
			cp.line++
			return false, nil
		}
	}
	o := cp.opts
	cp.fields = cp.fields[:0]
	cp.scratch = cp.scratch[:0]
	lines := 1
	i := 0
	for {
		f := field{start: i}
		quoted := false
		if i < len(buf) && buf[i] == o.Quote {
			quoted = true
			f.inScratch, f.start = true, len(cp.scratch)
			i++
			closed := false
			for !closed {
				if i >= len(buf) {
					if cp.eof {
						cp.line++ // the line the record starts on
						return false, cp.rowErr(pgerr.CopyUnterminatedQuote.New())
					}
					return false, nil
				}
				c := buf[i]
				switch {
				case c == o.Escape && o.Escape != o.Quote && i+1 < len(buf) && (buf[i+1] == o.Quote || buf[i+1] == o.Escape):
					cp.scratch = append(cp.scratch, buf[i+1])
					i += 2
				case c == o.Escape && o.Escape != o.Quote && i+1 >= len(buf) && !cp.eof:
					return false, nil
				case c == o.Quote:
					if i+1 < len(buf) && buf[i+1] == o.Quote && o.Escape == o.Quote {
						cp.scratch = append(cp.scratch, o.Quote)
						i += 2
					} else if i+1 >= len(buf) && !cp.eof && o.Escape == o.Quote {
						return false, nil // "" may be split across messages
					} else {
						i++
						closed = true
					}
				default:
					if c == '\n' {
						lines++
					}
					cp.scratch = append(cp.scratch, c)
					i++
				}
			}
			// Anything after the closing quote up to the delimiter is kept.
			for i < len(buf) && buf[i] != o.Delimiter && buf[i] != '\n' && buf[i] != '\r' {
				cp.scratch = append(cp.scratch, buf[i])
				i++
			}
			f.end = len(cp.scratch)
		} else {
			for i < len(buf) && buf[i] != o.Delimiter && buf[i] != '\n' && buf[i] != '\r' {
				i++
			}
			f.end = i
		}
		// At a delimiter, a line end, or the end of the input.
		if i >= len(buf) && !cp.eof {
			return false, nil
		}
		if !quoted && string(buf[f.start:f.end]) == o.Null {
			f.null = true
		}
		cp.fields = append(cp.fields, f)
		if i < len(buf) && buf[i] == o.Delimiter {
			i++
			continue
		}
		// Line end (\n, \r\n, lone \r) or end of input.
		end := i
		if i < len(buf) && buf[i] == '\r' {
			i++
			if i >= len(buf) && !cp.eof {
				return false, nil
			}
		}
		if i < len(buf) && buf[i] == '\n' {
			i++
		}
		cp.cur = buf[i:]
		cp.line += lines
		if !cp.headerDone {
			cp.headerDone = true
			return cp.csvRow(b)
		}
		return cp.appendFields(b, buf[:end])
	}
}

// withDefaults fills in the format's default delimiter, NULL string and
// quote and escape characters (PostgreSQL's), and refuses an unknown
// format; COPY FROM and COPY TO share it.
func (opts CopyOptions) withDefaults() (CopyOptions, error) {
	switch opts.Format {
	case CopyText:
		if opts.Delimiter == 0 {
			opts.Delimiter = '\t'
		}
		if opts.Null == "" {
			opts.Null = `\N`
		}
	case CopyCSV:
		if opts.Delimiter == 0 {
			opts.Delimiter = ','
		}
		if opts.Quote == 0 {
			opts.Quote = '"'
		}
		if opts.Escape == 0 {
			opts.Escape = opts.Quote
		}
	case CopyBinary:
	default:
		return opts, pgerr.CopyFormatUnsupported.New(opts.Format)
	}
	return opts, nil
}
