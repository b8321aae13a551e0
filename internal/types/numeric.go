package types

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Numeric values are exact decimals (github.com/cockroachdb/apd/v3) held
// in Datum.S, and in a batch column's Bytes, as their canonical text: the
// text PostgreSQL prints (no exponent, the display scale kept: "1.50",
// "NaN", "Infinity", "-Infinity", never "-0"). A datum therefore stays as
// small as a text datum, prints without work, and equal values of equal
// scale are equal strings. Arithmetic parses the text into an
// apd.Decimal (small values without allocating) and formats the result.

// PostgreSQL's limits on a numeric value.
const (
	// NumericMaxScale is the largest display scale (NUMERIC_DSCALE_MAX).
	NumericMaxScale = 16383
	// NumericMaxIntDigits is the most digits before the decimal point
	// (NUMERIC_WEIGHT_MAX+1 base-10000 digits).
	NumericMaxIntDigits = 131072
	// numericMaxInputExp bounds the exponent of numeric input
	// (NUMERIC_MAX_PRECISION).
	numericMaxInputExp = 1000
)

// NumericCtx is the context for exact numeric arithmetic: no rounding
// (precision 0), half away from zero when an operation rounds, as
// PostgreSQL does.
var NumericCtx = apd.Context{
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps,
	Rounding:    apd.RoundHalfUp,
}

// NewNumeric returns a numeric datum from canonical text (see above).
func NewNumeric(s string) Datum { return Datum{T: Numeric, S: s} }

// ParseNumeric reads PostgreSQL numeric input ("  -1.50 ", "1e52", ".5",
// "NaN", "Infinity", "-inf") and returns its canonical text. Errors are
// 22P02 for bad syntax and 22003 for a value outside numeric's range.
func ParseNumeric(s string) (string, error) {
	var d apd.Decimal
	if err := parseDecimal(s, &d); err != nil {
		return "", err
	}
	return NumericText(&d)
}

// appendParsedNumeric parses s like ParseNumeric and appends the
// canonical text to dst (without allocating for ordinary values).
func appendParsedNumeric(dst []byte, s string) ([]byte, error) {
	var d apd.Decimal
	if err := parseDecimal(s, &d); err != nil {
		return dst, err
	}
	if err := checkNumericRange(&d); err != nil {
		return dst, err
	}
	return AppendDecimal(dst, &d), nil
}

