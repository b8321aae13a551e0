package types

import (
	"bytes"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/cairndb/cairn/internal/pgerr"
)

// json and jsonb values are held as text in Datum.S (and a batch
// column's bytes). json keeps its input exactly, as PostgreSQL does;
// jsonb holds the text PostgreSQL prints for it: object keys sorted
// (shorter first, then bytewise) without duplicates (the last wins),
// numbers in numeric's canonical form, ", " and ": " separators.

// JSONKind is the kind of a JSON value.
type JSONKind uint8

// The JSON value kinds.
const (
	JSONNull JSONKind = iota
	JSONString
	JSONNumber
	JSONBool
	JSONArray
	JSONObject
)

// JSONValue is a parsed JSON document. Str is a string's decoded text, a
// number's numeric canonical text, or "true"/"false"; Raw is the exact
// input text of the value (what json's operators return).
type JSONValue struct {
	Kind  JSONKind
	Str   string
	Raw   string
	Elems []JSONValue // array elements, object values
	Keys  []string    // object keys, parallel to Elems
}

type jsonParser struct {
	s     string
	i     int
	jsonb bool
	depth int
}

// ParseJSON parses s as a JSON document (jsonb rejects \u0000 as
// PostgreSQL does). Errors are 22P02 with the offending token.
func ParseJSON(s string, jsonb bool) (JSONValue, error) {
	p := &jsonParser{s: s, jsonb: jsonb}
	p.space()
	v, err := p.value()
	if err != nil {
		return v, err
	}
	p.space()
	if p.i != len(s) {
		return v, p.bad()
	}
	return v, nil
}

// jsonTypeOf is the type named in input errors: "json" for both, as
// PostgreSQL words them.
func jsonTypeOf(bool) T { return Json }

func (p *jsonParser) bad() error {
	tok := p.s[p.i:]
	if len(tok) > 0 {
		end := 1
		for end < len(tok) && isJSONIdent(tok[end]) && isJSONIdent(tok[0]) {
			end++
		}
		_, n := utf8.DecodeRuneInString(tok)
		end = max(end, n)
		return pgerr.InvalidTextInput.New(jsonTypeOf(p.jsonb), p.s).WithDetail("Token \"%s\" is invalid.", tok[:end])
	}
	return pgerr.InvalidTextInput.New(jsonTypeOf(p.jsonb), p.s).WithDetail("The input string ended unexpectedly.")
}

func isJSONIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '+' || c == '-'
}

func (p *jsonParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (JSONValue, error) {
	if p.i >= len(p.s) {
		return JSONValue{}, p.bad()
	}
	if p.depth++; p.depth > 1000 {
		return JSONValue{}, pgerr.InvalidTextInput.New(jsonTypeOf(p.jsonb), p.s).WithDetail("The document nests more than 1000 levels.")
	}
	defer func() { p.depth-- }()
	start := p.i
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		v := JSONValue{Kind: JSONObject}
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			v.Raw = p.s[start:p.i]
			return v, nil
		}
		for {
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != '"' {
				return v, p.bad()
			}
			k, err := p.str()
			if err != nil {
				return v, err
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return v, p.bad()
			}
			p.i++
			p.space()
			e, err := p.value()
			if err != nil {
				return v, err
			}
			v.Keys = append(v.Keys, k)
			v.Elems = append(v.Elems, e)
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				v.Raw = p.s[start:p.i]
				return v, nil
			}
			return v, p.bad()
		}
	case c == '[':
		p.i++
		v := JSONValue{Kind: JSONArray}
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			v.Raw = p.s[start:p.i]
			return v, nil
		}
		for {
			p.space()
			e, err := p.value()
			if err != nil {
				return v, err
			}
			v.Elems = append(v.Elems, e)
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == ']' {
				p.i++
				v.Raw = p.s[start:p.i]
				return v, nil
			}
			return v, p.bad()
		}
	case c == '"':
		s, err := p.str()
		return JSONValue{Kind: JSONString, Str: s, Raw: p.s[start:p.i]}, err
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	for _, w := range [...]string{"true", "false", "null"} {
		if strings.HasPrefix(p.s[p.i:], w) && (p.i+len(w) == len(p.s) || !isJSONIdent(p.s[p.i+len(w)])) {
			p.i += len(w)
			if w == "null" {
				return JSONValue{Kind: JSONNull, Raw: w}, nil
			}
			return JSONValue{Kind: JSONBool, Str: w, Raw: w}, nil
		}
	}
	return JSONValue{}, p.bad()
}

// number reads a JSON number (RFC 8259 grammar) as numeric.
func (p *jsonParser) number() (JSONValue, error) {
	start := p.i
	s := p.s
	if s[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(s) && s[p.i] >= '0' && s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	if digits() == 0 || (s[intStart] == '0' && p.i-intStart > 1) {
		p.i = start
		return JSONValue{}, p.bad()
	}
	if p.i < len(s) && s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			p.i = start
			return JSONValue{}, p.bad()
		}
	}
	if p.i < len(s) && (s[p.i] == 'e' || s[p.i] == 'E') {
		p.i++
		if p.i < len(s) && (s[p.i] == '+' || s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.i = start
			return JSONValue{}, p.bad()
		}
	}
	if p.i < len(s) && isJSONIdent(s[p.i]) {
		p.i = start
		return JSONValue{}, p.bad()
	}
	raw := s[start:p.i]
	v, err := ParseNumeric(raw)
	if err != nil {
		return JSONValue{}, err
	}
	return JSONValue{Kind: JSONNumber, Str: v, Raw: raw}, nil
}

