package session

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
)

// ServerVersion is what clients see as server_version: the PostgreSQL
// protocol and SQL level Cairn speaks.
const ServerVersion = "16.0"

// setting describes one session setting.
type setting struct {
	def      string
	reported string // ParameterStatus name (GUC_REPORT), "" if not reported
	readOnly bool
	desc     string
	// check normalizes or rejects a value; cur is the current value (a
	// DateStyle that names only the order keeps the current style).
	check func(v, cur string) (string, error)
}

func oneOf(name string, valid ...string) func(string, string) (string, error) {
	return func(v, _ string) (string, error) {
		lv := strings.ToLower(v)
		for _, ok := range valid {
			if lv == ok {
				return ok, nil
			}
		}
		return "", pgerr.BadParameter.New(name, v).
			WithHint("Available values: %s.", strings.Join(valid, ", "))
	}
}

func checkBool(name string) func(string, string) (string, error) {
	return func(v, _ string) (string, error) {
		switch strings.ToLower(v) {
		case "on", "true", "yes", "1", "t":
			return "on", nil
		case "off", "false", "no", "0", "f":
			return "off", nil
		}
		return "", pgerr.ParameterNotBool.New(name)
	}
}

func checkDuration(name string) func(string, string) (string, error) {
	return func(v, _ string) (string, error) {
		if d, err := parseDurationSetting(v); err != nil || d < 0 {
			return "", pgerr.BadParameter.New(name, v).
				WithHint("Use milliseconds (5000) or a unit (5s, 2min).")
		}
		return v, nil
	}
}

// parseDurationSetting parses PostgreSQL-style durations: a number of
// milliseconds or a number with a unit (ms, s, min, h).
func parseDurationSetting(v string) (time.Duration, error) {
	v = strings.TrimSpace(strings.ToLower(v))
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"min", time.Minute}, {"s", time.Second}, {"h", time.Hour}, {"d", 24 * time.Hour}} {
		if strings.HasSuffix(v, u.suffix) {
			n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(n * float64(u.d)), nil
		}
	}
	return 0, strconv.ErrSyntax
}

func checkExtraFloatDigits(v, _ string) (string, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return "", pgerr.BadParameter.New("extra_float_digits", v).WithHint("Give an integer from -15 to 3.")
	}
	if n < -15 || n > 3 {
		return "", pgerr.ExtraFloatDigitsRange.New(v)
	}
	return strconv.Itoa(n), nil
}

// checkSearchPath normalizes a comma-separated list of schema names.
// As in PostgreSQL, names of schemas that do not exist are accepted and
// skipped when names are looked up (the schema may be created later).
func checkSearchPath(v, _ string) (string, error) {
	return strings.Join(searchPathList(v), ", "), nil
}

// searchPathList splits a search_path value into lower-cased names.
func searchPathList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
			p = p[1 : len(p)-1]
		} else {
			p = strings.ToLower(p)
		}
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

