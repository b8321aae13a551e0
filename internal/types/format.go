package types

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Text and binary wire formats of every type, as PostgreSQL prints and
// reads them with DateStyle ISO, IntervalStyle postgres and TimeZone UTC.
//
// The per-type parsers take a string they never retain (error messages
// clone it), so callers on hot paths may pass an unsafe view of a byte
// slice without allocating (see AppendText* in format_column.go).

// Offsets between the Unix epoch (ours) and the PostgreSQL epoch
// (2000-01-01), used by the binary formats.
const (
	pgEpochDays   = 10957
	pgEpochMicros = pgEpochDays * microsPerDay

	microsPerSecond = 1_000_000
	microsPerMinute = 60 * microsPerSecond
	microsPerHour   = 60 * microsPerMinute
	microsPerDay    = 24 * microsPerHour
)

// Infinite timestamps and dates use the extreme values, as PostgreSQL does.
const (
	TimestampInfinity    = math.MaxInt64
	TimestampNegInfinity = math.MinInt64
	DateInfinity         = math.MaxInt32
	DateNegInfinity      = math.MinInt32
)

// ParseText parses the PostgreSQL text representation of a value of type
// t (as sent by clients in text format, in COPY text/csv, and in SQL
// string literals cast to t). Unknown is read as text. Errors are
// *pgerr.Error with SQLSTATE 22P02, 22003, 22007, 22008 or 22021.
func ParseText(t T, s string) (Datum, error) {
	if t.IsArray() {
		v, err := ParseArray(t, s)
		if err != nil {
			return Datum{}, err
		}
		return Datum{T: t, S: v}, nil
	}
	switch t {
	case Record:
		return Datum{}, errRecordInput()
	case Bytea:
		b, err := parseBytea(nil, s)
		if err != nil {
			return Datum{}, err
		}
		return Datum{T: Bytea, S: string(b)}, nil
	case Text, Unknown:
		if err := CheckUTF8(s); err != nil {
			return Datum{}, err
		}
		return Datum{T: Text, S: s}, nil
	case Interval:
		iv, err := parseInterval(s)
		if err != nil {
			return Datum{}, err
		}
		return Datum{T: Interval, Iv: iv}, nil
	case Numeric:
		v, err := ParseNumeric(s)
		if err != nil {
			return Datum{}, err
		}
		return Datum{T: Numeric, S: v}, nil
	case Json, Jsonb:
		v, err := ParseJSONText(t, s)
		if err != nil {
			return Datum{}, err
		}
		return Datum{T: t, S: v}, nil
	case Uuid:
		var u [16]byte
		if err := parseUUID(s, &u); err != nil {
			return Datum{}, err
		}
		return Datum{T: Uuid, S: string(u[:])}, nil
	case Float4, Float8:
		f, err := parseFloat(t, s)
		if err != nil {
			return Datum{}, err
		}
		return Datum{T: t, F: f}, nil
	}
	v, err := parseIntLike(t, s)
	if err != nil {
		return Datum{}, err
	}
	return Datum{T: t, I: v}, nil
}

// parseIntLike parses the types held in Datum.I.
func parseIntLike(t T, s string) (int64, error) {
	switch t {
	case Bool:
		return parseBool(s)
	case Int2:
		return parseInt(s, math.MinInt16, math.MaxInt16, "smallint")
	case Int4:
		return parseInt(s, math.MinInt32, math.MaxInt32, "integer")
	case Int8:
		return parseInt(s, math.MinInt64, math.MaxInt64, "bigint")
	case Timestamp, TimestampTZ:
		return parseTimestamp(t, s)
	case Date:
		return parseDate(s)
	}
	return 0, pgerr.CannotReadType.New(t)
}

// CheckUTF8 returns a 22021 error when s is not valid UTF-8 or holds a
// NUL byte (PostgreSQL text cannot hold either).
func CheckUTF8(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 {
			return pgerr.InvalidUTF8.New("0x00")
		}
		if c < utf8.RuneSelf {
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			end := min(i+2, len(s))
			var b strings.Builder
			for j := i; j < end; j++ {
				if j > i {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "0x%02x", s[j])
			}
			return pgerr.InvalidUTF8.New(b.String())
		}
		i += size - 1
	}
	return nil
}

func invalidSyntax(t T, s string) *pgerr.Error {
	switch t {
	case Timestamp, TimestampTZ, Date, Interval:
		return pgerr.InvalidDatetimeInput.New(t, strings.Clone(s))
	}
	return pgerr.InvalidTextInput.New(t, strings.Clone(s))
}

func outOfRange(t T, s string) *pgerr.Error {
	return pgerr.ValueOutOfRange.New(strings.Clone(s), t)
}

