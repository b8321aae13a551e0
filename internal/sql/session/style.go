package session

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// TimeZone, DateStyle, IntervalStyle and extra_float_digits: how their
// values are read (as PostgreSQL reads them) and turned into the
// types.Style that output, input and the date/time functions use.

// utcNames are the spellings of UTC.
var utcNames = map[string]bool{"utc": true, "etc/utc": true, "gmt": true, "etc/gmt": true, "z": true, "zulu": true,
	"universal": true, "etc/universal": true, "uct": true, "etc/uct": true, "greenwich": true, "etc/greenwich": true}

// maxZoneOffset bounds numeric zone offsets, as PostgreSQL does (±15h).
const maxZoneOffset = 15 * 3600

// parseTimeZone reads a TimeZone value as PostgreSQL 15 does:
//   - a spelling of UTC;
//   - a number of hours ('-5', '5.5'): hours EAST of UTC (ISO sign);
//   - a POSIX zone 'STDoffset' ('UTC+3', '<+02>-02', '+02:00'): the
//     offset is hours WEST of UTC (POSIX sign), so 'UTC+3' and '+03:00'
//     are three hours behind UTC;
//   - an IANA name ('Europe/Berlin', 'America/New_York', 'EST5EDT').
//
// It returns the value to show and the location.
func parseTimeZone(v string) (string, *time.Location, error) {
	w := strings.TrimSpace(v)
	if utcNames[strings.ToLower(w)] || w == "0" || w == "+00" || w == "+00:00" {
		return "UTC", time.UTC, nil
	}
	if h, err := strconv.ParseFloat(w, 64); err == nil {
		secs := int64(h * 3600)
		if h != h || secs > maxZoneOffset || secs < -maxZoneOffset {
			return "", nil, pgerr.TimeZoneInvalid.New(v)
		}
		abbr := offsetName(secs)
		// PostgreSQL shows a numeric zone as the POSIX spec it stands for.
		return "<" + abbr + ">" + offsetName(-secs), time.FixedZone(abbr, int(secs)), nil
	}
	if std, west, ok := parsePOSIXZone(w); ok {
		if west > maxZoneOffset || west < -maxZoneOffset {
			return "", nil, pgerr.TimeZoneInvalid.New(v)
		}
		if std == "" {
			std = offsetName(-west)
		}
		return w, time.FixedZone(std, int(-west)), nil
	}
	if loc, ok := types.LoadZone(w); ok && w != "" && w != "Local" {
		return w, loc, nil
	}
	return "", nil, pgerr.TimeZoneInvalid.New(v)
}

// offsetName writes seconds east of UTC as +HH, +HH:MM or +HH:MM:SS.
func offsetName(secs int64) string {
	sign := "+"
	if secs < 0 {
		sign, secs = "-", -secs
	}
	s := sign + two(secs/3600)
	if m, sec := secs/60%60, secs%60; m != 0 || sec != 0 {
		s += ":" + two(m)
		if sec != 0 {
			s += ":" + two(sec)
		}
	}
	return s
}

func two(v int64) string {
	if v < 10 {
		return "0" + strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(v, 10)
}

// parsePOSIXZone reads 'STDoffset' with no daylight-saving part: STD is
// letters, <anything>, or empty (PostgreSQL allows that); offset is
// [+-]hh[:mm[:ss]] west of UTC.
func parsePOSIXZone(s string) (std string, west int64, ok bool) {
	i := 0
	switch {
	case strings.HasPrefix(s, "<"):
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return "", 0, false
		}
		std, i = s[1:end], end+1
	default:
		for i < len(s) && (s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 'a' && s[i] <= 'z') {
			i++
		}
		std = s[:i]
		if std != "" && len(std) < 3 {
			return "", 0, false
		}
	}
	rest := s[i:]
	sign := int64(1)
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		if rest[0] == '-' {
			sign = -1
		}
		rest = rest[1:]
	}
	if rest == "" {
		return "", 0, false
	}
	var secs int64
	for k, part := range strings.Split(rest, ":") {
		if k > 2 || part == "" || len(part) > 2 {
			return "", 0, false
		}
		n, err := strconv.Atoi(part)
		if err != nil || (k > 0 && n > 59) {
			return "", 0, false
		}
		secs += int64(n) * []int64{3600, 60, 1}[k]
	}
	return std, sign * secs, true
}

func checkTimeZone(v, _ string) (string, error) {
	shown, _, err := parseTimeZone(v)
	return shown, err
}

