package types

import (
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones work without the host's zoneinfo files
)

// A session's TimeZone, DateStyle, IntervalStyle and extra_float_digits
// change how values are written as text and how date/time text is read.
// Style carries them; a nil *Style is PostgreSQL's defaults (UTC, "ISO,
// MDY", postgres, extra_float_digits 1), which is what AppendText and
// ParseText use.

// DateStyle is the output half of PostgreSQL's DateStyle.
type DateStyle uint8

// The DateStyle output styles.
const (
	DateISO      DateStyle = iota // 1997-12-17 07:37:16-08
	DateSQL                       // 12/17/1997 07:37:16 PST
	DatePostgres                  // Wed Dec 17 07:37:16 1997 PST
	DateGerman                    // 17.12.1997 07:37:16 PST
)

// DateOrder is the field order half of DateStyle: how ambiguous input
// such as 01/02/2024 is read, and the order of the SQL and Postgres
// output styles.
type DateOrder uint8

// The DateStyle field orders.
const (
	OrderMDY DateOrder = iota
	OrderDMY
	OrderYMD
)

// IntervalStyle is PostgreSQL's IntervalStyle.
type IntervalStyle uint8

// The IntervalStyle values.
const (
	IntervalPostgres        IntervalStyle = iota // 1 year 2 mons 3 days 04:05:06
	IntervalPostgresVerbose                      // @ 1 year 2 mons 3 days 4 hours 5 mins 6 secs
	IntervalSQLStandard                          // +1-2 +3 +4:05:06
	IntervalISO8601                              // P1Y2M3DT4H5M6S
)

// Style is how one session writes values as text and reads date/time text.
type Style struct {
	Loc         *time.Location // TimeZone; nil is UTC
	Date        DateStyle
	Order       DateOrder
	Interval    IntervalStyle
	FloatDigits int // extra_float_digits (-15..3); > 0 prints the shortest exact digits
}

// DefaultStyle is PostgreSQL's default style, with TimeZone UTC.
var DefaultStyle = Style{FloatDigits: 1}

func (st *Style) orDefault() *Style {
	if st == nil {
		return &DefaultStyle
	}
	return st
}

// IsUTC reports whether st's time zone is UTC.
func (st *Style) IsUTC() bool { return st == nil || st.Loc == nil || st.Loc == time.UTC }

// Zone returns the offset east of UTC in seconds, and the abbreviation,
// of st's time zone at the instant us (microseconds since the Unix epoch).
func (st *Style) Zone(us int64) (offset int64, abbr string) {
	if st.IsUTC() || us == TimestampInfinity || us == TimestampNegInfinity {
		return 0, "UTC"
	}
	name, off := time.UnixMicro(us).In(st.Loc).Zone()
	return int64(off), name
}

// abbrOffset resolves a zone abbreviation written after a wall-clock time
// local: one the session's zone uses around then (CET or CEST in
// Europe/Berlin), else a zone of that name (EST, MST, CET, ...). It returns
// the offset east of UTC in seconds.
func (st *Style) abbrOffset(abbr string, local int64) (int64, bool) {
	if !st.IsUTC() {
		for _, probe := range [...]int64{local, satAdd(local, -microsPerDay), satAdd(local, microsPerDay)} {
			if off, name := st.Zone(probe); strings.EqualFold(name, abbr) {
				return off, true
			}
		}
	}
	if loc, ok := LoadZone(strings.ToUpper(abbr)); ok && !strings.Contains(abbr, "/") {
		off, _ := (&Style{Loc: loc}).Zone((&Style{Loc: loc}).FromLocal(local))
		return off, true
	}
	return 0, false
}

// ToLocal converts an instant to st's local wall-clock time, both in
// microseconds since the Unix epoch.
func (st *Style) ToLocal(us int64) int64 {
	if st.IsUTC() || us == TimestampInfinity || us == TimestampNegInfinity {
		return us
	}
	off, _ := st.Zone(us)
	return us + off*microsPerSecond
}

