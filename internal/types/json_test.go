package types

import "testing"

// TestJSONBNormalForm: jsonb text is PostgreSQL's output form, reading it
// back changes nothing, and the binary form (version 1 + text) and the
// column appenders agree.
func TestJSONBNormalForm(t *testing.T) {
	cases := map[string]string{
		`{"b":1,"a":2,"a":3}`:                   `{"a": 3, "b": 1}`,
		` [ 1.50 , 1e2, true, null ] `:          `[1.50, 100, true, null]`,
		`{"long": {}, "s": [], "\u00e9": "\t"}`: `{"s": [], "é": "\t", "long": {}}`,
		`"a\"b\\c\/d"`:                          `"a\"b\\c/d"`,
		`-0`:                                    `0`,
	}
	for in, want := range cases {
		d, err := ParseText(Jsonb, in)
		if err != nil || d.S != want {
			t.Errorf("jsonb %q = %q, %v; want %q", in, d.S, err, want)
			continue
		}
		if again, err := ParseText(Jsonb, d.S); err != nil || again != d {
			t.Errorf("jsonb %q not stable: %q, %v", d.S, again.S, err)
		}
		bin := AppendBinary(nil, d)
		if bin[0] != 1 {
			t.Errorf("jsonb binary version %d", bin[0])
		}
		if back, err := ParseBinary(Jsonb, bin); err != nil || back != d {
			t.Errorf("jsonb binary round trip of %q: %q, %v", d.S, back.S, err)
		}
		c := NewBatch([]T{Jsonb}).Cols[0]
		if err := c.AppendTextValue(0, []byte(in)); err != nil || c.Datum(0) != d {
			t.Errorf("AppendTextValue(jsonb %q) = %+v, %v", in, c.Datum(0), err)
		}
	}
	// json keeps its input exactly.
	if d, err := ParseText(Json, ` {"b":1, "a":2} `); err != nil || d.S != ` {"b":1, "a":2} ` {
		t.Errorf("json = %q, %v", d.S, err)
	}
	for _, bad := range []string{``, `{`, `[1,]`, `{"a" 1}`, `01`, `1.`, `.5`, `tru`, `"\x"`, "\"\x01\"", `{"a":1}}`, `nul`} {
		if _, err := ParseText(Json, bad); err == nil {
			t.Errorf("json %q parsed", bad)
		}
	}
	if _, err := ParseBinary(Jsonb, []byte("\x02{}")); err == nil {
		t.Error("jsonb binary version 2 accepted")
	}
}

func TestJSONBKey(t *testing.T) {
	if JSONBKey(`{"a": 1.50}`) != JSONBKey(`{"a": 1.5}`) || JSONBKey(`[1.0]`) != `[1]` {
		t.Errorf("jsonb keys of equal documents differ: %q %q", JSONBKey(`{"a": 1.50}`), JSONBKey(`[1.0]`))
	}
}
