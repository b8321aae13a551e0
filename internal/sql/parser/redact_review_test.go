package parser

import (
	"strings"
	"testing"
)

// TestRedactUnquotedPassword: a password typed without quotes in CREATE
// or ALTER ROLE/USER is a syntax error whose message quotes the token; it
// is hidden there and in redacted text, while PASSWORD NULL and a column
// named password elsewhere stay as they are.
func TestRedactUnquotedPassword(t *testing.T) {
	for _, q := range []string{
		"ALTER USER x PASSWORD sekrit1",
		"ALTER USER x PASSWORD 31415926",
		`ALTER USER x WITH PASSWORD "sekrit3"`,
		"SELECT 1; CREATE ROLE y LOGIN PASSWORD sekrit4",
	} {
		_, _, err := Parse(q)
		if err == nil {
			t.Fatalf("%s parsed", q)
		}
		for _, leak := range []string{"sekrit", "31415926"} {
			if msg := RedactError(q, err).Error(); strings.Contains(msg, leak) {
				t.Errorf("%s: error %q quotes the password", q, msg)
			}
			if r := Redact(q); strings.Contains(r, leak) {
				t.Errorf("%s: redacted to %q", q, r)
			}
		}
	}
	for _, q := range []string{"ALTER ROLE x PASSWORD NULL", "SELECT password FROM t WHERE password = 'x'"} {
		want := q
		if strings.Contains(q, "'x'") {
			want = strings.Replace(q, "'x'", Redacted, 1)
		}
		if r := Redact(q); r != want {
			t.Errorf("Redact(%q) = %q, want %q", q, r, want)
		}
	}
}
