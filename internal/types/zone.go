package types

import (
	"strconv"
	"strings"
	"time"
)

// utcNames are the spellings of UTC.
var utcNames = map[string]bool{"utc": true, "etc/utc": true, "gmt": true, "etc/gmt": true, "z": true, "zulu": true,
	"universal": true, "etc/universal": true, "uct": true, "etc/uct": true, "greenwich": true, "etc/greenwich": true}

// maxZoneOffset bounds numeric zone offsets, as PostgreSQL does (±15h).
const maxZoneOffset = 15 * 3600

// ParseTimeZone reads a time zone as PostgreSQL 15 reads TimeZone:
//   - a spelling of UTC;
//   - with hours set, a number of hours ('-5', '5.5'): hours EAST of UTC
//     (ISO sign), as SET TIME ZONE reads it (AT TIME ZONE does not);
//   - a POSIX zone 'STDoffset' ('UTC+3', '<+02>-02', '+02:00'): the
//     offset is hours WEST of UTC (POSIX sign), so 'UTC+3' and '+03:00'
//     are three hours behind UTC;
//   - an IANA name ('Europe/Berlin', 'America/New_York', 'EST5EDT'), in
//     any case ('europe/berlin').
//
// It returns the value to show (SHOW TimeZone) and the location; ok is
// false for anything else.
func ParseTimeZone(v string, hours bool) (shown string, loc *time.Location, ok bool) {
	w := strings.TrimSpace(v)
	if utcNames[strings.ToLower(w)] || w == "0" || w == "+00" || w == "+00:00" {
		return "UTC", time.UTC, true
	}
	if h, err := strconv.ParseFloat(w, 64); err == nil && hours {
		secs := int64(h * 3600)
		if h != h || secs > maxZoneOffset || secs < -maxZoneOffset {
			return "", nil, false
		}
		abbr := offsetName(secs)
		// PostgreSQL shows a numeric zone as the POSIX spec it stands for.
		return "<" + abbr + ">" + offsetName(-secs), time.FixedZone(abbr, int(secs)), true
	}
	if std, west, ok := parsePOSIXZone(w); ok {
		if west > maxZoneOffset || west < -maxZoneOffset {
			return "", nil, false
		}
		if std == "" {
			std = offsetName(-west)
		}
		return w, time.FixedZone(std, int(-west)), true
	}
	if w == "" || strings.EqualFold(w, "local") {
		return "", nil, false
	}
	for _, name := range []string{w, zoneTitle(w), strings.ToUpper(w)} {
		if loc, ok := LoadZone(name); ok {
			return name, loc, true
		}
	}
	return "", nil, false
}

// zoneTitle capitalizes each part of a zone name as the IANA database
// spells most of them: america/new_york is America/New_York.
func zoneTitle(s string) string {
	b := []byte(strings.ToLower(s))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '/' || c == '_' || c == '-'
	}
	return string(b)
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