func fieldOutOfRange(s string) *pgerr.Error {
	return pgerr.DatetimeFieldOutOfRange.New(strings.Clone(s))
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func parseBool(s string) (int64, error) {
	w := trimSpace(s)
	if len(w) == 0 || len(w) > 5 {
		return 0, invalidSyntax(Bool, s)
	}
	var buf [5]byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	l := buf[:len(w)]
	// PostgreSQL accepts any unique prefix of the words.
	prefix := func(word string) bool { return len(l) <= len(word) && string(l) == word[:len(l)] }
	switch {
	case prefix("true"), prefix("yes"), string(l) == "1", len(l) >= 2 && prefix("on"):
		return 1, nil
	case prefix("false"), prefix("no"), string(l) == "0", len(l) >= 2 && prefix("off"):
		return 0, nil
	}
	return 0, invalidSyntax(Bool, s)
}

func intTypeOf(name string) T {
	switch name {
	case "smallint":
		return Int2
	case "integer":
		return Int4
	}
	return Int8
}

// parseInt parses a decimal integer with optional sign and surrounding
// spaces, checking it against [lo, hi].
func parseInt(s string, lo, hi int64, name string) (int64, error) {
	w := trimSpace(s)
	neg := false
	if len(w) > 0 && (w[0] == '-' || w[0] == '+') {
		neg = w[0] == '-'
		w = w[1:]
	}
	if len(w) == 0 {
		return 0, invalidSyntax(intTypeOf(name), s)
	}
	var u uint64
	overflow := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '_' && i > 0 && i < len(w)-1 && w[i-1] != '_' {
			continue // PostgreSQL 16 allows digit separators.
		}
		if c < '0' || c > '9' {
			return 0, invalidSyntax(intTypeOf(name), s)
		}
		if u > (math.MaxUint64-9)/10 {
			overflow = true
		}
		u = u*10 + uint64(c-'0')
	}
	var v int64
	switch {
	case overflow:
	case neg && u <= 1<<63:
		v = -int64(u-1) - 1
	case !neg && u <= math.MaxInt64:
		v = int64(u)
	default:
		overflow = true
	}
	if overflow || v < lo || v > hi {
		return 0, outOfRange(intTypeOf(name), s)
	}
	return v, nil
}

func parseFloat(t T, s string) (float64, error) {
	w := trimSpace(s)
	if len(w) == 0 {
		return 0, invalidSyntax(t, s)
	}
	// strconv accepts hex floats and underscores, PostgreSQL does not.
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '_' || c == 'x' || c == 'X' || c == 'p' || c == 'P' {
			return 0, invalidSyntax(t, s)
		}
	}
	bits := 64
	if t == Float4 {
		bits = 32
	}
	f, err := strconv.ParseFloat(w, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, pgerr.InputOutOfRange.New(strings.Clone(w), t)
		}
		return 0, invalidSyntax(t, s)
	}
	return f, nil
}

// ---- dates and timestamps ----

// DaysFromCivil returns the days since 1970-01-01 of a proleptic
// Gregorian date.
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := m + 9
	if m > 2 {
		mp = m - 3
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// CivilFromDays is the inverse of DaysFromCivil.
func CivilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// scanner walks a date/time string.
type scanner struct {
	s string
	i int
}

func (p *scanner) done() bool { return p.i >= len(p.s) }
func (p *scanner) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// digits reads up to max decimal digits; n is how many were read.
func (p *scanner) digits(max int) (v int64, n int) {
	for p.i < len(p.s) && n < max && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		v = v*10 + int64(p.s[p.i]-'0')
		p.i++
		n++
	}
	return v, n
}

func (p *scanner) skipSpaces() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

// restIs reports whether the rest equals word, case-insensitively.
func (p *scanner) restIs(word string) bool { return strings.EqualFold(p.s[p.i:], word) }

// dateTime is a parsed date/time string.
type dateTime struct {
	y, mo, d       int64
	h, mi, sec, us int64
	hasTime        bool
	hasZone        bool
	zoneSecs       int64          // east of UTC
	zoneLoc        *time.Location // a named zone, when given (zoneSecs unused)
	abbrFrom       int            // a zone abbreviation, when abbrTo > 0: trimSpace(input)[abbrFrom:abbrTo]
	abbrTo         int            // (offsets, not a string: dt must not point into the input)
	special        int            // 1 infinity, -1 -infinity
}