// parseDecimal parses PostgreSQL numeric input into d.
func parseDecimal(s string, d *apd.Decimal) error {
	w := trimSpace(s)
	switch strings.ToLower(w) {
	case "nan":
		d.Form, d.Negative = apd.NaN, false
		return nil
	case "infinity", "+infinity", "inf", "+inf":
		d.Form, d.Negative = apd.Infinite, false
		return nil
	case "-infinity", "-inf":
		d.Form, d.Negative = apd.Infinite, true
		return nil
	}
	i, neg := 0, false
	if i < len(w) && (w[i] == '+' || w[i] == '-') {
		neg = w[i] == '-'
		i++
	}
	var coef []byte
	var small [40]byte
	coef = small[:0]
	ndig, scale, sawPoint := 0, 0, false
	for ; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= '0' && c <= '9':
			coef = append(coef, c)
			ndig++
			if sawPoint {
				scale++
			}
			continue
		case c == '.' && !sawPoint:
			sawPoint = true
			continue
		}
		break
	}
	if ndig == 0 {
		return invalidSyntax(Numeric, s)
	}
	exp := 0
	if i < len(w) && (w[i] == 'e' || w[i] == 'E') {
		i++
		eneg := false
		if i < len(w) && (w[i] == '+' || w[i] == '-') {
			eneg = w[i] == '-'
			i++
		}
		start := i
		for ; i < len(w) && w[i] >= '0' && w[i] <= '9'; i++ {
			if exp = exp*10 + int(w[i]-'0'); exp > numericMaxInputExp {
				return invalidSyntax(Numeric, s)
			}
		}
		if i == start {
			return invalidSyntax(Numeric, s)
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(w) {
		return invalidSyntax(Numeric, s)
	}
	if err := setCoeff(d, coef); err != nil {
		return invalidSyntax(Numeric, s)
	}
	d.Negative = neg
	// The display scale is the digits after the point less the exponent.
	sc := scale - exp
	if sc < 0 {
		sc = 0
	}
	// value = coef × 10^(exp-scale); shown with sc digits after the point.
	d.Exponent = int32(exp - scale)
	return rescale(d, sc)
}

// setCoeff sets d to the finite non-negative integer written in digits.
func setCoeff(d *apd.Decimal, digits []byte) error {
	d.Form, d.Exponent, d.Negative = apd.Finite, 0, false
	if len(digits) <= 18 {
		var v int64
		for _, c := range digits {
			v = v*10 + int64(c-'0')
		}
		d.Coeff.SetInt64(v)
		return nil
	}
	if _, ok := d.Coeff.SetString(string(digits), 10); !ok {
		return pgerr.NumericOverflow.New()
	}
	return nil
}

// rescale sets d's exponent to -scale exactly (scale ≥ 0), multiplying
// the coefficient when the exponent was larger; d must not need
// rounding (its exponent is ≥ -scale).
func rescale(d *apd.Decimal, scale int) error {
	if d.Exponent <= int32(-scale) {
		return nil
	}
	shift := int64(d.Exponent) + int64(scale)
	var ten, n, p apd.BigInt
	ten.SetInt64(10)
	n.SetInt64(shift)
	p.Exp(&ten, &n, nil)
	d.Coeff.Mul(&d.Coeff, &p)
	d.Exponent = int32(-scale)
	return nil
}

// NumericDecimal parses the canonical text of a numeric datum into d.
func NumericDecimal(s string, d *apd.Decimal) error {
	switch s {
	case "NaN":
		d.Form, d.Negative = apd.NaN, false
		return nil
	case "Infinity":
		d.Form, d.Negative = apd.Infinite, false
		return nil
	case "-Infinity":
		d.Form, d.Negative = apd.Infinite, true
		return nil
	}
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 {
		return pgerr.InvalidTextInput.New(Numeric, s)
	}
	scale := 0
	if p := strings.IndexByte(s, '.'); p >= 0 {
		scale = len(s) - p - 1
		if len(s) <= 19 {
			// Fast path: at most 18 digits fit an int64.
			var v int64
			for i := 0; i < len(s); i++ {
				if c := s[i]; c != '.' {
					if c < '0' || c > '9' {
						return pgerr.InvalidTextInput.New(Numeric, s)
					}
					v = v*10 + int64(c-'0')
				}
			}
			d.Form, d.Negative, d.Exponent = apd.Finite, neg, int32(-scale)
			d.Coeff.SetInt64(v)
			return nil
		}
		s = s[:p] + s[p+1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return pgerr.InvalidTextInput.New(Numeric, s)
		}
	}
	if err := setCoeff(d, []byte(s)); err != nil {
		return err
	}
	d.Negative, d.Exponent = neg, int32(-scale)
	return nil
}

// NumericScale returns the display scale of d: the digits shown after
// the decimal point.
func NumericScale(d *apd.Decimal) int {
	if d.Form != apd.Finite || d.Exponent >= 0 {
		return 0
	}
	return int(-d.Exponent)
}

// AppendDecimal appends d as PostgreSQL prints a numeric: fixed notation
// with the scale of d's exponent, NaN, Infinity, -Infinity, no "-0".
func AppendDecimal(dst []byte, d *apd.Decimal) []byte {
	switch d.Form {
	case apd.NaN, apd.NaNSignaling:
		return append(dst, "NaN"...)
	case apd.Infinite:
		if d.Negative {
			return append(dst, "-Infinity"...)
		}
		return append(dst, "Infinity"...)
	}
	if d.Negative && d.Coeff.Sign() == 0 {
		var z apd.Decimal
		z.Set(d)
		z.Negative = false
		return z.Append(dst, 'f')
	}
	return d.Append(dst, 'f')
}

// NumericText checks d against numeric's range and returns its canonical
// text (22003 when it has too many digits before or after the point).
func NumericText(d *apd.Decimal) (string, error) {
	if err := checkNumericRange(d); err != nil {
		return "", err
	}
	var buf [40]byte
	return string(AppendDecimal(buf[:0], d)), nil
}

func checkNumericRange(d *apd.Decimal) error {
	if d.Form == apd.Finite {
		if NumericScale(d) > NumericMaxScale {
			return pgerr.NumericOverflow.New()
		}
		if d.Coeff.Sign() != 0 && int64(d.Exponent)+d.NumDigits() > NumericMaxIntDigits {
			return pgerr.NumericOverflow.New()
		}
	}
	return nil
}

// NumericDatum returns d as a numeric datum (22003 when out of range).
func NumericDatum(d *apd.Decimal) (Datum, error) {
	s, err := NumericText(d)
	if err != nil {
		return Datum{}, err
	}
	return Datum{T: Numeric, S: s}, nil
}

// NumericFromInt returns v as a numeric datum.
func NumericFromInt(v int64) Datum {
	return Datum{T: Numeric, S: strconv.FormatInt(v, 10)}
}

// NumericNormalized returns canonical numeric text without trailing
// fraction zeros ("1.500" -> "1.5", "2.000" -> "2"): equal values give
// equal strings (used where scale must not matter, such as hashing).
func NumericNormalized(s string) string {
	if strings.IndexByte(s, '.') < 0 {
		return s
	}
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" || s == "" {
		return "0"
	}
	return s
}

