package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// settingsBackend is a Backend with one stream, "events", held in memory. It
// logs what the session asked of it (read policies, insert modes,
// deadlines), so scripts can show that a setting took effect. Methods a
// script does not reach are left to the embedded nil interface.
type settingsBackend struct {
	Backend
	cat  *catalog.Catalog
	rows [][]types.Datum
	log  []string
}

func newSettingsBackend() *settingsBackend {
	cat := catalog.New()
	cat.Nodes["n1"] = &catalog.Node{ID: 1, Name: "n1", Role: "data"}
	cat.Streams["events"] = &catalog.Stream{ID: 1, Name: "events", Shards: 1, Replicas: 1, Groups: []uint64{10}, Cols: []catalog.Column{
		{Name: "ts", T: types.TimestampTZ}, {Name: "d", T: types.Date}, {Name: "v", T: types.Float8}, {Name: "iv", T: types.Interval}}}
	// Inserts into "slow" wait for the statement's context (at most 10s).
	cat.Streams["slow"] = &catalog.Stream{ID: 2, Name: "slow", Shards: 1, Replicas: 1, Groups: []uint64{11}, Cols: []catalog.Column{{Name: "v", T: types.Int4}}}
	return &settingsBackend{cat: cat}
}

func (b *settingsBackend) NodeName() string { return "n1" }

func (f *settingsBackend) Version() string                       { return "test" }
func (f *settingsBackend) Catalog() *catalog.Catalog             { return f.cat }
func (f *settingsBackend) CheckBatch(string, *types.Batch) error { return nil }
func (f *settingsBackend) Place(int, int) ([][]uint64, error) {
	return nil, errors.New("fake: Place reached")
}
func (f *settingsBackend) SystemTable(name string) (exec.Source, bool, error) {
	if name != "nodes" {
		return nil, false, nil
	}
	return &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}}, Rows: [][]types.Datum{{types.NewText("n1")}}}, true, nil
}

func (f *settingsBackend) Insert(ctx context.Context, stream string, b *types.Batch, o InsertOptions) error {
	syncViews := o.SyncViews
	deadline := "none"
	if d, ok := ctx.Deadline(); ok {
		deadline = "within " + time.Until(d).Round(time.Second).String()
	}
	f.log = append(f.log, fmt.Sprintf("insert %s: %d rows, sync_commit=%v, deadline %s", stream, b.N, syncViews, deadline))
	if stream == "slow" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("fake: slow insert was not canceled")
		}
	}
	for r := 0; r < b.N; r++ {
		row := make([]types.Datum, len(b.Cols))
		for c := range b.Cols {
			row[c] = scalar.BatchDatum(&b.Cols[c], r)
		}
		f.rows = append(f.rows, row)
	}
	return nil
}

func (f *settingsBackend) StreamSource(st *catalog.Stream, r ReadPolicy) exec.Source {
	f.log = append(f.log, fmt.Sprintf("read %s: linearizable=%v skip_unavailable=%v", st.Name, r.Linearizable, r.Skip != nil))
	if r.Skip != nil {
		_ = r.Skip("shard 1 of "+st.Name, errors.New("no replica answered"))
	}
	return &exec.MemTable{Cols: exec.StreamColumns(st), Rows: f.rows}
}

// recorder is a pgwire.ResultWriter that prints what a statement sent.
type recorder struct {
	out   *strings.Builder
	style func() *types.Style
}

func (r *recorder) Row(row []types.Datum) error {
	vals := make([]string, len(row))
	for i, d := range row {
		if d.Null {
			vals[i] = "NULL"
		} else {
			vals[i] = string(types.AppendTextStyle(nil, d, r.style()))
		}
	}
	fmt.Fprintln(r.out, strings.Join(vals, "|"))
	return nil
}
func (r *recorder) Notice(msg string) { fmt.Fprintf(r.out, "NOTICE: %s\n", msg) }
func (r *recorder) ParameterStatus(name, v string) {
	fmt.Fprintf(r.out, "ParameterStatus %s=%s\n", name, v)
}
func (r *recorder) CopyIn(pgwire.CopyOptions, []types.T) (pgwire.CopySource, error) {
	return nil, errors.New("no COPY in these tests")
}