// parseDateTimeOrder reads 'DATE[( |T)HH:MM[:SS[.ffffff]]][ ][zone][ BC]'
// where DATE is YYYY-MM-DD or, with a day or month first, 'a/b/c',
// 'a.b.c' or 'a-b-c' in the field order given (DateStyle); zone is Z, UTC,
// GMT, an offset or an IANA name such as Europe/Berlin. bad reports a
// syntax error, rangeErr a field out of range.
func parseDateTimeOrder(s string, order DateOrder) (dt dateTime, bad, rangeErr bool) {
	w := trimSpace(s)
	if len(w) > 0 && (w[0] < '0' || w[0] > '9') {
		switch {
		case strings.EqualFold(w, "infinity"), strings.EqualFold(w, "+infinity"):
			dt.special = 1
			return dt, false, false
		case strings.EqualFold(w, "-infinity"):
			dt.special = -1
			return dt, false, false
		case strings.EqualFold(w, "epoch"):
			dt.y, dt.mo, dt.d = 1970, 1, 1
			dt.hasZone = true // the epoch is an instant
			return dt, false, false
		}
	}
	p := scanner{s: w}
	a, na := p.digits(9)
	sep := p.peek()
	if na == 0 || (sep != '-' && sep != '/' && sep != '.') {
		return dt, true, false
	}
	p.i++
	b, nb := p.digits(2)
	if nb == 0 || p.peek() != sep {
		return dt, true, false
	}
	p.i++
	c, nc := p.digits(9)
	if nc == 0 {
		return dt, true, false
	}
	// A year written with one or two digits means 1970..2069, as in
	// PostgreSQL.
	year := func(v int64, n int) int64 {
		if n <= 2 {
			if v < 70 {
				return v + 2000
			}
			return v + 1900
		}
		return v
	}
	switch {
	case na > 2 || order == OrderYMD:
		if nc > 2 {
			return dt, true, false
		}
		dt.y, dt.mo, dt.d = year(a, na), b, c
	case order == OrderDMY:
		dt.d, dt.mo, dt.y = a, b, year(c, nc)
	default:
		dt.mo, dt.d, dt.y = a, b, year(c, nc)
	}
	// Time part.
	if c := p.peek(); c == 'T' || c == 't' || c == ' ' {
		save := p.i
		p.i++
		p.skipSpaces()
		if h, n := p.digits(2); n > 0 && p.peek() == ':' {
			dt.h = h
			dt.hasTime = true
			p.i++
			if dt.mi, n = p.digits(2); n == 0 {
				return dt, true, false
			}
			if p.peek() == ':' {
				p.i++
				if dt.sec, n = p.digits(2); n == 0 {
					return dt, true, false
				}
				if p.peek() == '.' {
					p.i++
					frac, n := p.digits(18)
					if n == 0 {
						return dt, true, false
					}
					// Round to microseconds, as PostgreSQL does.
					for ; n < 6; n++ {
						frac *= 10
					}
					for ; n > 7; n-- {
						frac /= 10
					}
					if n == 7 {
						frac = (frac + 5) / 10
					}
					// Digits past 18 are ignored.
					for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
						p.i++
					}
					dt.us = frac
				}
			}
		} else {
			p.i = save
		}
	}
	// Zone.
	p.skipSpaces()
	switch c := p.peek(); {
	case c == 'Z' || c == 'z':
		p.i++
		dt.hasZone = true
	case c == '+' || c == '-':
		p.i++
		h, n := p.digits(2)
		if n == 0 {
			return dt, true, false
		}
		var m, sec int64
		if p.peek() == ':' {
			p.i++
			if m, n = p.digits(2); n == 0 {
				return dt, true, false
			}
			if p.peek() == ':' {
				p.i++
				if sec, n = p.digits(2); n == 0 {
					return dt, true, false
				}
			}
		} else if m, n = p.digits(2); n == 1 {
			return dt, true, false
		}
		if h > 15 || m > 59 || sec > 59 {
			return dt, false, true
		}
		dt.hasZone = true
		dt.zoneSecs = h*3600 + m*60 + sec
		if c == '-' {
			dt.zoneSecs = -dt.zoneSecs
		}
	case len(p.s)-p.i >= 3 && (strings.EqualFold(p.s[p.i:p.i+3], "utc") || strings.EqualFold(p.s[p.i:p.i+3], "gmt")) &&
		(len(p.s)-p.i == 3 || isSpace(p.s[p.i+3])):
		p.i += 3
		dt.hasZone = true
	case (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'):
		// A zone name such as Europe/Berlin.
		end := p.i
		for end < len(p.s) && !isSpace(p.s[end]) {
			end++
		}
		if name := p.s[p.i:end]; strings.IndexByte(name, '/') > 0 {
			loc, ok := LoadZone(name)
			if !ok {
				return dt, true, false
			}
			dt.zoneLoc = loc
			dt.hasZone = true
			p.i = end
		} else if n := len(name); n >= 3 && n <= 6 && !strings.EqualFold(name, "bc") && !strings.EqualFold(name, "ad") {
			// An abbreviation such as CET or PDT, as the SQL, Postgres and
			// German DateStyles print: resolved when the timestamp is.
			dt.abbrFrom, dt.abbrTo = p.i, end
			dt.hasZone = true
			p.i = end
		}
	}
	p.skipSpaces()
	if !p.done() {
		switch {
		case p.restIs("bc"):
			if dt.y == 0 {
				return dt, false, true
			}
			dt.y = 1 - dt.y
		case p.restIs("ad"):
		default:
			return dt, true, false
		}
	} else if dt.y == 0 {
		return dt, false, true
	}
	if dt.mo < 1 || dt.mo > 12 || dt.d < 1 || dt.d > daysIn(dt.y, dt.mo) ||
		dt.h > 24 || dt.mi > 59 || dt.sec > 60 ||
		(dt.h == 24 && (dt.mi != 0 || dt.sec != 0 || dt.us != 0)) {
		return dt, false, true
	}
	return dt, false, false
}

func parseTimestamp(t T, s string) (int64, error) {
	return parseTimestampStyle(t, s, nil)
}

