package parser

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cairndb/cairn/internal/pgerr"
)

// MaxQueryBytes is the longest query text the lexer accepts.
const MaxQueryBytes = 1 << 20

type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // unquoted identifier or keyword; val is lower-cased
	tQIdent         // "quoted identifier"; val is verbatim
	tString         // any string literal; val is unescaped
	tInt            // integer literal; val is the digits
	tFloat          // decimal or exponent literal
	tParam          // $N; val is the digits
	tOp             // operator or punctuation; val is its text
)

// token is one lexeme. pos is the 1-based rune offset of its first
// character in the lexed text; start/end are byte offsets.
type token struct {
	kind       tokKind
	val        string
	pos        int
	start, end int
}

// lexer turns text into tokens. It tracks rune offsets incrementally so
// positions cost O(n) overall even for long inputs.
type lexer struct {
	src      string
	i        int // current byte offset
	runeByte int // byte offset whose rune offset is runeOff
	runeOff  int // 0-based rune offset of runeByte
}

// posOf returns the 1-based rune offset of byte offset b.
func (l *lexer) posOf(b int) int {
	if b < l.runeByte {
		l.runeByte, l.runeOff = 0, 0
	}
	l.runeOff += utf8.RuneCountInString(l.src[l.runeByte:b])
	l.runeByte = b
	return l.runeOff + 1
}

// lex splits src into tokens, ending with a tEOF token.
func lex(src string) ([]token, *Error) {
	if len(src) > MaxQueryBytes {
		return nil, &Error{Code: pgerr.ProgramLimitExceeded,
			Msg: fmt.Sprintf("query text is too long: %d bytes (limit %d)", len(src), MaxQueryBytes)}
	}
	if err := checkUTF8(src); err != nil {
		return nil, err
	}
	l := &lexer{src: src}
	toks := make([]token, 0, len(src)/4+1)
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tEOF {
			return toks, nil
		}
	}
}

// checkUTF8 rejects invalid UTF-8 and NUL bytes, as PostgreSQL does for a
// UTF8 database.
func checkUTF8(s string) *Error {
	for i := 0; i < len(s); {
		c := s[i]
		if c == 0 {
			return badByte(s, i)
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return badByte(s, i)
		}
		i += n
	}
	return nil
}