// FromLocal converts a wall-clock time in st's zone to an instant. As in
// PostgreSQL, a time skipped by a spring-forward transition is read with
// the offset before it, and a time that a fall-back transition repeats
// with the offset after it (standard time, in both cases).
func (st *Style) FromLocal(local int64) int64 {
	if st.IsUTC() || local == TimestampInfinity || local == TimestampNegInfinity {
		return local
	}
	before, _ := st.Zone(satAdd(local, -microsPerDay))
	after, _ := st.Zone(satAdd(local, microsPerDay))
	ub, ua := local-before*microsPerSecond, local-after*microsPerSecond
	if before == after {
		return ub
	}
	switch okA := st.ToLocal(ua) == local; {
	case okA:
		return ua // a plain time after the change, or the repeated hour
	case st.ToLocal(ub) == local:
		return ub
	}
	return ub // in the gap
}

// satAdd is a+b, clamped to the finite timestamps.
func satAdd(a, b int64) int64 {
	r := a + b
	if (b > 0 && r < a) || r >= TimestampInfinity {
		return TimestampInfinity - 1
	}
	if (b < 0 && r > a) || r <= TimestampNegInfinity {
		return TimestampNegInfinity + 1
	}
	return r
}

// AppendTextStyle appends the text representation of d (not NULL) as a
// session with style st sees it; AppendText is AppendTextStyle with nil.
func AppendTextStyle(dst []byte, d Datum, st *Style) []byte {
	if st == nil {
		return AppendText(dst, d)
	}
	switch d.T {
	case Float4:
		return appendFloatDigits(dst, d.F, 32, st.FloatDigits)
	case Float8:
		return appendFloatDigits(dst, d.F, 64, st.FloatDigits)
	case Timestamp:
		return appendTimestampStyle(dst, d.I, false, st)
	case TimestampTZ:
		return appendTimestampStyle(dst, d.I, true, st)
	case Date:
		return appendDateStyle(dst, d.I, st)
	case Interval:
		return appendIntervalStyle(dst, d.Iv, st.Interval)
	}
	return AppendText(dst, d)
}

// appendFloatDigits follows extra_float_digits as PostgreSQL 12+ does:
// above 0 the shortest exact digits; otherwise %.*g with 15 (float4: 6)
// plus extra_float_digits significant digits.
func appendFloatDigits(dst []byte, f float64, bits, extra int) []byte {
	if extra > 0 || f != f || f-f != 0 || f == 0 {
		return AppendFloat(dst, f, bits)
	}
	prec := 15 + extra
	if bits == 32 {
		prec = 6 + extra
	}
	prec = max(prec, 1)
	return strconv.AppendFloat(dst, f, 'g', prec, bits)
}

var (
	monthAbbr = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	dayAbbr   = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
)

// appendOffset appends an offset east of UTC as PostgreSQL does: +02,
// +05:30, -03:30, +00:53:28.
func appendOffset(dst []byte, off int64) []byte {
	if off < 0 {
		dst = append(dst, '-')
		off = -off
	} else {
		dst = append(dst, '+')
	}
	dst = append2(dst, off/3600)
	if m, s := off/60%60, off%60; m != 0 || s != 0 {
		dst = append(dst, ':')
		dst = append2(dst, m)
		if s != 0 {
			dst = append(dst, ':')
			dst = append2(dst, s)
		}
	}
	return dst
}

