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

// parseTimeZone reads a TimeZone value (see types.ParseTimeZone),
// refusing what it does not know with 22023 and a hint.
func parseTimeZone(v string) (string, *time.Location, error) {
	shown, loc, ok := types.ParseTimeZone(v, true)
	if !ok {
		return "", nil, pgerr.TimeZoneInvalid.New(v)
	}
	return shown, loc, nil
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
				case "date_trunc", "extract", "date_part", "to_char", "current_date", "localtimestamp", "age", "date_bin":
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
