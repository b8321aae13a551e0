package parser

import (
	"errors"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`CREATE USER bob WITH PASSWORD 'S3cr3t-XYZ'`, `CREATE USER bob WITH PASSWORD '*****'`},
		{`create role "Bob" login password 'it''s' valid until 'infinity'`, `create role "Bob" login password '*****' valid until 'infinity'`},
		{`ALTER ROLE bob PASSWORD E'a\'b'; ALTER ROLE amy PASSWORD $$x$$`, `ALTER ROLE bob PASSWORD '*****'; ALTER ROLE amy PASSWORD '*****'`},
		{`ALTER USER bob WITH ENCRYPTED PASSWORD 'SCRAM-SHA-256$4096:abc$def:ghi'`, `ALTER USER bob WITH ENCRYPTED PASSWORD '*****'`},
		{`ALTER ROLE bob PASSWORD NULL`, `ALTER ROLE bob PASSWORD NULL`},
		{`CREATE DISK d WITH (access_key_id = 'AKIA1', secret_access_key = 'wJalr/K7')`, `CREATE DISK d WITH (access_key_id = 'AKIA1', secret_access_key = '*****')`},
		{`CREATE DISK d WITH ("Secret_Access_Key" 'wJalr', db_password='pw')`, `CREATE DISK d WITH ("Secret_Access_Key" '*****', db_password='*****')`},
		{`SELECT 'password', password FROM t`, `SELECT 'password', password FROM t`},
		{`SELECT 1`, `SELECT 1`},
		// Text the lexer refuses keeps only what precedes the secret.
		{`CREATE USER bob PASSWORD 'S3cr3t`, `CREATE USER bob PASSWORD '*****'`},
		{`CREATE USER "bob PASSWORD 'S3cr3t'`, `CREATE USER "bob PASSWORD '*****'`},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// TestRedactMessage: an error about a statement that carries a secret
// does not quote the secret, whichever way the message quotes it.
func TestRedactMessage(t *testing.T) {
	const pw = "S3cr3t-XYZ"
	for _, c := range []struct {
		sql   string
		whole bool // the literal ends: a message may quote its value
	}{
		{`CREATE USER bob PASSWORD 'S3cr3t-XYZ' 'S3cr3t-XYZ'`, true}, // syntax error at or near the second literal
		{`CREATE USER bob PASSWORD 'S3cr3t-XYZ`, false},              // unterminated quoted string
		{`CREATE USER bob PASSWORD 'S3cr3t-XYZ' "x`, true},           // unterminated quoted identifier after it
		{`ALTER ROLE bob PASSWORD 'S3cr3t-XYZ' LOGN`, true},
		{`CREATE USER bob PASSWORD $$S3cr3t-XYZ`, false},
		{`CREATE USER bob PASSWORD $q$S3cr3t-XYZ$q$ "x`, true},
		{`CREATE USER bob PASSWORD '` + strings.Repeat("S3cr3t-XYZ", 10), false}, // quoted shortened to 60 characters
	} {
		sql := c.sql
		_, _, err := Parse(sql)
		msg := "no error"
		if err != nil {
			msg = err.Error()
		}
		// Whatever the parser says (the role statements may not parse
		// yet), a message quoting the statement is redacted.
		msgs := []string{msg, "at or near \"" + nearText(sql, strings.IndexAny(sql, "'$")) + "\""}
		if c.whole {
			msgs = append(msgs, "value "+pw+" is bad")
		}
		for _, m := range msgs {
			if got := RedactMessage(sql, m); strings.Contains(got, pw) || strings.Contains(got, "S3cr3t") {
				t.Errorf("RedactMessage(%q, %q) = %q: still holds the secret", sql, m, got)
			}
		}
		if got := Redact(sql); strings.Contains(got, "S3cr3t") {
			t.Errorf("Redact(%q) = %q", sql, got)
		}
	}
	if got := RedactMessage(`SELECT 1`, `boom 'x'`); got != `boom 'x'` {
		t.Errorf("message without secrets changed: %q", got)
	}
}

// FuzzRedact: Redact never panics, is idempotent, and leaves no literal
// that follows PASSWORD in text it can lex.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{`CREATE USER bob PASSWORD 'x'`, `ALTER ROLE a PASSWORD $t$y$t$`, `x secret= 'y`, `"password'`, `PASSWORD`, `secret_key = E'\''`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Redact(s)
		if r2 := Redact(r); r2 != r {
			t.Fatalf("Redact not idempotent: %q -> %q -> %q", s, r, r2)
		}
		toks, err := lex(r)
		if err != nil {
			return
		}
		for i := 0; i+1 < len(toks); i++ {
			if toks[i].kind == tIdent && toks[i].val == "password" && toks[i+1].kind == tString && toks[i+1].val != "*****" {
				t.Fatalf("Redact(%q) = %q keeps %q", s, r, toks[i+1].val)
			}
		}
	})
}

func TestRedactError(t *testing.T) {
	const sql = `ALTER ROLE bob PASSWORD 'S3cr3t-XYZ' 'S3cr3t-XYZ'`
	_, _, perr := Parse(sql)
	if perr == nil {
		perr = &Error{Code: "42601", Msg: `syntax error at or near "'S3cr3t-XYZ'"`}
	}
	for _, err := range []error{
		perr,
		&Error{Code: "42601", Msg: `syntax error at or near "'S3cr3t-XYZ'"`, Hint: "drop S3cr3t-XYZ"},
		pgerr.New("22023", "bad password %q", "S3cr3t-XYZ").WithHint("not S3cr3t-XYZ"),
	} {
		got := RedactError(sql, err)
		e := pgerr.From(got)
		var pe *Error
		if errors.As(got, &pe) {
			e = &pgerr.Error{Code: pe.Code, Message: pe.Msg, Hint: pe.Hint}
		}
		if strings.Contains(e.Message+e.Detail+e.Hint+got.Error(), "S3cr3t") {
			t.Errorf("RedactError(%v) = %+v", err, e)
		}
	}
	plain := pgerr.New("42P01", "stream %q does not exist", "x")
	if got := RedactError(sql, plain); got != error(plain) {
		t.Errorf("an error without secrets was copied: %v", got)
	}
	if got := RedactError("SELECT 1", plain); got != error(plain) {
		t.Errorf("an error about a statement without secrets was copied: %v", got)
	}
}