// appendCivilDate appends y-m-d (y already made positive for BC) in the
// style's date form.
func appendCivilDate(dst []byte, y, m, d int64, st *Style) []byte {
	switch st.Date {
	case DateSQL:
		if st.Order == OrderDMY {
			dst = append2(dst, d)
			dst = append(dst, '/')
			dst = append2(dst, m)
		} else {
			dst = append2(dst, m)
			dst = append(dst, '/')
			dst = append2(dst, d)
		}
		dst = append(dst, '/')
		return appendYear(dst, y)
	case DateGerman:
		dst = append2(dst, d)
		dst = append(dst, '.')
		dst = append2(dst, m)
		dst = append(dst, '.')
		return appendYear(dst, y)
	case DatePostgres:
		if st.Order == OrderDMY {
			dst = append2(dst, d)
			dst = append(dst, '-')
			dst = append2(dst, m)
		} else {
			dst = append2(dst, m)
			dst = append(dst, '-')
			dst = append2(dst, d)
		}
		dst = append(dst, '-')
		return appendYear(dst, y)
	}
	dst = appendYear(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	return append2(dst, d)
}

func appendDateStyle(dst []byte, days int64, st *Style) []byte {
	if st.Date == DateISO || days == DateInfinity || days == DateNegInfinity {
		return AppendDate(dst, days)
	}
	y, m, d := CivilFromDays(days)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	dst = appendCivilDate(dst, y, m, d, st)
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

func appendClock(dst []byte, rem int64) []byte {
	dst = append2(dst, rem/microsPerHour)
	dst = append(dst, ':')
	dst = append2(dst, rem/microsPerMinute%60)
	dst = append(dst, ':')
	dst = append2(dst, rem/microsPerSecond%60)
	return appendFraction(dst, rem%microsPerSecond)
}

// appendTimestampStyle writes a timestamp (tz: an instant shown in the
// session's zone) in the session's DateStyle.
func appendTimestampStyle(dst []byte, us int64, tz bool, st *Style) []byte {
	if us == TimestampInfinity || us == TimestampNegInfinity || (st.Date == DateISO && (!tz || st.IsUTC())) {
		return AppendTimestamp(dst, us, tz)
	}
	var off int64
	abbr := ""
	local := us
	if tz {
		off, abbr = st.Zone(us)
		local = us + off*microsPerSecond
	}
	days, rem := floorDiv(local, microsPerDay)
	y, m, d := CivilFromDays(days)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	switch st.Date {
	case DatePostgres:
		// Wed Dec 17 07:37:16 1997 PST (DMY: Wed 17 Dec ...)
		dst = append(dst, dayAbbr[(days%7+11)%7]...)
		dst = append(dst, ' ')
		if st.Order == OrderDMY {
			dst = append2(dst, d)
			dst = append(dst, ' ')
			dst = append(dst, monthAbbr[m-1]...)
		} else {
			dst = append(dst, monthAbbr[m-1]...)
			dst = append(dst, ' ')
			dst = append2(dst, d)
		}
		dst = append(dst, ' ')
		dst = appendClock(dst, rem)
		dst = append(dst, ' ')
		dst = appendYear(dst, y)
	default:
		dst = appendCivilDate(dst, y, m, d, st)
		dst = append(dst, ' ')
		dst = appendClock(dst, rem)
	}
	if tz {
		if st.Date == DateISO {
			dst = appendOffset(dst, off)
		} else {
			dst = append(dst, ' ')
			if abbr == "" {
				dst = appendOffset(dst, off)
			} else {
				dst = append(dst, abbr...)
			}
		}
	}
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// appendSeconds appends |sec| and the fraction |us| (micros), the seconds
// zero-padded to two digits when pad.
func appendSeconds(dst []byte, sec, us int64, pad bool) []byte {
	if sec < 0 {
		sec = -sec
	}
	if us < 0 {
		us = -us
	}
	if pad && sec < 10 {
		dst = append(dst, '0')
	}
	dst = strconv.AppendInt(dst, sec, 10)
	return appendFraction(dst, us)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// appendIntervalStyle writes iv in the given IntervalStyle, field by field
// as PostgreSQL's EncodeInterval does.
func appendIntervalStyle(dst []byte, iv IntervalValue, style IntervalStyle) []byte {
	if style == IntervalPostgres {
		return AppendInterval(dst, iv)
	}
	year, mon := int64(iv.Months)/12, int64(iv.Months)%12
	mday := int64(iv.Days)
	t := iv.Micros
	hour := t / microsPerHour
	t -= hour * microsPerHour
	min := t / microsPerMinute
	t -= min * microsPerMinute
	sec := t / microsPerSecond
	fsec := t - sec*microsPerSecond
	switch style {
	case IntervalSQLStandard:
		neg := year < 0 || mon < 0 || mday < 0 || hour < 0 || min < 0 || sec < 0 || fsec < 0
		pos := year > 0 || mon > 0 || mday > 0 || hour > 0 || min > 0 || sec > 0 || fsec > 0
		hasYM := year != 0 || mon != 0
		hasDT := mday != 0 || hour != 0 || min != 0 || sec != 0 || fsec != 0
		standard := !(neg && pos) && !(hasYM && hasDT)
		if neg && standard {
			dst = append(dst, '-')
			year, mon, mday, hour, min, sec, fsec = -year, -mon, -mday, -hour, -min, -sec, -fsec
		}
		sign := func(neg bool) byte {
			if neg {
				return '-'
			}
			return '+'
		}
		switch {
		case !neg && !pos:
			dst = append(dst, '0')
		case !standard:
			dst = append(dst, sign(year < 0 || mon < 0))
			dst = strconv.AppendInt(dst, abs64(year), 10)
			dst = append(dst, '-')
			dst = strconv.AppendInt(dst, abs64(mon), 10)
			dst = append(dst, ' ', sign(mday < 0))
			dst = strconv.AppendInt(dst, abs64(mday), 10)
			dst = append(dst, ' ', sign(hour < 0 || min < 0 || sec < 0 || fsec < 0))
			dst = strconv.AppendInt(dst, abs64(hour), 10)
			dst = append(dst, ':')
			dst = append2(dst, abs64(min))
			dst = append(dst, ':')
			dst = appendSeconds(dst, sec, fsec, true)
		case hasYM:
			dst = strconv.AppendInt(dst, year, 10)
			dst = append(dst, '-')
			dst = strconv.AppendInt(dst, mon, 10)
		default:
			if mday != 0 {
				dst = strconv.AppendInt(dst, mday, 10)
				dst = append(dst, ' ')
			}
			dst = strconv.AppendInt(dst, hour, 10)
			dst = append(dst, ':')
			dst = append2(dst, min)
			dst = append(dst, ':')
			dst = appendSeconds(dst, sec, fsec, true)
		}
		return dst
	case IntervalISO8601:
		if year == 0 && mon == 0 && mday == 0 && hour == 0 && min == 0 && sec == 0 && fsec == 0 {
			return append(dst, "PT0S"...)
		}
		dst = append(dst, 'P')
		part := func(v int64, c byte) {
			if v != 0 {
				dst = strconv.AppendInt(dst, v, 10)
				dst = append(dst, c)
			}
		}
		part(year, 'Y')
		part(mon, 'M')
		part(mday, 'D')
		if hour != 0 || min != 0 || sec != 0 || fsec != 0 {
			dst = append(dst, 'T')
		}
		part(hour, 'H')
		part(min, 'M')
		if sec != 0 || fsec != 0 {
			if sec < 0 || fsec < 0 {
				dst = append(dst, '-')
			}
			dst = appendSeconds(dst, sec, fsec, false)
			dst = append(dst, 'S')
		}
		return dst
	}
	// postgres_verbose
	dst = append(dst, '@')
	isZero, isBefore := true, false
	part := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if isZero {
			isBefore = v < 0
			v = abs64(v)
		} else if isBefore {
			v = -v
		}
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, v, 10)
		dst = append(dst, ' ')
		dst = append(dst, unit...)
		if v != 1 {
			dst = append(dst, 's')
		}
		isZero = false
	}
	part(year, "year")
	part(mon, "mon")
	part(mday, "day")
	part(hour, "hour")
	part(min, "min")
	if sec != 0 || fsec != 0 {
		dst = append(dst, ' ')
		if sec < 0 || (sec == 0 && fsec < 0) {
			if isZero {
				isBefore = true
			} else if !isBefore {
				dst = append(dst, '-')
			}
		} else if isBefore {
			dst = append(dst, '-')
		}
		dst = appendSeconds(dst, sec, fsec, false)
		dst = append(dst, " sec"...)
		if abs64(sec) != 1 || fsec != 0 {
			dst = append(dst, 's')
		}
		isZero = false
	}
	if isZero {
		dst = append(dst, " 0"...)
	}
	if isBefore {
		dst = append(dst, " ago"...)
	}
	return dst
}

// ParseTextStyle parses s as a value of type t the way a session with
// style st reads it: dates in its field order, a timestamptz written
// without a zone in its time zone. ParseText is ParseTextStyle with nil.
func ParseTextStyle(t T, s string, st *Style) (Datum, error) {
	switch t {
	case Date:
		v, err := parseDateOrder(s, st.orDefault().Order)
		return Datum{T: t, I: v}, err
	case Timestamp, TimestampTZ:
		v, err := parseTimestampStyle(t, s, st)
		return Datum{T: t, I: v}, err
	}
	return ParseText(t, s)
}
