package types

import (
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestBinaryFormsReadByPgx: pgx (a real client) decodes our binary
// numeric, uuid, jsonb and array values to the same values.
func TestBinaryFormsReadByPgx(t *testing.T) {
	m := pgtype.NewMap()
	scan := func(t0 T, d Datum, dst any) {
		t.Helper()
		if err := m.Scan(t0.OID(), pgtype.BinaryFormatCode, AppendBinary(nil, d), dst); err != nil {
			t.Fatalf("pgx scan of %s %q: %v", t0, d.S, err)
		}
	}
	var ints []int32
	a, _ := ParseText(Int4Array, "{1,-2,300000}")
	scan(Int4Array, a, &ints)
	if !reflect.DeepEqual(ints, []int32{1, -2, 300000}) {
		t.Errorf("int4[] = %v", ints)
	}
	var strs []*string
	s, _ := ParseText(TextArray, `{a,"b c",NULL}`)
	scan(TextArray, s, &strs)
	if len(strs) != 3 || *strs[0] != "a" || *strs[1] != "b c" || strs[2] != nil {
		t.Errorf("text[] = %v", strs)
	}
	var num pgtype.Numeric
	scan(Numeric, NewNumeric("-12345678901234567890.0500"), &num)
	if v, _ := num.Value(); v != "-12345678901234567890.0500" {
		t.Errorf("numeric = %v", v)
	}
	var u pgtype.UUID
	ud, _ := ParseText(Uuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
	scan(Uuid, ud, &u)
	if v, _ := u.Value(); v != "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" {
		t.Errorf("uuid = %v", v)
	}
	var doc map[string]any
	jd, _ := ParseText(Jsonb, `{"b": [1, 2], "a": "x"}`)
	scan(Jsonb, jd, &doc)
	if doc["a"] != "x" || len(doc["b"].([]any)) != 2 {
		t.Errorf("jsonb = %v", doc)
	}
}