// ---- order-preserving key encoding ----

// Key classes, in PostgreSQL's order (NaN above everything).
const (
	numKeyNegInf = 0x01
	numKeyNeg    = 0x02
	numKeyZero   = 0x03
	numKeyPos    = 0x04
	numKeyPosInf = 0x05
	numKeyNaN    = 0x06
)

// AppendNumericKey appends an order-preserving, canonical encoding of
// the numeric whose canonical text is s: equal values (1.0, 1.00) give
// equal bytes. A finite non-zero value is its class byte, the decimal
// exponent of its leading digit (4 bytes, order-preserving), and its
// significant digits without trailing zeros, two per byte (1 + 00..99)
// ended by 0; negative values invert the bytes after the class.
func AppendNumericKey(dst []byte, s string) []byte {
	switch s {
	case "NaN":
		return append(dst, numKeyNaN)
	case "Infinity":
		return append(dst, numKeyPosInf)
	case "-Infinity":
		return append(dst, numKeyNegInf)
	}
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	// Significant digits: skip leading zeros (and the point), note where
	// the point is, drop trailing zeros.
	point := strings.IndexByte(s, '.')
	if point < 0 {
		point = len(s)
	}
	first := -1
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && c != '0' {
			first = i
			break
		}
	}
	if first < 0 {
		return append(dst, numKeyZero)
	}
	last := len(s) - 1
	for s[last] == '0' || s[last] == '.' {
		last--
	}
	// Decimal exponent of the leading digit.
	var exp int
	if first < point {
		exp = point - first - 1
	} else {
		exp = point - first
	}
	start := len(dst)
	cls := byte(numKeyPos)
	if neg {
		cls = numKeyNeg
	}
	dst = append(dst, cls)
	dst = binary.BigEndian.AppendUint32(dst, uint32(int32(exp))^1<<31)
	pair, half := 0, false
	for i := first; i <= last; i++ {
		c := s[i]
		if c == '.' {
			continue
		}
		if !half {
			pair, half = int(c-'0')*10, true
		} else {
			dst = append(dst, byte(1+pair+int(c-'0')))
			half = false
		}
	}
	if half {
		dst = append(dst, byte(1+pair))
	}
	dst = append(dst, 0)
	if neg {
		for i := start + 1; i < len(dst); i++ {
			dst[i] = ^dst[i]
		}
	}
	return dst
}

// errBadNumericKey is returned for a numeric key that cannot be decoded.
var errBadNumericKey = pgerr.CorruptViewState.New()

// DecodeNumericKey decodes a key written by AppendNumericKey, returning
// the canonical text (the shortest scale that shows the value) and the
// rest of buf.
func DecodeNumericKey(buf []byte) (string, []byte, error) {
	if len(buf) < 1 {
		return "", nil, errBadNumericKey
	}
	switch buf[0] {
	case numKeyNaN:
		return "NaN", buf[1:], nil
	case numKeyPosInf:
		return "Infinity", buf[1:], nil
	case numKeyNegInf:
		return "-Infinity", buf[1:], nil
	case numKeyZero:
		return "0", buf[1:], nil
	case numKeyPos, numKeyNeg:
	default:
		return "", nil, errBadNumericKey
	}
	neg := buf[0] == numKeyNeg
	inv := byte(0)
	if neg {
		inv = 0xFF
	}
	if len(buf) < 5 {
		return "", nil, errBadNumericKey
	}
	var eb [4]byte
	for i := range eb {
		eb[i] = buf[1+i] ^ inv
	}
	exp := int(int32(binary.BigEndian.Uint32(eb[:]) ^ 1<<31))
	buf = buf[5:]
	var digs []byte
	for {
		if len(buf) == 0 {
			return "", nil, errBadNumericKey
		}
		b := buf[0] ^ inv
		buf = buf[1:]
		if b == 0 {
			break
		}
		if b > 100 {
			return "", nil, errBadNumericKey
		}
		v := b - 1
		digs = append(digs, '0'+v/10, '0'+v%10)
	}
	for len(digs) > 0 && digs[len(digs)-1] == '0' {
		digs = digs[:len(digs)-1]
	}
	if len(digs) == 0 || exp > NumericMaxIntDigits || exp < -NumericMaxScale-1 {
		return "", nil, errBadNumericKey
	}
	var out []byte
	if neg {
		out = append(out, '-')
	}
	switch {
	case exp < 0:
		out = append(out, '0', '.')
		for i := -1; i > exp; i-- {
			out = append(out, '0')
		}
		out = append(out, digs...)
	case exp+1 >= len(digs):
		out = append(out, digs...)
		for i := len(digs); i <= exp; i++ {
			out = append(out, '0')
		}
	default:
		out = append(out, digs[:exp+1]...)
		out = append(out, '.')
		out = append(out, digs[exp+1:]...)
	}
	return string(out), buf, nil
}

