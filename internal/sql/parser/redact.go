package parser

import (
	"errors"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Redacted is what a secret literal becomes in redacted statement text.
const Redacted = "'*****'"

// isSecretKey reports whether a word names a secret whose value follows
// it: PASSWORD (CREATE/ALTER ROLE … PASSWORD '…'), and option keys such
// as secret_access_key, client_secret or db_password.
func isSecretKey(word string) bool {
	w := strings.ToLower(word)
	return w == "password" || strings.HasSuffix(w, "_password") || strings.Contains(w, "secret")
}

// secretSpan is the byte range [start, end) of a secret literal in a
// statement's text; rest: the lexer refused the text, and the span is
// everything after the first secret key.
type secretSpan struct {
	start, end int
	rest       bool
	// word: an option's secret typed without quotes. Secrets leaves out
	// such a word shorter than 3 characters: hiding every "s" or "ab"
	// in a message would garble it.
	word bool
}

// secretSpans finds the literals that follow a secret key, directly or
// after '=' (PASSWORD 'x', secret_access_key = 'x'). Text the lexer
// refuses (an unterminated string, say) is judged by words: everything
// after the first secret key is taken as secret, since where the literal
// ends cannot be known.
func secretSpans(sql string) []secretSpan {
	if !mayHoldSecret(sql) {
		return nil
	}
	toks, err := lex(sql)
	if err != nil {
		if i := firstSecretKeyEnd(sql); i >= 0 {
			return []secretSpan{{start: i, end: len(sql), rest: true}}
		}
		return nil
	}
	var spans []secretSpan
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if (t.kind != tIdent && t.kind != tQIdent) || !isSecretKey(t.val) {
			continue
		}
		j := i + 1
		eq := j < len(toks) && toks[j].kind == tOp && toks[j].val == "="
		if eq {
			j++
		}
		// The literal, and any literals right after it (a syntax
		// error, but one that may well be a second secret).
		k := j
		for j < len(toks) && toks[j].kind == tString {
			spans = append(spans, secretSpan{start: toks[j].start, end: toks[j].end})
			i = j
			j++
		}
		// A role statement's PASSWORD followed by something else than a
		// string or NULL, or a secret option (secret_access_key = …) set
		// to a word or number: a secret typed without quotes, which an
		// error would quote.
		if j == k && j < len(toks) && (eq || roleStatement(toks[stmtStart(toks, i):])) && unquotedSecret(toks[j]) {
			role := roleStatement(toks[stmtStart(toks, i):])
			spans = append(spans, secretSpan{start: toks[j].start, end: toks[j].end, word: !role})
			i = j
		}
	}
	return spans
}

// stmtStart is the index of the first token of the statement toks[i] is
// in (after the last ";" before it).
func stmtStart(toks []token, i int) int {
	for ; i > 0; i-- {
		if toks[i-1].kind == tOp && toks[i-1].val == ";" {
			return i
		}
	}
	return 0
}

// roleStatement reports whether toks are those of CREATE or ALTER
// ROLE/USER/GROUP, whose PASSWORD is followed by the password.
func roleStatement(toks []token) bool {
	if len(toks) < 2 || toks[0].kind != tIdent || toks[1].kind != tIdent {
		return false
	}
	switch toks[0].val {
	case "create", "alter":
		switch toks[1].val {
		case "role", "user", "group":
			return true
		}
	}
	return false
}

// unquotedSecret reports whether t, after PASSWORD, is a password typed
// without quotes: a word (but NULL), a quoted identifier or a number.
func unquotedSecret(t token) bool {
	switch t.kind {
	case tIdent:
		return t.val != "null"
	case tQIdent, tInt, tFloat:
		return true
	}
	return false
}

// mayHoldSecret is a cheap first test: most statements name no secret
// key and need no lexing.
func mayHoldSecret(sql string) bool {
	l := strings.ToLower(sql)
	return strings.Contains(l, "password") || strings.Contains(l, "secret")
}