// parseTimestampStyle reads a timestamp with the session style st: dates
// in its field order, and a timestamptz written without a zone as a time
// in its time zone.
func parseTimestampStyle(t T, s string, st *Style) (int64, error) {
	dt, bad, rangeErr := parseDateTimeOrder(s, st.orDefault().Order)
	if bad {
		return 0, invalidSyntax(t, s)
	}
	if rangeErr {
		return 0, fieldOutOfRange(s)
	}
	switch dt.special {
	case 1:
		return TimestampInfinity, nil
	case -1:
		return TimestampNegInfinity, nil
	}
	// PostgreSQL's range is 4714 BC .. 294276 AD.
	if dt.y < -4713 || dt.y > 294276 {
		return 0, pgerr.TimestampInputOutOfRange.New(strings.Clone(s))
	}
	days := DaysFromCivil(dt.y, dt.mo, dt.d)
	us := days*microsPerDay + dt.h*microsPerHour + dt.mi*microsPerMinute + dt.sec*microsPerSecond + dt.us
	// A timestamp without time zone ignores a written zone, as PostgreSQL does.
	switch {
	case t != TimestampTZ:
	case dt.zoneLoc != nil:
		us = (&Style{Loc: dt.zoneLoc}).FromLocal(us)
	case dt.abbrTo > 0:
		off, ok := st.abbrOffset(trimSpace(s)[dt.abbrFrom:dt.abbrTo], us)
		if !ok {
			return 0, invalidSyntax(t, s)
		}
		us -= off * microsPerSecond
	case dt.hasZone:
		us -= dt.zoneSecs * microsPerSecond
	default:
		us = st.FromLocal(us)
	}
	return us, nil
}

func parseDate(s string) (int64, error) {
	return parseDateOrder(s, OrderMDY)
}

func parseDateOrder(s string, order DateOrder) (int64, error) {
	dt, bad, rangeErr := parseDateTimeOrder(s, order)
	if bad {
		return 0, invalidSyntax(Date, s)
	}
	if rangeErr {
		return 0, fieldOutOfRange(s)
	}
	switch dt.special {
	case 1:
		return DateInfinity, nil
	case -1:
		return DateNegInfinity, nil
	}
	if dt.y < -4713 || dt.y > 5874897 {
		return 0, pgerr.DateInputOutOfRange.New(strings.Clone(s))
	}
	return DaysFromCivil(dt.y, dt.mo, dt.d), nil
}

// ---- intervals ----

var intervalUnits = map[string]struct {
	months int64 // months per unit
	micros int64 // microseconds per unit (when months == 0)
	days   bool  // unit is days (micros holds days per unit)
}{
	"microsecond": {micros: 1}, "microseconds": {micros: 1}, "us": {micros: 1}, "usec": {micros: 1}, "usecs": {micros: 1}, "useconds": {micros: 1},
	"millisecond": {micros: 1000}, "milliseconds": {micros: 1000}, "ms": {micros: 1000}, "msec": {micros: 1000}, "msecs": {micros: 1000}, "mseconds": {micros: 1000},
	"second": {micros: microsPerSecond}, "seconds": {micros: microsPerSecond}, "s": {micros: microsPerSecond}, "sec": {micros: microsPerSecond}, "secs": {micros: microsPerSecond},
	"minute": {micros: microsPerMinute}, "minutes": {micros: microsPerMinute}, "m": {micros: microsPerMinute}, "min": {micros: microsPerMinute}, "mins": {micros: microsPerMinute},
	"hour": {micros: microsPerHour}, "hours": {micros: microsPerHour}, "h": {micros: microsPerHour}, "hr": {micros: microsPerHour}, "hrs": {micros: microsPerHour},
	"day": {micros: 1, days: true}, "days": {micros: 1, days: true}, "d": {micros: 1, days: true},
	"week": {micros: 7, days: true}, "weeks": {micros: 7, days: true}, "w": {micros: 7, days: true},
	"month": {months: 1}, "months": {months: 1}, "mon": {months: 1}, "mons": {months: 1},
	"year": {months: 12}, "years": {months: 12}, "y": {months: 12}, "yr": {months: 12}, "yrs": {months: 12},
	"decade": {months: 120}, "decades": {months: 120}, "dec": {months: 120}, "decs": {months: 120},
	"century": {months: 1200}, "centuries": {months: 1200}, "cent": {months: 1200}, "c": {months: 1200},
	"millennium": {months: 12000}, "millennia": {months: 12000}, "millenniums": {months: 12000}, "mil": {months: 12000}, "mils": {months: 12000},
}

// ivAcc accumulates an interval with fractional spill-over: fractional
// months become days (30 per month) and fractional days become time
// (24 hours per day), as in PostgreSQL.
type ivAcc struct {
	months, days, micros float64
}

func (a *ivAcc) add(v float64, unit string) bool {
	u, ok := intervalUnits[unit]
	if !ok {
		return false
	}
	switch {
	case u.months != 0:
		m := v * float64(u.months)
		whole := math.Trunc(m)
		a.months += whole
		d := (m - whole) * 30
		wd := math.Trunc(d)
		a.days += wd
		a.micros += math.Round((d - wd) * microsPerDay)
	case u.days:
		d := v * float64(u.micros)
		wd := math.Trunc(d)
		a.days += wd
		a.micros += math.Round((d - wd) * microsPerDay)
	default:
		a.micros += math.Round(v * float64(u.micros))
	}
	return true
}