func badByte(s string, i int) *Error {
	return &Error{
		Pos:  utf8.RuneCountInString(s[:i]) + 1,
		Code: pgerr.CharacterNotInRepertoire,
		Msg:  fmt.Sprintf("invalid byte sequence for encoding \"UTF8\": 0x%02x", s[i]),
	}
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentCont(c byte) bool {
	return isIdentStart(c) || isDigit(c) || c == '$'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// nearText is the text PostgreSQL quotes in "at or near" for an error
// starting at byte b: the rest of the input, shortened for sanity.
func nearText(s string, b int) string {
	rest := s[b:]
	if utf8.RuneCountInString(rest) > 60 {
		n := 0
		for i := range rest {
			if n == 60 {
				return rest[:i] + "..."
			}
			n++
		}
	}
	return rest
}

func (l *lexer) errAt(b int, code, format string, args ...any) *Error {
	return &Error{Pos: l.posOf(b), Code: code, Msg: fmt.Sprintf(format, args...)}
}

// skipSpace skips whitespace and comments.
func (l *lexer) skipSpace() *Error {
	s := l.src
	for l.i < len(s) {
		c := s[l.i]
		switch {
		case isSpace(c):
			l.i++
		case c == '-' && l.i+1 < len(s) && s[l.i+1] == '-':
			for l.i < len(s) && s[l.i] != '\n' && s[l.i] != '\r' {
				l.i++
			}
		case c == '/' && l.i+1 < len(s) && s[l.i+1] == '*':
			start := l.i
			depth := 0
			for {
				if l.i+1 >= len(s) {
					return l.errAt(start, pgerr.SyntaxError, "unterminated /* comment at or near \"%s\"", nearText(s, start))
				}
				if s[l.i] == '/' && s[l.i+1] == '*' {
					depth++
					l.i += 2
				} else if s[l.i] == '*' && s[l.i+1] == '/' {
					depth--
					l.i += 2
					if depth == 0 {
						break
					}
				} else {
					l.i++
				}
			}
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) next() (token, *Error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	s := l.src
	start := l.i
	mk := func(k tokKind, v string) (token, *Error) {
		return token{kind: k, val: v, pos: l.posOf(start), start: start, end: l.i}, nil
	}
	if l.i >= len(s) {
		return mk(tEOF, "")
	}
	c := s[l.i]
	switch {
	case (c == 'e' || c == 'E') && l.i+1 < len(s) && s[l.i+1] == '\'':
		l.i++
		v, err := l.continued(start, l.escapeString)
		if err != nil {
			return token{}, err
		}
		return mk(tString, v)
	case isIdentStart(c):
		for l.i < len(s) && isIdentCont(s[l.i]) {
			l.i++
		}
		return mk(tIdent, lowerASCII(s[start:l.i]))
	case c == '"':
		var b strings.Builder
		l.i++
		for {
			if l.i >= len(s) {
				return token{}, l.errAt(start, pgerr.SyntaxError, "unterminated quoted identifier at or near \"%s\"", nearText(s, start))
			}
			if s[l.i] == '"' {
				if l.i+1 < len(s) && s[l.i+1] == '"' {
					b.WriteByte('"')
					l.i += 2
					continue
				}
				l.i++
				break
			}
			b.WriteByte(s[l.i])
			l.i++
		}
		if b.Len() == 0 {
			return token{}, l.errAt(start, pgerr.SyntaxError, "zero-length delimited identifier at or near \"%s\"", `""`)
		}
		return mk(tQIdent, b.String())
	case c == '\'':
		v, err := l.continued(start, l.plainString)
		if err != nil {
			return token{}, err
		}
		return mk(tString, v)
	case c == '$':
		if l.i+1 < len(s) && isDigit(s[l.i+1]) {
			l.i++
			for l.i < len(s) && isDigit(s[l.i]) {
				l.i++
			}
			if l.i < len(s) && isIdentCont(s[l.i]) {
				return token{}, l.junk(start)
			}
			return mk(tParam, s[start+1:l.i])
		}
		v, ok, err := l.dollarString(start)
		if err != nil {
			return token{}, err
		}
		if ok {
			return mk(tString, v)
		}
		return token{}, l.errAt(start, pgerr.SyntaxError, "syntax error at or near \"$\"")
	case isDigit(c) || c == '.' && l.i+1 < len(s) && isDigit(s[l.i+1]):
		return l.number(start)
	}
	// Operators and punctuation.
	if l.i+2 < len(s) {
		switch three := s[l.i : l.i+3]; three {
		case "->>", "#>>", "!~*":
			l.i += 3
			return mk(tOp, three)
		}
	}
	if l.i+1 < len(s) {
		two := s[l.i : l.i+2]
		switch two {
		case "::", "<=", ">=", "<>", "!=", "||", "->", "#>", "@>", "<@", "?|", "?&", "&&", "!~", "~*":
			l.i += 2
			if two == "!=" {
				two = "<>"
			}
			return mk(tOp, two)
		}
	}
	switch c {
	case '=', '<', '>', '+', '-', '*', '/', '%', '^', '(', ')', ',', ';', '.', '[', ']', ':', '?', '~':
		l.i++
		return mk(tOp, s[start:l.i])
	}
	_, n := utf8.DecodeRuneInString(s[l.i:])
	return token{}, l.errAt(start, pgerr.SyntaxError, "syntax error at or near \"%s\"", s[start:start+n])
}

func (l *lexer) junk(start int) *Error {
	end := l.i
	for end < len(l.src) && isIdentCont(l.src[end]) {
		end++
	}
	return l.errAt(start, pgerr.SyntaxError, "trailing junk after numeric literal at or near \"%s\"", l.src[start:end])
}

// number lexes 12, 1.5, .5, 1., 1e10, 2.5E-3.
func (l *lexer) number(start int) (token, *Error) {
	s := l.src
	kind := tInt
	for l.i < len(s) && isDigit(s[l.i]) {
		l.i++
	}
	if l.i < len(s) && s[l.i] == '.' && !(l.i+1 < len(s) && s[l.i+1] == '.') {
		kind = tFloat
		l.i++
		for l.i < len(s) && isDigit(s[l.i]) {
			l.i++
		}
	}
	if l.i < len(s) && (s[l.i] == 'e' || s[l.i] == 'E') {
		j := l.i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			kind = tFloat
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			l.i = j
		}
	}
	if l.i < len(s) && isIdentCont(s[l.i]) {
		return token{}, l.junk(start)
	}
	return token{kind: kind, val: s[start:l.i], pos: l.posOf(start), start: start, end: l.i}, nil
}

// continued lexes a string literal with seg and any continuation
// segments after it (see continuation), joining them in linear time.
func (l *lexer) continued(start int, seg func(int) (string, *Error)) (string, *Error) {
	v, err := seg(start)
	if err != nil || !l.continuation() {
		return v, err
	}
	var b strings.Builder
	b.WriteString(v)
	for {
		more, err := seg(l.i)
		if err != nil {
			return "", err
		}
		b.WriteString(more)
		if !l.continuation() {
			return b.String(), nil
		}
	}
}

// continuation reports whether the string literal that just ended is
// continued: SQL joins 'a'<whitespace with a newline>'b' into 'ab'. When
// it is, l.i is left at the next opening quote.
func (l *lexer) continuation() bool {
	s := l.src
	j, newline := l.i, false
	for j < len(s) && isSpace(s[j]) {
		newline = newline || s[j] == '\n' || s[j] == '\r'
		j++
	}
	if newline && j < len(s) && s[j] == '\'' {
		l.i = j
		return true
	}
	return false
}

// plainString lexes a standard-conforming quoted string: two quotes in a
// row stand for one, and backslashes are ordinary characters.
func (l *lexer) plainString(start int) (string, *Error) {
	s := l.src
	l.i++ // opening quote
	var b strings.Builder
	for {
		j := strings.IndexByte(s[l.i:], '\'')
		if j < 0 {
			return "", l.errAt(start, pgerr.SyntaxError, "unterminated quoted string at or near \"%s\"", nearText(s, start))
		}
		b.WriteString(s[l.i : l.i+j])
		l.i += j + 1
		if l.i < len(s) && s[l.i] == '\'' {
			b.WriteByte('\'')
			l.i++
			continue
		}
		return b.String(), nil
	}
}

// escapeString lexes the '...' part of E'...' with C-style backslash
// escapes. l.i is at the opening quote.
func (l *lexer) escapeString(start int) (string, *Error) {
	s := l.src
	l.i++
	var b []byte
	for {
		if l.i >= len(s) {
			return "", l.errAt(start, pgerr.SyntaxError, "unterminated quoted string at or near \"%s\"", nearText(s, start))
		}
		c := s[l.i]
		switch {
		case c == '\'':
			if l.i+1 < len(s) && s[l.i+1] == '\'' {
				b = append(b, '\'')
				l.i += 2
				continue
			}
			l.i++
			if !utf8.Valid(b) || strings.IndexByte(string(b), 0) >= 0 {
				for k := 0; k < len(b); {
					r, n := utf8.DecodeRune(b[k:])
					if b[k] == 0 || r == utf8.RuneError && n <= 1 {
						return "", l.errAt(start, pgerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\": 0x%02x", b[k])
					}
					k += n
				}
			}
			return string(b), nil
		case c == '\\':
			if l.i+1 >= len(s) {
				return "", l.errAt(start, pgerr.SyntaxError, "unterminated quoted string at or near \"%s\"", nearText(s, start))
			}
			e := s[l.i+1]
			l.i += 2
			switch e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'x':
				v, n := 0, 0
				for n < 2 && l.i < len(s) && hexVal(s[l.i]) >= 0 {
					v = v*16 + hexVal(s[l.i])
					l.i++
					n++
				}
				if n == 0 {
					b = append(b, 'x')
				} else {
					b = append(b, byte(v))
				}
			case 'u', 'U':
				want := 4
				if e == 'U' {
					want = 8
				}
				if l.i+want > len(s) {
					return "", l.errAt(l.i-2, pgerr.SyntaxError, "invalid Unicode escape")
				}
				v, err := strconv.ParseUint(s[l.i:l.i+want], 16, 32)
				if err != nil {
					return "", l.errAt(l.i-2, pgerr.SyntaxError, "invalid Unicode escape")
				}
				l.i += want
				r := rune(v)
				if r >= 0xD800 && r <= 0xDBFF {
					// High surrogate: must be followed by \uDC00-\uDFFF.
					if l.i+6 <= len(s) && s[l.i] == '\\' && s[l.i+1] == 'u' {
						lo, err := strconv.ParseUint(s[l.i+2:l.i+6], 16, 32)
						if err == nil && lo >= 0xDC00 && lo <= 0xDFFF {
							r = 0x10000 + (r-0xD800)<<10 + (rune(lo) - 0xDC00)
							l.i += 6
						}
					}
				}
				if r == 0 || r > utf8.MaxRune || r >= 0xD800 && r <= 0xDFFF {
					return "", l.errAt(start, pgerr.SyntaxError, "invalid Unicode escape value")
				}
				b = utf8.AppendRune(b, r)
			default:
				if e >= '0' && e <= '7' {
					v := int(e - '0')
					for n := 1; n < 3 && l.i < len(s) && s[l.i] >= '0' && s[l.i] <= '7'; n++ {
						v = v*8 + int(s[l.i]-'0')
						l.i++
					}
					b = append(b, byte(v))
				} else {
					// \\, \', and any other character stand for themselves;
					// a multi-byte character is copied whole below.
					l.i--
					_, n := utf8.DecodeRuneInString(s[l.i:])
					b = append(b, s[l.i:l.i+n]...)
					l.i += n
				}
			}
		default:
			b = append(b, c)
			l.i++
		}
	}
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

// dollarString lexes $tag$...$tag$. ok is false when the text at l.i is
// not a dollar-quote opener.
func (l *lexer) dollarString(start int) (string, bool, *Error) {
	s := l.src
	j := l.i + 1
	if j < len(s) && isIdentStart(s[j]) {
		for j < len(s) && isIdentCont(s[j]) && s[j] != '$' {
			j++
		}
	}
	if j >= len(s) || s[j] != '$' {
		return "", false, nil
	}
	delim := s[l.i : j+1]
	body := j + 1
	k := strings.Index(s[body:], delim)
	if k < 0 {
		return "", false, l.errAt(start, pgerr.SyntaxError, "unterminated dollar-quoted string at or near \"%s\"", nearText(s, start))
	}
	l.i = body + k + len(delim)
	return s[body : body+k], true, nil
}

// lowerASCII lower-cases ASCII letters only, as PostgreSQL does for
// identifiers in multi-byte encodings.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