// checkDateStyle combines a DateStyle value with the current one as
// PostgreSQL does: 'SQL' keeps the current order, 'DMY' the current
// style, 'German' alone implies DMY; 'European' is DMY and 'US' and
// 'NonEuropean' MDY.
func checkDateStyle(v, cur string) (string, error) {
	style, order := parseDateStyleValue(cur)
	var newStyle, newOrder string
	for _, tok := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		var st, ord string
		switch strings.ToLower(tok) {
		case "iso":
			st = "ISO"
		case "sql":
			st = "SQL"
		case "postgres":
			st = "Postgres"
		case "german":
			st = "German"
		case "ymd":
			ord = "YMD"
		case "dmy", "euro", "european":
			ord = "DMY"
		case "mdy", "us", "noneuro", "noneuropean":
			ord = "MDY"
		case "default":
			st, ord = "ISO", "MDY"
		default:
			return "", pgerr.DateStyleInvalid.New(v)
		}
		if (st != "" && newStyle != "" && st != newStyle) || (ord != "" && newOrder != "" && ord != newOrder) {
			return "", pgerr.DateStyleInvalid.New(v).WithDetail("Conflicting \"DateStyle\" specifications.")
		}
		if st != "" {
			newStyle = st
		}
		if ord != "" {
			newOrder = ord
		}
	}
	if newStyle == "" && newOrder == "" {
		return "", pgerr.DateStyleInvalid.New(v)
	}
	if newStyle != "" {
		style = newStyle
		if newStyle == "German" && newOrder == "" {
			order = "DMY"
		}
	}
	if newOrder != "" {
		order = newOrder
	}
	return style + ", " + order, nil
}

// parseDateStyleValue splits a normalized DateStyle ("SQL, DMY").
func parseDateStyleValue(v string) (style, order string) {
	style, order, _ = strings.Cut(v, ", ")
	if style == "" || order == "" {
		return "ISO", "MDY"
	}
	return style, order
}

// style returns the session's types.Style (nil when every setting is at
// its default, the fast path).
func (s *Session) style() *types.Style {
	tz, ds := s.values["timezone"], s.values["datestyle"]
	is, fd := s.values["intervalstyle"], s.values["extra_float_digits"]
	if tz == "" && ds == "" && is == "" && fd == "" {
		return nil
	}
	st := types.DefaultStyle
	if tz != "" {
		if _, loc, err := parseTimeZone(tz); err == nil && loc != time.UTC {
			st.Loc = loc
		}
	}
	if ds != "" {
		style, order := parseDateStyleValue(ds)
		st.Date = map[string]types.DateStyle{"ISO": types.DateISO, "SQL": types.DateSQL, "Postgres": types.DatePostgres, "German": types.DateGerman}[style]
		st.Order = map[string]types.DateOrder{"MDY": types.OrderMDY, "DMY": types.OrderDMY, "YMD": types.OrderYMD}[order]
	}
	if is != "" {
		st.Interval = map[string]types.IntervalStyle{"postgres": types.IntervalPostgres, "postgres_verbose": types.IntervalPostgresVerbose,
			"sql_standard": types.IntervalSQLStandard, "iso_8601": types.IntervalISO8601}[is]
	}
	if fd != "" {
		st.FloatDigits, _ = strconv.Atoi(fd)
	}
	return &st
}

// styleOrDefault is style, never nil: statements evaluate in the session's
// style even when it is the default (see scalar.Ctx.Style).
func (s *Session) styleOrDefault() *types.Style {
	if st := s.style(); st != nil {
		return st
	}
	return &types.DefaultStyle
}

// TextStyle implements pgwire.Styler: how this session's values are
// written and read as text.
func (s *Session) TextStyle() *types.Style { return s.style() }

// zoneDependent reports whether a continuous view's definition may
// evaluate differently in another time zone: date/time functions, casts
// to date/time types (and to text when the stream has date/time
// columns), current_date/localtimestamp, and date-like literals that may
// be read as timestamptz. It errs on the side of yes: views are
// evaluated in UTC, and a user in another zone must not get a silently
// different answer. what names the first such use.
func zoneDependent(node any, streamHasTime bool) (what string, ok bool) {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		if ok || !v.IsValid() {
			return
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
			return
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
			return
		case reflect.Struct:
		default:
			return
		}
		if v.CanAddr() {
			switch n := v.Addr().Interface().(type) {
			case *parser.Func:
				switch n.Name {
				case "date_trunc", "extract", "date_part", "timezone", "to_char", "current_date", "localtimestamp", "age", "date_bin":
					what, ok = n.Name+"()", true
					return
				}
			case *parser.ColumnRef:
				if n.Table == "" && (n.Name == "current_date" || n.Name == "localtimestamp") {
					what, ok = n.Name, true
					return
				}
			case *parser.Cast:
				tn := strings.ToLower(n.Type.Name)
				if strings.HasPrefix(tn, "timestamp") || tn == "date" ||
					(streamHasTime && (tn == "text" || tn == "varchar" || strings.HasPrefix(tn, "char"))) {
					what, ok = "a cast to "+tn, true
					return
				}
			case *parser.Literal:
				if streamHasTime && looksLikeDateTime(n.Val) {
					what, ok = fmt.Sprintf("the literal '%s'", n.Val), true
					return
				}
			}
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walk(v.Field(i))
			}
		}
	}
	v := reflect.ValueOf(node)
	walk(v)
	return what, ok
}

// looksLikeDateTime reports whether a literal could be date/time input.
func looksLikeDateTime(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) >= 6 && s[0] >= '0' && s[0] <= '9' && strings.ContainsAny(s, "-/:.")
}
