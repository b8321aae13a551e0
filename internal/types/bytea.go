package types

import (
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// bytea's text forms, as PostgreSQL reads and (bytea_output = hex)
// prints them: hex, `\x` followed by pairs of hex digits (whitespace
// allowed between pairs), and escape, where `\\` is a backslash, `\ooo`
// an octal byte and any other byte stands for itself.

const hexDigits = "0123456789abcdef"

// AppendByteaHex appends the hex text form of the bytes b.
func AppendByteaHex(dst []byte, b string) []byte {
	dst = append(dst, '\\', 'x')
	for i := 0; i < len(b); i++ {
		dst = append(dst, hexDigits[b[i]>>4], hexDigits[b[i]&15])
	}
	return dst
}

// parseBytea appends the bytes of bytea text s to dst.
func parseBytea(dst []byte, s string) ([]byte, error) {
	if strings.HasPrefix(s, `\x`) || strings.HasPrefix(s, `\X`) {
		h := s[2:]
		for i := 0; i < len(h); {
			c := h[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				i++
				continue
			}
			hi, ok := hexVal(c)
			if !ok {
				return nil, pgerr.ByteaBadHexDigit.New(string(c))
			}
			if i+1 >= len(h) {
				return nil, pgerr.ByteaOddHex.New()
			}
			lo, ok := hexVal(h[i+1])
			if !ok {
				return nil, pgerr.ByteaBadHexDigit.New(string(h[i+1]))
			}
			dst = append(dst, hi<<4|lo)
			i += 2
		}
		return dst, nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			dst = append(dst, '\\')
			i++
		case i+3 < len(s) && isOct(s[i+1], '3') && isOct(s[i+2], '7') && isOct(s[i+3], '7'):
			dst = append(dst, (s[i+1]-'0')<<6|(s[i+2]-'0')<<3|(s[i+3]-'0'))
			i += 3
		default:
			return nil, invalidSyntax(Bytea, s)
		}
	}
	return dst, nil
}

func isOct(c, max byte) bool { return c >= '0' && c <= max }