var settings = map[string]*setting{
	"application_name": {def: "", reported: "application_name", desc: "Name of the client application (reported back; shown by SHOW)."},
	"client_encoding": {def: "UTF8", reported: "client_encoding", desc: "Client character set: UTF8, or SQL_ASCII (bytes pass unconverted, as in PostgreSQL; text must still be valid UTF-8).", check: func(v, _ string) (string, error) {
		switch strings.ToLower(strings.ReplaceAll(v, "-", "")) {
		case "utf8", "unicode":
			return "UTF8", nil
		case "sql_ascii":
			// What libpq sends for "auto" in a C locale (interactive psql).
			// PostgreSQL converts nothing for it either; invalid UTF-8 input
			// is refused the same way.
			return "SQL_ASCII", nil
		}
		return "", pgerr.ClientEncoding.New(v)
	}},
	"datestyle":                   {def: "ISO, MDY", reported: "DateStyle", desc: "Date/time output style (ISO, SQL, Postgres, German) and field order for ambiguous dates (DMY, MDY, YMD).", check: checkDateStyle},
	"intervalstyle":               {def: "postgres", reported: "IntervalStyle", desc: "Interval output style.", check: oneOf("intervalstyle", "postgres", "postgres_verbose", "sql_standard", "iso_8601")},
	"timezone":                    {def: "UTC", reported: "TimeZone", desc: "Session time zone: timestamptz output and input without a zone, date_trunc/extract/casts of timestamptz.", check: checkTimeZone},
	"extra_float_digits":          {def: "1", desc: "Float output: > 0 shortest exact digits; 0 or less, 15 (real: 6) plus this many significant digits.", check: checkExtraFloatDigits},
	"search_path":                 {def: "public", desc: "Schemas searched for unqualified stream, view and system table names.", check: checkSearchPath},
	"standard_conforming_strings": {def: "on", reported: "standard_conforming_strings", readOnly: true, desc: "Backslashes are literal in ordinary strings."},
	"integer_datetimes":           {def: "on", reported: "integer_datetimes", readOnly: true, desc: "Datetimes are 64-bit integers."},
	"server_version":              {def: ServerVersion, reported: "server_version", readOnly: true, desc: "PostgreSQL version Cairn speaks."},
	"server_version_num":          {def: "160000", readOnly: true, desc: "PostgreSQL version number Cairn speaks."},
	"server_encoding":             {def: "UTF8", reported: "server_encoding", readOnly: true, desc: "Server character set."},
	"is_superuser":                {def: "off", reported: "is_superuser", readOnly: true, desc: "Whether the user is a superuser (only cairn is)."},
	"session_authorization":       {def: "cairn", reported: "session_authorization", readOnly: true, desc: "Session user name."},
	"transaction_isolation":       {def: "read committed", readOnly: true, desc: "Reported for client compatibility; see README for Cairn's guarantees."},
	"statement_timeout":           {def: "0", desc: "Abort statements running longer than this (0 = never).", check: checkDuration("statement_timeout")},
	"stream_insert_level":         {def: "async", desc: "async: INSERT returns once the stream shard committed; sync_commit: once every view over the stream applied it.", check: oneOf("stream_insert_level", "async", "sync_commit")},
	"read_from":                   {def: "any", desc: "leader: linearizable reads (ReadIndex); any: nearest replica, may lag.", check: oneOf("read_from", "leader", "any")},
	"skip_unavailable":            {def: "off", desc: "on: answer from the reachable shards with a NOTICE naming the missing ones.", check: checkBool("skip_unavailable")},
	// issue 10: ddl
	"background_ddl": {def: "off", desc: "on: CREATE VIEW returns at once and back-fills in the background; off: it returns once the view caught up with the stream as of CREATE.", check: checkBool("background_ddl")},
	// issue 11: join
	"max_query_memory": {def: defaultQueryMemory, desc: "Memory one statement's joins, sorts, groups, DISTINCT, set operations and WITH may hold (kB, MB, GB); past it the statement fails with 53200.", check: checkMemory("max_query_memory")},
	// issue 11: pkeys (pgjdbc's getImportedKeys reads it)
	"max_index_keys":            {def: strconv.Itoa(MaxIndexKeys), readOnly: true, desc: "Most columns a primary key may have."},
	"pipelinedb.stream_targets": {def: "", desc: "Comma-separated views that this session's INSERT and COPY feed; other views over the stream skip those events. Empty: every view.", check: checkViewList},
	// issue 15: proxy. cairn.node names the node serving the session (a
	// proxy's client can see where it landed); every node takes writes, so
	// none is read-only or a standby (target_session_attrs=read-write and
	// primary accept any node).
	"cairn.node":                    {readOnly: true, desc: "The node serving this session (its --node-id)."},
	"transaction_read_only":         {def: "off", readOnly: true, desc: "on inside a READ ONLY transaction block (BEGIN READ ONLY, SET TRANSACTION READ ONLY), which refuses writes; otherwise off: every Cairn node takes writes."},
	"default_transaction_read_only": {def: "off", reported: "default_transaction_read_only", readOnly: true, desc: "Every Cairn node takes writes."},
	"in_hot_standby":                {def: "off", reported: "in_hot_standby", readOnly: true, desc: "No Cairn node is a standby (reported for target_session_attrs=primary)."},
}

// MaxIndexKeys is the most columns a table's primary key may have, as
// in PostgreSQL (its max_index_keys).
const MaxIndexKeys = 32

// checkViewList normalizes a comma-separated list of view names: trimmed,
// without empty entries or repeats. The names are checked against the
// catalog when an INSERT runs (views may be created after the SET).
func checkViewList(v, _ string) (string, error) {
	var names []string
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", "), nil
}

// settingNames returns all session setting names, sorted.
func settingNames() []string {
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
