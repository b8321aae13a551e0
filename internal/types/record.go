package types

import (
	"encoding/binary"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Records (issue 11: pkeys): an anonymous composite value, PostgreSQL's
// type "record" (OID 2249), such as a row of
// information_schema._pg_expandarray. A record Datum keeps its fields in
// Datum.S in PostgreSQL's binary form (record_send: the field count,
// then per field its type OID, its length or -1 for NULL, and its bytes),
// so a value describes itself: it is sent to binary-format clients as
// is, printed as (f1,f2) for text-format ones, and a field is read back
// with RecordField. Clients cannot send records (as in PostgreSQL, input
// of anonymous composite types is not implemented).

// NewRecord builds a record of the fields ds (any may be NULL).
func NewRecord(ds []Datum) Datum {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(ds)))
	for _, d := range ds {
		b = binary.BigEndian.AppendUint32(b, d.T.OID())
		if d.Null {
			b = binary.BigEndian.AppendUint32(b, 0xFFFFFFFF)
			continue
		}
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		b = AppendBinary(b, d)
		binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	return Datum{T: Record, S: string(b)}
}

// RecordFields returns the fields of the record r (as built by
// NewRecord).
func RecordFields(r Datum) ([]Datum, error) {
	s := r.S
	bad := pgerr.RecordCorrupt.New()
	if len(s) < 4 {
		return nil, bad
	}
	n := binary.BigEndian.Uint32([]byte(s[:4]))
	s = s[4:]
	var out []Datum
	for i := uint32(0); i < n; i++ {
		if len(s) < 8 {
			return nil, bad
		}
		t, ok := FromOID(binary.BigEndian.Uint32([]byte(s[:4])))
		if !ok {
			return nil, bad
		}
		l := binary.BigEndian.Uint32([]byte(s[4:8]))
		s = s[8:]
		if l == 0xFFFFFFFF {
			out = append(out, NullOf(t))
			continue
		}
		if uint64(l) > uint64(len(s)) {
			return nil, bad
		}
		d, err := ParseBinary(t, []byte(s[:l]))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
		s = s[l:]
	}
	return out, nil
}

// appendRecordText appends r as PostgreSQL's record_out prints it:
// (f1,f2,...), NULL fields empty, and a field quoted when it is empty or
// holds a quote, backslash, parenthesis, comma or space.
func appendRecordText(dst []byte, r Datum) []byte {
	fs, err := RecordFields(r)
	if err != nil {
		return append(dst, "(?)"...)
	}
	dst = append(dst, '(')
	for i, f := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		if f.Null {
			continue
		}
		v := string(AppendText(nil, f))
		if v != "" && !strings.ContainsAny(v, "\"\\(),\t\n\r\v\f ") {
			dst = append(dst, v...)
			continue
		}
		dst = append(dst, '"')
		for j := 0; j < len(v); j++ {
			if v[j] == '"' || v[j] == '\\' {
				dst = append(dst, v[j])
			}
			dst = append(dst, v[j])
		}
		dst = append(dst, '"')
	}
	return append(dst, ')')
}

// errRecordInput is PostgreSQL's refusal to read an anonymous record.
func errRecordInput() error { return pgerr.RecordInput.New() }