// CopyOut implements pgwire.CopyOuter: it prints the options and then
// each row as Row does.
func (r *recorder) CopyOut(o pgwire.CopyOptions, cols []pgwire.Column) (pgwire.CopySink, error) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name + " " + c.T.String()
	}
	fmt.Fprintf(r.out, "COPY OUT format=%d delimiter=%q null=%q header=%v quote=%q escape=%q: %s\n",
		o.Format, o.Delimiter, o.Null, o.Header, o.Quote, o.Escape, strings.Join(names, ", "))
	return r, nil
}

func printErr(sb *strings.Builder, err error) {
	pe := pgerr.From(err)
	fmt.Fprintf(sb, "ERROR %s: %s\n", pe.Code, pe.Message)
	if pe.Detail != "" {
		fmt.Fprintf(sb, "DETAIL: %s\n", pe.Detail)
	}
	if pe.Hint != "" {
		fmt.Fprintf(sb, "HINT: %s\n", pe.Hint)
	}
}

// TestSettings runs testdata/*.txt against a session on a settingsBackend.
//
//	startup k=v ...  start a new session with these startup parameters
//	sql              run statements as pgwire would (the text style read
//	                 before each); print rows, ParameterStatus, NOTICEs,
//	                 the command tag, what the backend was asked, errors
//
// Rewrite with: go test ./internal/sql/session -run TestSettings -rewrite
func TestSettings(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		b := newSettingsBackend()
		s := New(b, "cairn", nil)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var sb strings.Builder
			switch d.Cmd {
			case "startup":
				params := map[string]string{}
				for _, a := range d.CmdArgs {
					params[a.Key] = strings.Join(a.Vals, " ")
				}
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					if k, v, ok := strings.Cut(line, "="); ok {
						params[k] = v
					}
				}
				var err error
				s, err = NewChecked(b, "cairn", params)
				if err != nil {
					printErr(&sb, err)
				}
				keys := make([]string, 0, len(s.values))
				for k := range s.values {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					fmt.Fprintf(&sb, "%s=%s\n", k, s.values[k])
				}
				return sb.String()
			case "sql":
				stmts, _, err := parser.Parse(d.Input)
				if err != nil {
					printErr(&sb, err)
					return sb.String()
				}
				for _, st := range stmts {
					b.log = nil
					style := s.TextStyle()
					w := &recorder{out: &sb, style: func() *types.Style { return style }}
					p, err := s.Prepare(context.Background(), st, "", nil)
					if err == nil {
						var tag string
						tag, err = p.Execute(context.Background(), nil, w)
						if err == nil && tag != "" {
							fmt.Fprintln(&sb, tag)
						}
					}
					for _, l := range b.log {
						fmt.Fprintf(&sb, "backend: %s\n", l)
					}
					if err != nil {
						printErr(&sb, err)
						break
					}
				}
				return sb.String()
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

// TestZoneSpellings checks the TimeZone forms PostgreSQL accepts and
// the offset each stands for (seconds east of UTC) and what SHOW says.
func TestZoneSpellings(t *testing.T) {
	at := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in, shown string
		east      int
	}{
		{"UTC", "UTC", 0},
		{"gmt", "UTC", 0},
		{"Europe/Berlin", "Europe/Berlin", 2 * 3600}, // summer time
		{"europe/berlin", "Europe/Berlin", 2 * 3600},
		{"est5edt", "EST5EDT", -4 * 3600},
		{"Asia/Kolkata", "Asia/Kolkata", 5*3600 + 1800},
		{"America/St_Johns", "America/St_Johns", -(2*3600 + 1800)},
		{"-5", "<-05>+05", -5 * 3600}, // a number: hours east (ISO)
		{"5.5", "<+05:30>-05:30", 5*3600 + 1800},
		{"UTC+3", "UTC+3", -3 * 3600},   // POSIX: hours west
		{"+02:00", "+02:00", -2 * 3600}, // POSIX with an empty name
		{"<+07>-07", "<+07>-07", 7 * 3600},
	} {
		shown, loc, err := parseTimeZone(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		_, off := at.In(loc).Zone()
		if shown != c.shown || off != c.east {
			t.Errorf("%q: shown %q offset %d, want %q %d", c.in, shown, off, c.shown, c.east)
		}
	}
	for _, bad := range []string{"Mars/Olympus", "UTC+99", "", "../etc/passwd", "Local", "+1x"} {
		if _, _, err := parseTimeZone(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestStartupOptions(t *testing.T) {
	got := startupOptions(`-c TimeZone=Europe/Berlin -cDateStyle=SQL,\ DMY --search_path=public`)
	want := []string{"TimeZone=Europe/Berlin", "DateStyle=SQL, DMY", "search_path=public"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}