// ---- binary wire form ----

// numericBinaryText decodes PostgreSQL's NUMERIC binary form (ndigits,
// weight, sign, dscale as int16, then ndigits base-10000 digits) into
// canonical text with the sent display scale.
func numericBinaryText(b []byte) (string, error) {
	if len(b) < 8 {
		return "", binaryErr(Numeric, len(b))
	}
	nd := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if len(b) != 8+2*nd || nd > numericMaxLen {
		return "", binaryErr(Numeric, len(b))
	}
	switch sign {
	case numericNaN:
		return "NaN", nil
	case numericPInf:
		return "Infinity", nil
	case numericNInf:
		return "-Infinity", nil
	case numericPos, numericNeg:
	default:
		return "", pgerr.BadNumericSign.New()
	}
	if dscale > NumericMaxScale {
		return "", pgerr.NumericOverflow.New()
	}
	digits := make([]byte, 0, 4*nd)
	for i := 0; i < nd; i++ {
		v := binary.BigEndian.Uint16(b[8+2*i:])
		if v > 9999 {
			return "", pgerr.BadNumericDigit.New()
		}
		digits = append(digits, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	var d apd.Decimal
	if nd == 0 {
		d.SetInt64(0)
	} else if err := setCoeff(&d, digits); err != nil {
		return "", err
	}
	d.Negative = sign == numericNeg
	d.Exponent = int32((weight - nd + 1) * 4)
	// Show exactly dscale digits after the point: digits beyond it are
	// dropped (as PostgreSQL's output would), missing ones are zeros.
	if NumericScale(&d) > dscale {
		ctx := NumericCtx
		ctx.Rounding = apd.RoundDown
		ctx.Precision = uint32(d.NumDigits() + 1)
		if _, err := ctx.Quantize(&d, &d, int32(-dscale)); err != nil {
			return "", pgerr.NumericOverflow.New()
		}
	} else {
		_ = rescale(&d, dscale)
	}
	return NumericText(&d)
}

// AppendNumericBinary appends the numeric with canonical text s in
// PostgreSQL's NUMERIC binary form.
func AppendNumericBinary(dst []byte, s string) []byte {
	head := func(nd, weight int, sign, dscale uint16) {
		dst = binary.BigEndian.AppendUint16(dst, uint16(nd))
		dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
		dst = binary.BigEndian.AppendUint16(dst, sign)
		dst = binary.BigEndian.AppendUint16(dst, dscale)
	}
	switch s {
	case "NaN":
		head(0, 0, numericNaN, 0)
		return dst
	case "Infinity":
		head(0, 0, numericPInf, 0)
		return dst
	case "-Infinity":
		head(0, 0, numericNInf, 0)
		return dst
	}
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart, frac := s, ""
	if p := strings.IndexByte(s, '.'); p >= 0 {
		intPart, frac = s[:p], s[p+1:]
	}
	dscale := len(frac)
	// Pad the integer part on the left and the fraction on the right to
	// whole base-10000 digits.
	lpad := (4 - len(intPart)%4) % 4
	rpad := (4 - len(frac)%4) % 4
	digs := make([]uint16, 0, (lpad+len(intPart)+len(frac)+rpad)/4)
	var cur, cnt int
	push := func(c byte) {
		cur = cur*10 + int(c-'0')
		cnt++
		if cnt == 4 {
			digs = append(digs, uint16(cur))
			cur, cnt = 0, 0
		}
	}
	for range lpad {
		push('0')
	}
	for i := 0; i < len(intPart); i++ {
		push(intPart[i])
	}
	intGroups := len(digs)
	for i := 0; i < len(frac); i++ {
		push(frac[i])
	}
	for range rpad {
		push('0')
	}
	weight := intGroups - 1
	d := digs
	for len(d) > 0 && d[0] == 0 {
		d = d[1:]
		weight--
	}
	for len(d) > 0 && d[len(d)-1] == 0 {
		d = d[:len(d)-1]
	}
	if len(d) == 0 {
		weight = 0
	}
	var sign uint16 = numericPos
	if neg && len(d) > 0 {
		sign = numericNeg
	}
	head(len(d), weight, sign, uint16(dscale))
	for _, v := range d {
		dst = binary.BigEndian.AppendUint16(dst, v)
	}
	return dst
}