func parseInterval(s string) (IntervalValue, error) {
	w := trimSpace(s)
	if len(w) > 0 && (w[0] == 'P' || w[0] == 'p') {
		return parseISOInterval(s, w[1:])
	}
	var acc ivAcc
	p := scanner{s: w}
	p.skipSpaces()
	if p.peek() == '@' {
		p.i++
	}
	any := false
	for {
		p.skipSpaces()
		if p.done() {
			break
		}
		start := p.i
		neg := false
		if c := p.peek(); c == '-' || c == '+' {
			neg = c == '-'
			p.i++
		}
		// Time field hh:mm[:ss[.f]] (or mm:ss.f when it has a fraction after
		// the second field, which PostgreSQL reads as minutes:seconds).
		numStart := p.i
		for p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '.') {
			p.i++
		}
		if p.i == numStart {
			// A word: "ago" negates everything.
			for p.i < len(p.s) && !isSpace(p.s[p.i]) {
				p.i++
			}
			if strings.EqualFold(p.s[start:p.i], "ago") && any {
				acc.months, acc.days, acc.micros = -acc.months, -acc.days, -acc.micros
				p.skipSpaces()
				if !p.done() {
					return IntervalValue{}, invalidSyntax(Interval, s)
				}
				break
			}
			return IntervalValue{}, invalidSyntax(Interval, s)
		}
		num := p.s[numStart:p.i]
		if p.peek() == ':' {
			us, ok := parseClock(p.s, &p.i, num)
			if !ok {
				return IntervalValue{}, invalidSyntax(Interval, s)
			}
			if neg {
				us = -us
			}
			acc.micros += float64(us)
			any = true
			continue
		}
		if p.peek() == '-' && p.i+1 < len(p.s) && p.s[p.i+1] >= '0' && p.s[p.i+1] <= '9' && !strings.Contains(num, ".") {
			// SQL-standard year-month: 1-2 is 1 year 2 months, -1-2 minus both.
			p.i++
			mo, n := p.digits(2)
			y, err := strconv.ParseInt(num, 10, 32)
			if n == 0 || mo > 11 || err != nil || (!p.done() && !isSpace(p.peek())) {
				return IntervalValue{}, invalidSyntax(Interval, s)
			}
			m := float64(y*12 + mo)
			if neg {
				m = -m
			}
			acc.add(m, "month")
			any = true
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return IntervalValue{}, invalidSyntax(Interval, s)
		}
		if neg {
			v = -v
		}
		p.skipSpaces()
		us := p.i
		for p.i < len(p.s) && (p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] >= 'A' && p.s[p.i] <= 'Z') {
			p.i++
		}
		unit := strings.ToLower(p.s[us:p.i])
		if unit == "" || unit == "ago" {
			// A bare number is seconds, or days before a time field
			// (SQL-standard '3 4:05:06').
			p.i = us
			unit = "second"
			if clockNext(p.s[us:]) {
				unit = "day"
			}
		}
		if !acc.add(v, unit) {
			return IntervalValue{}, invalidSyntax(Interval, s)
		}
		any = true
	}
	if !any {
		return IntervalValue{}, invalidSyntax(Interval, s)
	}
	return acc.value(s)
}

// clockNext reports whether s starts with a time field: [+-]digits':'.
func clockNext(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i > 0 && i < len(s) && s[i] == ':'
}

// parseClock reads the rest of h:mm[:ss[.f]] after the first number.
func parseClock(s string, i *int, first string) (int64, bool) {
	h, err := strconv.ParseInt(first, 10, 64)
	if err != nil || h > 1<<31 {
		return 0, false
	}
	p := scanner{s: s, i: *i + 1}
	m, n := p.digits(2)
	if n == 0 || m > 59 {
		return 0, false
	}
	us := h*microsPerHour + m*microsPerMinute
	if p.peek() == ':' {
		p.i++
		sec, n := p.digits(2)
		if n == 0 || sec > 59 {
			return 0, false
		}
		us += sec * microsPerSecond
	}
	if p.peek() == '.' {
		fs := p.i
		p.i++
		if _, n := p.digits(30); n == 0 {
			return 0, false
		}
		f, err := strconv.ParseFloat("0"+s[fs:p.i], 64)
		if err != nil {
			return 0, false
		}
		us += int64(math.Round(f * microsPerSecond))
	}
	if !p.done() && !isSpace(p.peek()) {
		return 0, false
	}
	*i = p.i
	return us, true
}

func (a *ivAcc) value(s string) (IntervalValue, error) {
	// Carry whole days out of the fractional micros only where they came
	// from fractions; PostgreSQL keeps '25 hours' as 25:00:00.
	if math.Abs(a.months) > math.MaxInt32 || math.Abs(a.days) > math.MaxInt32 || math.Abs(a.micros) > math.MaxInt64/2 {
		return IntervalValue{}, pgerr.IntervalFieldOutOfRange.New(strings.Clone(s))
	}
	return IntervalValue{Months: int32(a.months), Days: int32(a.days), Micros: int64(a.micros)}, nil
}

// parseISOInterval reads the ISO 8601 form after the leading 'P':
// PnYnMnWnDTnHnMnS.
func parseISOInterval(s, w string) (IntervalValue, error) {
	var acc ivAcc
	inTime := false
	any := false
	for i := 0; i < len(w); {
		if w[i] == 'T' || w[i] == 't' {
			inTime = true
			i++
			continue
		}
		j := i
		if j < len(w) && (w[j] == '-' || w[j] == '+') {
			j++
		}
		for j < len(w) && (w[j] >= '0' && w[j] <= '9' || w[j] == '.') {
			j++
		}
		if j == i || j >= len(w) {
			return IntervalValue{}, invalidSyntax(Interval, s)
		}
		v, err := strconv.ParseFloat(w[i:j], 64)
		if err != nil {
			return IntervalValue{}, invalidSyntax(Interval, s)
		}
		var unit string
		switch w[j] | 0x20 {
		case 'y':
			unit = "year"
		case 'm':
			unit = "month"
			if inTime {
				unit = "minute"
			}
		case 'w':
			unit = "week"
		case 'd':
			unit = "day"
		case 'h':
			unit = "hour"
		case 's':
			unit = "second"
		default:
			return IntervalValue{}, invalidSyntax(Interval, s)
		}
		acc.add(v, unit)
		any = true
		i = j + 1
	}
	if !any {
		return IntervalValue{}, invalidSyntax(Interval, s)
	}
	return acc.value(s)
}

