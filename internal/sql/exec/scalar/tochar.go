package scalar

import (
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// buildToChar is to_char(timestamp|timestamptz|date|interval, format): the
// PostgreSQL template patterns for dates and times. A timestamptz is
// formatted on the wall clock of the session's time zone (TZ and OF print
// that zone). Numeric to_char is not here.
func buildToChar(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 2 {
		return nil, errNoMatch
	}
	if err := c.want(f, args[1:], types.Text); err != nil {
		return nil, err
	}
	if args[0].T != types.Interval && args[0].T != types.Timestamp && args[0].T != types.Date {
		if err := c.timeArg(f, args, 0); err != nil {
			return nil, err
		}
	}
	x, format := args[0], args[1]
	cs := c.style()
	n := newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		d, fd, null, err := binEval(x, format, ec, in)
		if err != nil || null {
			return types.NullOf(types.Text), err
		}
		return types.NewText(toChar(d, fd.S, evalStyle(ec, cs))), nil
	})
	return fold(n, x, format)
}

// toCharPatterns are the template patterns, longest first so that HH24
// wins over HH and MONTH over MON.
var toCharPatterns = []string{
	"HH24", "HH12", "YYYY", "MONTH", "Month", "month", "A.M.", "P.M.", "a.m.", "p.m.",
	"IYYY", "IDDD",
	"DAY", "Day", "day", "MON", "Mon", "mon", "YYY", "DDD",
	"HH", "MI", "SS", "MS", "US", "AM", "PM", "am", "pm", "YY", "MM", "DD", "DY", "Dy", "dy",
	"ID", "IW", "WW", "CC", "TZ", "tz", "OF",
	"Y", "D", "Q", "J", "W",
}

