package scalar

import (
	"unicode"
	"unicode/utf8"
)

// likeMatch reports whether s matches the LIKE pattern p (% any run, _
// one character, backslash escapes the next character). fold makes the
// comparison case-insensitive (ILIKE). It backtracks only to the last %,
// so it runs in O(len(s)*len(p)) worst case and never allocates.
func likeMatch(s, p string, fold bool) bool {
	si, pi := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			pc, pw := utf8.DecodeRuneInString(p[pi:])
			switch pc {
			case '%':
				pi += pw
				starP, starS = pi, si
				continue
			case '_':
				_, sw := utf8.DecodeRuneInString(s[si:])
				si += sw
				pi += pw
				continue
			default:
				lit, lw := pc, pw
				if pc == '\\' && pi+pw < len(p) {
					var w int
					lit, w = utf8.DecodeRuneInString(p[pi+pw:])
					lw = pw + w
				}
				sc, sw := utf8.DecodeRuneInString(s[si:])
				if sc == lit || (fold && unicode.ToLower(sc) == unicode.ToLower(lit)) {
					si += sw
					pi += lw
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, sw := utf8.DecodeRuneInString(s[starS:])
		starS += sw
		si, pi = starS, starP
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}