// firstSecretKeyEnd is the byte offset just after the first secret key
// word in sql (a word is a run of identifier characters), or -1.
func firstSecretKeyEnd(sql string) int {
	for i := 0; i < len(sql); {
		if !isIdentStart(sql[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(sql) && isIdentCont(sql[j]) {
			j++
		}
		if isSecretKey(sql[i:j]) {
			return j
		}
		i = j
	}
	return -1
}

// Redact returns sql with every secret literal (the password of CREATE
// or ALTER ROLE/USER, the value of a secret option such as
// secret_access_key) replaced by '*****'. Statement text goes through
// it before it is logged, audited or shown anywhere. Text the lexer
// refuses keeps only what comes before its first secret key.
func Redact(sql string) string {
	spans := secretSpans(sql)
	if len(spans) == 0 {
		return sql
	}
	var b strings.Builder
	prev := 0
	for _, s := range spans {
		b.WriteString(sql[prev:s.start])
		if s.rest {
			b.WriteString(" ")
		}
		b.WriteString(Redacted)
		prev = s.end
	}
	b.WriteString(sql[prev:])
	return b.String()
}

// Secrets returns the secret literals of sql as a message might quote
// them: each literal's source text and its value, and (for text the
// lexer refuses) what follows the secret key, as lexer errors quote it.
// RedactMessage hides them.
func Secrets(sql string) []string {
	var out []string
	for _, s := range secretSpans(sql) {
		src := strings.TrimSpace(sql[s.start:s.end])
		if src == "" || s.word && len(src) < 3 {
			continue
		}
		out = append(out, src)
		if toks, err := lex(src); err == nil && len(toks) == 2 && toks[0].kind == tString {
			if len(toks[0].val) >= 3 {
				out = append(out, toks[0].val)
			}
		} else if q := strings.IndexAny(src, "'$"); q >= 0 {
			// Text the lexer refused: lexer errors quote it from the
			// opening quote, shortened to 60 characters; the value is
			// up to the closing quote, if there is one.
			out = append(out, nearText(src, q))
			if v := quotedValue(src[q:]); len(v) >= 3 {
				out = append(out, v)
			}
		}
	}
	return out
}

// RedactMessage hides in msg (an error's message, detail or hint) the
// secrets of the statement text sql.
func RedactMessage(sql, msg string) string {
	return hideSecrets(Secrets(sql), msg)
}

func hideSecrets(secrets []string, msg string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, Redacted)
	}
	return msg
}

// RedactError returns err, about statement text sql, with the secrets of
// sql hidden in its message, detail and hint: err itself when it quotes
// none, else a copy (a *pgerr.Error, or a *Error for a parse error).
func RedactError(sql string, err error) error {
	if err == nil {
		return nil
	}
	secrets := Secrets(sql)
	if len(secrets) == 0 {
		return err
	}
	var pe *Error
	if errors.As(err, &pe) {
		cp := *pe
		cp.Msg, cp.Hint = hideSecrets(secrets, cp.Msg), hideSecrets(secrets, cp.Hint)
		if cp == *pe {
			return err
		}
		return &cp
	}
	e := pgerr.From(err)
	cp := *e
	cp.Message, cp.Detail, cp.Hint = hideSecrets(secrets, cp.Message), hideSecrets(secrets, cp.Detail), hideSecrets(secrets, cp.Hint)
	if cp == *e && err.Error() == e.Message {
		return err
	}
	return &cp
}

// quotedValue is the value of the literal s starts with (quoted by ' with
// a doubled quote inside, or $tag$…$tag$), or the rest of s when it does
// not end.
func quotedValue(s string) string {
	if s == "" {
		return ""
	}
	if s[0] == '$' {
		end := strings.IndexByte(s[1:], '$')
		if end < 0 {
			return s[1:]
		}
		tag := s[:end+2]
		body := s[len(tag):]
		if k := strings.Index(body, tag); k >= 0 {
			return body[:k]
		}
		return body
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '\'' {
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String()
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
