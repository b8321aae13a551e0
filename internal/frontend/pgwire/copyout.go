package pgwire

import (
	"bytes"
	"encoding/binary"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cairndb/cairn/internal/types"
)

// CopyOuter is implemented by the ResultWriter of a connection that can
// run COPY ... TO STDOUT (a pgwire connection; not the admin API's).
type CopyOuter interface {
	// CopyOut switches the connection to COPY OUT (sends CopyOutResponse
	// and, with opts.Header, the header line) and returns the sink the
	// rows go to. The server ends the copy (CopyDone) when Execute
	// returns without error. Only valid once per Execute.
	CopyOut(opts CopyOptions, cols []Column) (CopySink, error)
}

// CopySink receives the rows of a COPY TO.
type CopySink interface {
	// Row encodes and sends one row of the columns given to CopyOut.
	Row(row []types.Datum) error
}

// copyOut encodes rows as CopyData messages, one per row as PostgreSQL
// sends them, reusing one buffer.
type copyOut struct {
	c     *conn
	opts  CopyOptions
	cols  []Column
	style *types.Style
	buf   []byte
	text  []byte // a value's text before escaping
	msg   pgproto3.CopyData
}

func newCopyOut(c *conn, opts CopyOptions, cols []Column) (*copyOut, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cp := &copyOut{c: c, opts: opts, cols: cols, style: c.textStyle()}
	var f uint16
	overall := byte(0)
	if opts.Format == CopyBinary {
		f, overall = 1, 1
	}
	codes := make([]uint16, len(cols))
	for i := range codes {
		codes[i] = f
	}
	c.be.Send(&pgproto3.CopyOutResponse{OverallFormat: overall, ColumnFormatCodes: codes})
	switch {
	case opts.Format == CopyBinary:
		cp.buf = append(cp.buf[:0], binarySignature...)
		cp.buf = binary.BigEndian.AppendUint32(cp.buf, 0) // flags
		cp.buf = binary.BigEndian.AppendUint32(cp.buf, 0) // header extension length
		if err := cp.sendBuf(); err != nil {
			return nil, err
		}
	case opts.Header:
		cp.buf = cp.buf[:0]
		for i, col := range cols {
			if i > 0 {
				cp.buf = append(cp.buf, opts.Delimiter)
			}
			cp.appendField([]byte(col.Name))
		}
		cp.buf = append(cp.buf, '\n')
		if err := cp.sendBuf(); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

func (cp *copyOut) sendBuf() error {
	cp.msg.Data = cp.buf
	cp.c.be.Send(&cp.msg)
	cp.c.pending += len(cp.buf) + 5
	if cp.c.pending >= flushThreshold {
		return cp.c.flush()
	}
	return nil
}

// Row implements CopySink.
func (cp *copyOut) Row(row []types.Datum) error {
	cp.buf = cp.buf[:0]
	if cp.opts.Format == CopyBinary {
		cp.buf = binary.BigEndian.AppendUint16(cp.buf, uint16(len(row)))
		for i, d := range row {
			if d.Null {
				cp.buf = binary.BigEndian.AppendUint32(cp.buf, 0xFFFFFFFF)
				continue
			}
			d = cp.coerce(d, i)
			lp := len(cp.buf)
			cp.buf = append(cp.buf, 0, 0, 0, 0)
			cp.buf = types.AppendBinary(cp.buf, d)
			binary.BigEndian.PutUint32(cp.buf[lp:], uint32(len(cp.buf)-lp-4))
		}
		return cp.sendBuf()
	}
	for i, d := range row {
		if i > 0 {
			cp.buf = append(cp.buf, cp.opts.Delimiter)
		}
		if d.Null {
			cp.buf = append(cp.buf, cp.opts.Null...)
			continue
		}
		cp.text = types.AppendTextStyle(cp.text[:0], cp.coerce(d, i), cp.style)
		cp.appendValue(cp.text, len(row) == 1)
	}
	cp.buf = append(cp.buf, '\n')
	return cp.sendBuf()
}

func (cp *copyOut) coerce(d types.Datum, i int) types.Datum {
	if i < len(cp.cols) && d.T != cp.cols[i].T {
		return coerce(d, cp.cols[i].T, cp.style)
	}
	return d
}

// appendField appends a header name: escaped (text) or quoted when needed
// (csv), like a value.
func (cp *copyOut) appendField(s []byte) { cp.appendValue(s, false) }

// appendValue appends one non-NULL value in the text or csv format.
func (cp *copyOut) appendValue(s []byte, only bool) {
	if cp.opts.Format == CopyText {
		for _, c := range s {
			switch c {
			case '\\':
				cp.buf = append(cp.buf, '\\', '\\')
			case '\n':
				cp.buf = append(cp.buf, '\\', 'n')
			case '\r':
				cp.buf = append(cp.buf, '\\', 'r')
			case '\t':
				cp.buf = append(cp.buf, '\\', 't')
			case '\b':
				cp.buf = append(cp.buf, '\\', 'b')
			case '\f':
				cp.buf = append(cp.buf, '\\', 'f')
			case '\v':
				cp.buf = append(cp.buf, '\\', 'v')
			default:
				if c == cp.opts.Delimiter {
					cp.buf = append(cp.buf, '\\')
				}
				cp.buf = append(cp.buf, c)
			}
		}
		return
	}
	// csv: quote a value that could be read back as something else — one
	// holding the delimiter, the quote, a line break, equal to the NULL
	// marker, or (alone on its line) the end-of-data marker \.
	q, e := cp.opts.Quote, cp.opts.Escape
	quote := string(s) == cp.opts.Null || only && string(s) == `\.` ||
		bytes.IndexByte(s, cp.opts.Delimiter) >= 0 || bytes.IndexByte(s, q) >= 0 ||
		bytes.IndexByte(s, '\n') >= 0 || bytes.IndexByte(s, '\r') >= 0
	if !quote {
		cp.buf = append(cp.buf, s...)
		return
	}
	cp.buf = append(cp.buf, q)
	for _, c := range s {
		if c == q || c == e {
			cp.buf = append(cp.buf, e)
		}
		cp.buf = append(cp.buf, c)
	}
	cp.buf = append(cp.buf, q)
}

// finish ends a successful copy: the binary trailer, then CopyDone.
func (cp *copyOut) finish() error {
	if cp.opts.Format == CopyBinary {
		cp.buf = binary.BigEndian.AppendUint16(cp.buf[:0], 0xFFFF)
		if err := cp.sendBuf(); err != nil {
			return err
		}
	}
	return cp.c.send(&pgproto3.CopyDone{})
}