// ---- text output ----

// AppendText appends the PostgreSQL text representation of d (which must
// not be NULL) to dst.
func AppendText(dst []byte, d Datum) []byte {
	if d.T.IsArray() {
		return append(dst, d.S...)
	}
	switch d.T {
	case Record:
		return appendRecordText(dst, d)
	case Bytea:
		return AppendByteaHex(dst, d.S)
	case Text, Unknown:
		return append(dst, d.S...)
	case Bool:
		if d.I != 0 {
			return append(dst, 't')
		}
		return append(dst, 'f')
	case Int2, Int4, Int8:
		return strconv.AppendInt(dst, d.I, 10)
	case Float4:
		return AppendFloat(dst, d.F, 32)
	case Float8:
		return AppendFloat(dst, d.F, 64)
	case Numeric, Json, Jsonb:
		return append(dst, d.S...)
	case Uuid:
		return AppendUUID(dst, d.S)
	case Timestamp:
		return AppendTimestamp(dst, d.I, false)
	case TimestampTZ:
		return AppendTimestamp(dst, d.I, true)
	case Date:
		return AppendDate(dst, d.I)
	case Interval:
		return AppendInterval(dst, d.Iv)
	}
	return dst
}

// AppendFloat appends f the way PostgreSQL 12+ prints float4 (bits 32)
// and float8 (bits 64): the shortest digits that read back exactly, in
// fixed notation for decimal exponents in [-4, 15) (float4: [-4, 6)),
// otherwise d.ddde+XX.
func AppendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, bits)
	// e is [-]d[.ddd]e(+|-)XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	ei := 0
	for e[ei] != 'e' {
		ei++
	}
	exp, _ := strconv.Atoi(string(e[ei+1:]))
	var digs [24]byte
	nd := 0
	for _, c := range e[:ei] {
		if c != '.' {
			digs[nd] = c
			nd++
		}
	}
	hi := 15
	if bits == 32 {
		hi = 6
	}
	if neg {
		dst = append(dst, '-')
	}
	if exp < -4 || exp >= hi {
		return append(dst, e...)
	}
	if exp < 0 {
		dst = append(dst, '0', '.')
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		return append(dst, digs[:nd]...)
	}
	for i := 0; i <= exp; i++ {
		if i < nd {
			dst = append(dst, digs[i])
		} else {
			dst = append(dst, '0')
		}
	}
	if nd > exp+1 {
		dst = append(dst, '.')
		dst = append(dst, digs[exp+1:nd]...)
	}
	return dst
}

