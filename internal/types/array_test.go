package types

import "testing"

// TestArrayForms: array input is made canonical, reads back unchanged,
// and survives the binary form and the column appenders.
func TestArrayForms(t *testing.T) {
	cases := []struct {
		t       T
		in, out string
	}{
		{Int4Array, " { 1 , -2,NULL } ", "{1,-2,NULL}"},
		{TextArray, `{a,"b c","",null,"x\"y\\z","NULL"}`, `{a,"b c","",NULL,"x\"y\\z","NULL"}`},
		{NumericArray, "{1.50,1e2}", "{1.50,100}"},
		{BoolArray, "{true,f}", "{t,f}"},
		{Float8Array, "{}", "{}"},
	}
	for _, c := range cases {
		d, err := ParseText(c.t, c.in)
		if err != nil || d.S != c.out {
			t.Errorf("%s %q = %q, %v; want %q", c.t, c.in, d.S, err, c.out)
			continue
		}
		if again, err := ParseText(c.t, d.S); err != nil || again != d {
			t.Errorf("%s %q not stable: %q, %v", c.t, d.S, again.S, err)
		}
		if back, err := ParseBinary(c.t, AppendBinary(nil, d)); err != nil || back != d {
			t.Errorf("%s %q binary round trip: %q, %v", c.t, d.S, back.S, err)
		}
		col := NewBatch([]T{c.t}).Cols[0]
		if err := col.AppendTextValue(0, []byte(c.in)); err != nil || col.Datum(0) != d {
			t.Errorf("AppendTextValue(%s %q) = %+v, %v", c.t, c.in, col.Datum(0), err)
		}
	}
	if tt, ok := FromName("integer[]"); !ok || tt != Int4Array || tt.OID() != 1007 || tt.Elem() != Int4 {
		t.Errorf("integer[] = %v %v", tt, ok)
	}
	for _, bad := range []string{"1,2", "{1,2", "{1,,2}", `{"a}`, "{{1}}", "{a}"} {
		if _, err := ParseText(Int4Array, bad); err == nil {
			t.Errorf("int[] %q parsed", bad)
		}
	}
}