// str reads a JSON string starting at the quote, decoding escapes.
func (p *jsonParser) str() (string, error) {
	s := p.s
	p.i++ // opening quote
	start := p.i
	var sb *strings.Builder
	for p.i < len(s) {
		c := s[p.i]
		switch {
		case c == '"':
			out := s[start:p.i]
			if sb != nil {
				sb.WriteString(s[start:p.i])
				out = sb.String()
			}
			p.i++
			return out, nil
		case c < 0x20:
			return "", pgerr.InvalidTextInput.New(jsonTypeOf(p.jsonb), p.s).WithDetail("Character with value 0x%02x must be escaped.", c)
		case c == '\\':
			if sb == nil {
				sb = &strings.Builder{}
			}
			sb.WriteString(s[start:p.i])
			if p.i+1 >= len(s) {
				p.i++
				return "", p.bad()
			}
			e := s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				sb.WriteByte(e)
			case 'b':
				sb.WriteByte('\b')
			case 'f':
				sb.WriteByte('\f')
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", pgerr.InvalidTextInput.New(jsonTypeOf(p.jsonb), p.s).WithDetail("\"\\u\" must be followed by four hexadecimal digits.")
				}
				if utf16.IsSurrogate(r) {
					if p.i+1 < len(s) && s[p.i] == '\\' && s[p.i+1] == 'u' {
						p.i += 2
						r2, ok := p.hex4()
						if !ok {
							return "", pgerr.InvalidTextInput.New(jsonTypeOf(p.jsonb), p.s).WithDetail("\"\\u\" must be followed by four hexadecimal digits.")
						}
						r = utf16.DecodeRune(r, r2)
					} else {
						r = utf8.RuneError
					}
					if r == utf8.RuneError {
						return "", pgerr.InvalidTextInput.New(jsonTypeOf(p.jsonb), p.s).WithDetail("Unicode low surrogate must follow a high surrogate.")
					}
				}
				if r == 0 && p.jsonb {
					return "", pgerr.JSONNulEscape.New().WithDetail("\\u0000 cannot be converted to text.")
				}
				sb.WriteRune(r)
			default:
				p.i -= 2
				return "", pgerr.InvalidTextInput.New(jsonTypeOf(p.jsonb), p.s).WithDetail("Escape sequence \"\\%c\" is invalid.", e)
			}
			start = p.i
		default:
			p.i++
		}
	}
	return "", p.bad()
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// Normalize turns a parsed document into jsonb form: object keys sorted
// (shorter first, then bytewise), duplicate keys dropped (the last wins).
func (v *JSONValue) Normalize() {
	for i := range v.Elems {
		v.Elems[i].Normalize()
	}
	if v.Kind != JSONObject || len(v.Keys) == 0 {
		return
	}
	idx := make([]int, len(v.Keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return jsonKeyLess(v.Keys[idx[a]], v.Keys[idx[b]]) })
	keys := make([]string, 0, len(idx))
	elems := make([]JSONValue, 0, len(idx))
	for n, i := range idx {
		if n+1 < len(idx) && v.Keys[idx[n+1]] == v.Keys[i] {
			continue // a later duplicate follows: it wins
		}
		keys = append(keys, v.Keys[i])
		elems = append(elems, v.Elems[i])
	}
	v.Keys, v.Elems = keys, elems
}

func jsonKeyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// AppendJSONB appends v (normalized) as PostgreSQL prints jsonb.
func AppendJSONB(dst []byte, v *JSONValue) []byte {
	switch v.Kind {
	case JSONNull:
		return append(dst, "null"...)
	case JSONBool, JSONNumber:
		return append(dst, v.Str...)
	case JSONString:
		return AppendJSONString(dst, v.Str)
	case JSONArray:
		dst = append(dst, '[')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = AppendJSONB(dst, &v.Elems[i])
		}
		return append(dst, ']')
	}
	dst = append(dst, '{')
	for i := range v.Elems {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = AppendJSONString(dst, v.Keys[i])
		dst = append(dst, ": "...)
		dst = AppendJSONB(dst, &v.Elems[i])
	}
	return append(dst, '}')
}

// AppendJSONString appends s as a JSON string literal, escaped as
// PostgreSQL's escape_json does.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}

// ParseJSONText validates json input (kept as written) or normalizes
// jsonb input; it returns the text to store.
func ParseJSONText(t T, s string) (string, error) {
	if err := CheckUTF8(s); err != nil {
		return "", err
	}
	v, err := ParseJSON(s, t == Jsonb)
	if err != nil {
		return "", err
	}
	if t == Json {
		return s, nil
	}
	v.Normalize()
	return string(AppendJSONB(nil, &v)), nil
}

// JSONBKey returns the canonical form of jsonb text for grouping: numbers
// without trailing fraction zeros, so equal documents share a key.
func JSONBKey(s string) string {
	if !strings.ContainsAny(s, ".") {
		return s
	}
	v, err := ParseJSON(s, true)
	if err != nil {
		return s
	}
	canonNumbers(&v)
	var b bytes.Buffer
	b.Write(AppendJSONB(nil, &v))
	return b.String()
}

func canonNumbers(v *JSONValue) {
	if v.Kind == JSONNumber {
		v.Str = NumericNormalized(v.Str)
	}
	for i := range v.Elems {
		canonNumbers(&v.Elems[i])
	}
}