func append2(dst []byte, v int64) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func appendYear(dst []byte, y int64) []byte {
	if y < 1000 {
		return append(dst, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	}
	return strconv.AppendInt(dst, y, 10)
}

// AppendTimestamp appends micros since the Unix epoch as
// 'YYYY-MM-DD HH:MM:SS[.ffffff]' and, for timestamptz, '+00'.
func AppendTimestamp(dst []byte, us int64, tz bool) []byte {
	switch us {
	case TimestampInfinity:
		return append(dst, "infinity"...)
	case TimestampNegInfinity:
		return append(dst, "-infinity"...)
	}
	days, rem := floorDiv(us, microsPerDay)
	y, m, d := CivilFromDays(days)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	dst = appendYear(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, ' ')
	dst = append2(dst, rem/microsPerHour)
	dst = append(dst, ':')
	dst = append2(dst, rem/microsPerMinute%60)
	dst = append(dst, ':')
	dst = append2(dst, rem/microsPerSecond%60)
	dst = appendFraction(dst, rem%microsPerSecond)
	if tz {
		dst = append(dst, '+', '0', '0')
	}
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// appendFraction appends '.ffffff' without trailing zeros (nothing for 0).
func appendFraction(dst []byte, us int64) []byte {
	if us == 0 {
		return dst
	}
	var b [7]byte
	b[0] = '.'
	for i := 6; i >= 1; i-- {
		b[i] = byte('0' + us%10)
		us /= 10
	}
	n := 7
	for b[n-1] == '0' {
		n--
	}
	return append(dst, b[:n]...)
}

// AppendDate appends days since the Unix epoch as 'YYYY-MM-DD'.
func AppendDate(dst []byte, days int64) []byte {
	switch days {
	case DateInfinity:
		return append(dst, "infinity"...)
	case DateNegInfinity:
		return append(dst, "-infinity"...)
	}
	y, m, d := CivilFromDays(days)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	dst = appendYear(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// AppendInterval appends iv in PostgreSQL's default (postgres) style:
// '1 year 2 mons 3 days 04:05:06.5', '-1 days +02:00:00', '00:00:00'.
func AppendInterval(dst []byte, iv IntervalValue) []byte {
	isZero, isBefore := true, false
	part := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if !isZero {
			dst = append(dst, ' ')
		}
		if isBefore && v > 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, v, 10)
		dst = append(dst, ' ')
		dst = append(dst, unit...)
		if v != 1 {
			dst = append(dst, 's')
		}
		isBefore = v < 0
		isZero = false
	}
	part(int64(iv.Months)/12, "year")
	part(int64(iv.Months)%12, "mon")
	part(int64(iv.Days), "day")
	us := iv.Micros
	if isZero || us != 0 {
		if !isZero {
			dst = append(dst, ' ')
		}
		var u uint64
		if us < 0 {
			dst = append(dst, '-')
			u = uint64(-(us + 1)) + 1
		} else {
			if isBefore {
				dst = append(dst, '+')
			}
			u = uint64(us)
		}
		h := u / microsPerHour
		if h < 10 {
			dst = append(dst, '0')
		}
		dst = strconv.AppendUint(dst, h, 10)
		dst = append(dst, ':')
		dst = append2(dst, int64(u/microsPerMinute%60))
		dst = append(dst, ':')
		dst = append2(dst, int64(u/microsPerSecond%60))
		dst = appendFraction(dst, int64(u%microsPerSecond))
	}
	return dst
}

// ---- binary ----

func binaryErr(t T, n int) *pgerr.Error {
	return pgerr.BadBinaryLength.New(n, t)
}

// ParseBinary decodes the PostgreSQL binary representation of a value of
// type t. Errors are *pgerr.Error (22P03 for a wrong length, 22021 for
// invalid UTF-8).
func ParseBinary(t T, b []byte) (Datum, error) {
	if t.IsArray() {
		v, err := parseArrayBinary(t, b)
		return Datum{T: t, S: v}, err
	}
	switch t {
	case Record:
		return Datum{}, errRecordInput()
	case Bytea:
		return Datum{T: Bytea, S: string(b)}, nil
	case Text, Unknown:
		s := string(b)
		if err := CheckUTF8(s); err != nil {
			return Datum{}, err
		}
		return Datum{T: Text, S: s}, nil
	case Numeric:
		v, err := numericBinaryText(b)
		return Datum{T: t, S: v}, err
	case Json:
		return ParseText(t, string(b))
	case Uuid:
		if len(b) != 16 {
			return Datum{}, binaryErr(t, len(b))
		}
		return Datum{T: t, S: string(b)}, nil
	case Jsonb:
		// jsonb's binary form is a version byte (1) and the text.
		if len(b) < 1 || b[0] != 1 {
			return Datum{}, pgerr.BadJSONBVersion.New()
		}
		return ParseText(t, string(b[1:]))
	case Float4, Float8:
		f, err := parseBinaryFloat(t, b)
		return Datum{T: t, F: f}, err
	case Interval:
		if len(b) != 16 {
			return Datum{}, binaryErr(t, len(b))
		}
		return Datum{T: t, Iv: IntervalValue{
			Micros: int64(binary.BigEndian.Uint64(b)),
			Days:   int32(binary.BigEndian.Uint32(b[8:])),
			Months: int32(binary.BigEndian.Uint32(b[12:])),
		}}, nil
	}
	v, err := parseBinaryInt(t, b)
	return Datum{T: t, I: v}, err
}

func parseBinaryInt(t T, b []byte) (int64, error) {
	switch t {
	case Bool:
		if len(b) != 1 {
			return 0, binaryErr(t, len(b))
		}
		if b[0] != 0 {
			return 1, nil
		}
		return 0, nil
	case Int2:
		if len(b) != 2 {
			return 0, binaryErr(t, len(b))
		}
		return int64(int16(binary.BigEndian.Uint16(b))), nil
	case Int4:
		if len(b) != 4 {
			return 0, binaryErr(t, len(b))
		}
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case Int8:
		if len(b) != 8 {
			return 0, binaryErr(t, len(b))
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	case Timestamp, TimestampTZ:
		if len(b) != 8 {
			return 0, binaryErr(t, len(b))
		}
		v := int64(binary.BigEndian.Uint64(b))
		if v == TimestampInfinity || v == TimestampNegInfinity {
			return v, nil
		}
		return v + pgEpochMicros, nil
	case Date:
		if len(b) != 4 {
			return 0, binaryErr(t, len(b))
		}
		v := int64(int32(binary.BigEndian.Uint32(b)))
		if v == DateInfinity || v == DateNegInfinity {
			return v, nil
		}
		return v + pgEpochDays, nil
	}
	return 0, binaryErr(t, len(b))
}

func parseBinaryFloat(t T, b []byte) (float64, error) {
	switch t {
	case Float4:
		if len(b) != 4 {
			return 0, binaryErr(t, len(b))
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	case Float8:
		if len(b) != 8 {
			return 0, binaryErr(t, len(b))
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	}
	return 0, binaryErr(t, len(b))
}

// Numeric binary sign words.
const (
	numericPos    = 0x0000
	numericNeg    = 0x4000
	numericNaN    = 0xC000
	numericPInf   = 0xD000
	numericNInf   = 0xF000
	numericMaxLen = 1 + 4*1024 // digits we accept in one value
)

// AppendBinary appends the PostgreSQL binary representation of d (not NULL).
func AppendBinary(dst []byte, d Datum) []byte {
	if d.T.IsArray() {
		return appendArrayBinary(dst, d.T, d.S)
	}
	switch d.T {
	case Text, Unknown, Bytea, Record:
		return append(dst, d.S...)
	case Bool:
		if d.I != 0 {
			return append(dst, 1)
		}
		return append(dst, 0)
	case Int2:
		return binary.BigEndian.AppendUint16(dst, uint16(d.I))
	case Int4:
		return binary.BigEndian.AppendUint32(dst, uint32(d.I))
	case Int8:
		return binary.BigEndian.AppendUint64(dst, uint64(d.I))
	case Float4:
		if math.IsNaN(d.F) {
			return binary.BigEndian.AppendUint32(dst, 0x7fc00000) // PostgreSQL's NaN
		}
		return binary.BigEndian.AppendUint32(dst, math.Float32bits(float32(d.F)))
	case Float8:
		if math.IsNaN(d.F) {
			return binary.BigEndian.AppendUint64(dst, 0x7ff8000000000000) // PostgreSQL's NaN
		}
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(d.F))
	case Numeric:
		return AppendNumericBinary(dst, d.S)
	case Json, Uuid:
		return append(dst, d.S...)
	case Jsonb:
		return append(append(dst, 1), d.S...)
	case Timestamp, TimestampTZ:
		v := d.I
		if v != TimestampInfinity && v != TimestampNegInfinity {
			v -= pgEpochMicros
		}
		return binary.BigEndian.AppendUint64(dst, uint64(v))
	case Date:
		v := d.I
		if v != DateInfinity && v != DateNegInfinity {
			v -= pgEpochDays
		}
		return binary.BigEndian.AppendUint32(dst, uint32(int32(v)))
	case Interval:
		dst = binary.BigEndian.AppendUint64(dst, uint64(d.Iv.Micros))
		dst = binary.BigEndian.AppendUint32(dst, uint32(d.Iv.Days))
		return binary.BigEndian.AppendUint32(dst, uint32(d.Iv.Months))
	}
	return dst
}

// appendFloatNumeric appends f as numeric text with the shortest digits
// that read back as f (for numeric values stored as float64 by version 1
// batches).
func appendFloatNumeric(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	var buf [32]byte
	v, err := ParseNumeric(string(strconv.AppendFloat(buf[:0], f, 'g', -1, 64)))
	if err != nil {
		return append(dst, '0')
	}
	return append(dst, v...)
}

// NumericFromFloat converts a float to numeric as PostgreSQL does: with
// digits significant digits (15 for float8, 6 for float4), NaN and
// ±Infinity kept.
func NumericFromFloat(f float64, digits int) Datum {
	switch {
	case math.IsNaN(f):
		return NewNumeric("NaN")
	case math.IsInf(f, 1):
		return NewNumeric("Infinity")
	case math.IsInf(f, -1):
		return NewNumeric("-Infinity")
	}
	var buf [32]byte
	v, err := ParseNumeric(string(strconv.AppendFloat(buf[:0], f, 'g', digits, 64)))
	if err != nil {
		return NewNumeric("NaN")
	}
	return NewNumeric(v)
}

// parseUUID reads PostgreSQL's uuid input: 32 hex digits, optionally in
// braces, with a hyphen allowed after any group of four.
func parseUUID(s string, u *[16]byte) error {
	w := s
	if len(w) >= 2 && w[0] == '{' && w[len(w)-1] == '}' {
		w = w[1 : len(w)-1]
	}
	n := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c == '-' {
			// Only after a complete group of four, never first or last.
			if n == 0 || n%4 != 0 || i == len(w)-1 || w[i+1] == '-' || n == 32 {
				return invalidSyntax(Uuid, s)
			}
			continue
		}
		v, ok := hexVal(c)
		if !ok || n == 32 {
			return invalidSyntax(Uuid, s)
		}
		if n%2 == 0 {
			u[n/2] = v << 4
		} else {
			u[n/2] |= v
		}
		n++
	}
	if n != 32 {
		return invalidSyntax(Uuid, s)
	}
	return nil
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// AppendUUID appends the 16 bytes b as PostgreSQL prints a uuid
// (8-4-4-4-12 lower-case hex digits).
func AppendUUID(dst []byte, b string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(b); i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[b[i]>>4], hex[b[i]&15])
	}
	return dst
}

var zones struct {
	mu sync.RWMutex
	m  map[string]*time.Location
}

// LoadZone returns the IANA time zone name (Europe/Berlin), loaded once.
// It does not retain name (parsers pass unsafe views).
func LoadZone(name string) (*time.Location, bool) {
	zones.mu.RLock()
	loc, ok := zones.m[name]
	zones.mu.RUnlock()
	if ok {
		return loc, true
	}
	if strings.Contains(name, "..") || strings.HasPrefix(name, "/") || len(name) > 64 {
		return nil, false
	}
	key := strings.Clone(name)
	loc, err := time.LoadLocation(key)
	if err != nil {
		return nil, false
	}
	zones.mu.Lock()
	if zones.m == nil {
		zones.m = map[string]*time.Location{}
	}
	if len(zones.m) < 4096 {
		zones.m[key] = loc
	}
	zones.mu.Unlock()
	return loc, true
}
