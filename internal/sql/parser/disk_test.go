package parser

import (
	"errors"
	"strings"
	"testing"
)

// TestDiskSecretRedacted: the secret_access_key of CREATE DISK never
// survives Redact or RedactError, quoted, unquoted, in a statement that
// does not lex, or echoed by the error the statement gets.
func TestDiskSecretRedacted(t *testing.T) {
	const secret = "wJalrXUtnFEMI-K7MDENG"
	for _, sql := range []string{
		"CREATE DISK d (type = 's3', endpoint = 'h:9000', bucket = 'abc', access_key_id = 'AKIA', secret_access_key = '" + secret + "')",
		"CREATE DISK d (type = 's3', endpoint = 'h:9000', bucket = 'abc', access_key_id = 'AKIA', SECRET_ACCESS_KEY='" + secret + "', tls = 1)",
		"CREATE DISK d (type = 's3', endpoint = 'h:9000', bucket = 'abc', access_key_id = 'AKIA', secret_access_key = " + secret + ")",
		"CREATE DISK d (type = 's3', endpoint = 'h:9000', bucket = 'abc', access_key_id = 'AKIA', secret_access_key = $$" + secret + "$$)",
		"CREATE DISK d (type = 's3', endpoint = 'h:9000', bucket = 'abc', access_key_id = 'AKIA', secret_access_key = '" + secret,
		"CREATE DISK d (type = 's3', endpoint = 'h:9000', bucket = 'abc', access_key_id = 'AKIA', secret_access_key = '" + secret + "' '" + secret + "')",
		"CREATE DISK d (type = 's3', endpoint = 'h:9000', bucket = 'abc', access_key_id = 'AKIA', secret_access_key = \"" + secret + "\")",
	} {
		red := Redact(sql)
		if strings.Contains(red, secret) || !strings.Contains(red, Redacted) {
			t.Errorf("Redact(%s) = %s", sql, red)
		}
		if !strings.HasPrefix(red, "CREATE DISK d") {
			t.Errorf("Redact(%s) lost the statement: %s", sql, red)
		}
		_, _, err := Parse(sql)
		if err == nil {
			stmts, _, _ := Parse(sql)
			if f := Redact(Format(stmts[0])); strings.Contains(f, secret) {
				t.Errorf("formatted and redacted: %s", f)
			}
			continue
		}
		if msg := RedactError(sql, err).Error(); strings.Contains(msg, secret) {
			t.Errorf("RedactError of %s: %s", sql, msg)
		}
		var pe *Error
		if errors.As(err, &pe) && strings.Contains(pe.Hint, secret) {
			t.Errorf("hint of %s: %s", sql, pe.Hint)
		}
	}
	// A secret-free statement is left alone; the access key id is not a
	// secret (AWS: it identifies the key and may be shown).
	plain := "CREATE DISK d (type = 's3', endpoint = 'h:9000', bucket = 'abc', access_key_id = 'AKIA', secret_access_key = 'x')"
	if got := Redact(plain); !strings.Contains(got, "'AKIA'") || strings.Contains(got, "= 'x'") {
		t.Errorf("Redact(%s) = %s", plain, got)
	}
}

// TestDiskShortBareSecret: a secret option typed without quotes is masked
// by Redact however short, but a one- or two-letter one is not hidden
// throughout messages, which would garble them.
func TestDiskShortBareSecret(t *testing.T) {
	sql := "CREATE DISK d (type = 's3', endpoint = 'h:9000', bucket = 'abc', access_key_id = 'AKIA', secret_access_key = s)"
	if got := Redact(sql); !strings.HasSuffix(got, "secret_access_key = "+Redacted+")") {
		t.Errorf("Redact: %s", got)
	}
	_, _, err := Parse(sql)
	if err == nil {
		t.Fatal("a bare secret was accepted")
	}
	msg := RedactError(sql, err).Error()
	if msg != err.Error() || !strings.Contains(msg, "takes a string in single quotes") {
		t.Errorf("message garbled: %q (was %q)", msg, err.Error())
	}
}