var (
	longMonths = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	longDays   = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

// toChar formats d (a date, timestamp, timestamptz or interval) with a
// PostgreSQL template. FM suppresses padding; TH/th add an ordinal
// suffix; "quoted" text and other characters are copied.
func toChar(d types.Datum, format string, st *types.Style) string {
	var us int64
	var abbr string
	var off int64
	switch d.T {
	case types.Date:
		if d.I == types.DateInfinity || d.I == types.DateNegInfinity {
			return ""
		}
		us = d.I * usPerDay
	case types.Interval:
		// Fields of an interval: hours may exceed 24, days and months as given.
		return intervalToChar(d.Iv, format)
	default:
		if isInf(d.I) {
			return ""
		}
		us = d.I
		if d.T == types.TimestampTZ {
			off, abbr = st.Zone(us)
			us += off * 1e6
		}
	}
	t := time.UnixMicro(us).UTC()
	days := floorDiv(us, usPerDay)
	tod := us - days*usPerDay
	y, mo, dd := t.Year(), int(t.Month()), t.Day()
	h24 := int(tod / 3600e6)
	isoY, isoW := t.ISOWeek()
	isoDow := int(t.Weekday())
	if isoDow == 0 {
		isoDow = 7
	}
	var b strings.Builder
	for i := 0; i < len(format); {
		if format[i] == '"' {
			j := i + 1
			for j < len(format) && format[j] != '"' {
				if format[j] == '\\' && j+1 < len(format) {
					j++
				}
				b.WriteByte(format[j])
				j++
			}
			i = j + 1
			continue
		}
		if format[i] == '\\' && i+1 < len(format) {
			b.WriteByte(format[i+1])
			i += 2
			continue
		}
		fm := false
		if hasPrefixFold(format[i:], "FM") {
			fm = true
			i += 2
		}
		pat := ""
		for _, p := range toCharPatterns {
			if strings.HasPrefix(format[i:], p) || (strings.ToUpper(p) == p && !hasCaseVariant(p) && hasPrefixFold(format[i:], p)) {
				pat = p
				break
			}
		}
		if pat == "" {
			if fm {
				b.WriteString(format[i-2 : i])
			}
			if i < len(format) {
				b.WriteByte(format[i])
			}
			i++
			continue
		}
		i += len(pat)
		num := func(v, width int) {
			s := strconv.Itoa(v)
			if !fm {
				for len(s) < width {
					s = "0" + s
				}
			}
			b.WriteString(s)
			if i+1 < len(format) && (format[i:i+2] == "TH" || format[i:i+2] == "th") {
				suf := ordinal(v)
				if format[i] == 'T' {
					suf = strings.ToUpper(suf)
				}
				b.WriteString(suf)
				i += 2
			}
		}
		word := func(w string, width int) {
			if !fm {
				for len(w) < width {
					w += " "
				}
			}
			b.WriteString(w)
		}
		switch pat {
		case "HH", "HH12":
			h := h24 % 12
			if h == 0 {
				h = 12
			}
			num(h, 2)
		case "HH24":
			num(h24, 2)
		case "MI":
			num(int(tod/60e6%60), 2)
		case "SS":
			num(int(tod/1e6%60), 2)
		case "MS":
			num(int(tod/1000%1000), 3)
		case "US":
			num(int(tod%1e6), 6)
		case "AM", "PM":
			word(map[bool]string{true: "PM", false: "AM"}[h24 >= 12], 0)
		case "am", "pm":
			word(map[bool]string{true: "pm", false: "am"}[h24 >= 12], 0)
		case "A.M.", "P.M.":
			word(map[bool]string{true: "P.M.", false: "A.M."}[h24 >= 12], 0)
		case "a.m.", "p.m.":
			word(map[bool]string{true: "p.m.", false: "a.m."}[h24 >= 12], 0)
		case "YYYY":
			num(y, 4)
		case "YYY":
			num(y%1000, 3)
		case "YY":
			num(y%100, 2)
		case "Y":
			num(y%10, 1)
		case "IYYY":
			num(isoY, 4)
		case "MONTH":
			word(strings.ToUpper(longMonths[mo-1]), 9)
		case "Month":
			word(longMonths[mo-1], 9)
		case "month":
			word(strings.ToLower(longMonths[mo-1]), 9)
		case "MON":
			word(strings.ToUpper(longMonths[mo-1][:3]), 0)
		case "Mon":
			word(longMonths[mo-1][:3], 0)
		case "mon":
			word(strings.ToLower(longMonths[mo-1][:3]), 0)
		case "MM":
			num(mo, 2)
		case "DAY":
			word(strings.ToUpper(longDays[t.Weekday()]), 9)
		case "Day":
			word(longDays[t.Weekday()], 9)
		case "day":
			word(strings.ToLower(longDays[t.Weekday()]), 9)
		case "DY":
			word(strings.ToUpper(longDays[t.Weekday()][:3]), 0)
		case "Dy":
			word(longDays[t.Weekday()][:3], 0)
		case "dy":
			word(strings.ToLower(longDays[t.Weekday()][:3]), 0)
		case "DDD":
			num(t.YearDay(), 3)
		case "IDDD":
			num((isoW-1)*7+isoDow, 3)
		case "DD":
			num(dd, 2)
		case "D":
			num(int(t.Weekday())+1, 1)
		case "ID":
			num(isoDow, 1)
		case "IW":
			num(isoW, 2)
		case "WW":
			num((t.YearDay()-1)/7+1, 2)
		case "W":
			num((dd-1)/7+1, 1)
		case "Q":
			num((mo-1)/3+1, 1)
		case "CC":
			cc := (y + 99) / 100
			if y <= 0 {
				cc = -((99 - (y - 1)) / 100)
			}
			num(cc, 2)
		case "J":
			num(int(days+2440588), 1)
		case "TZ", "tz":
			if d.T == types.TimestampTZ {
				if pat == "tz" {
					abbr = strings.ToLower(abbr)
				}
				b.WriteString(abbr)
			}
		case "OF":
			if d.T == types.TimestampTZ {
				b.WriteString(offsetText(off))
			}
		}
	}
	return b.String()
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// hasCaseVariant reports patterns whose letter case picks the output's
// case (Month, month): those match exactly, the rest in any case.
func hasCaseVariant(p string) bool {
	switch p {
	case "MONTH", "MON", "DAY", "DY", "AM", "PM", "TZ":
		return true
	}
	return false
}

func ordinal(v int) string {
	if v%100 >= 11 && v%100 <= 13 {
		return "th"
	}
	switch v % 10 {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}

// offsetText writes seconds east of UTC as +HH or +HH:MM, as OF does.
func offsetText(off int64) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	s := sign + twoDigits(off/3600)
	if m := off / 60 % 60; m != 0 {
		s += ":" + twoDigits(m)
	}
	return s
}

func twoDigits(v int64) string {
	if v < 10 {
		return "0" + strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(v, 10)
}

// intervalToChar formats an interval's fields: HH24 is the whole hours
// (which may exceed 23), MI and SS the minutes and seconds, DD the day
// field, MM the months beyond whole years, YYYY the years.
func intervalToChar(iv types.IntervalValue, format string) string {
	us := iv.Micros
	r := strings.NewReplacer(
		"HH24", twoDigits(us/3600e6),
		"MI", twoDigits(us/60e6%60),
		"SS", twoDigits(us/1e6%60),
		"DD", twoDigits(int64(iv.Days)),
		"MM", twoDigits(int64(iv.Months%12)),
		"YYYY", strconv.Itoa(int(iv.Months/12)),
	)
	return r.Replace(format)
}
