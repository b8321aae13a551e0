package session

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/tablesm"
	"github.com/cairndb/cairn/internal/types"
)

// tableBackend is a Backend with one table of four shards; it records
// the commands the session sends.
type tableBackend struct {
	Backend
	cat    *catalog.Catalog
	writes []string
}

func newTableBackend() *tableBackend {
	cat := catalog.New()
	cat.Nodes["n1"] = &catalog.Node{ID: 1, Name: "n1", Role: "data"}
	cat.Tables["devices"] = &catalog.Table{ID: 1, Name: "devices", Shards: 4, Replication: 1, Groups: []uint64{10, 11, 12, 13}, PrimaryKey: []int{0},
		Columns: []catalog.Column{{Name: "id", T: types.Int4, ID: 1, NotNull: true}, {Name: "site", T: types.Text, ID: 2, NotNull: true}, {Name: "n", T: types.Int8, ID: 3, Default: "'7'::int8"}}}
	return &tableBackend{cat: cat}
}

func (f *tableBackend) Version() string           { return "test" }
func (f *tableBackend) Catalog() *catalog.Catalog { return f.cat }
func (f *tableBackend) TableSource(t *catalog.Table) exec.KeyedSource {
	panic("not read in these tests")
}

func (f *tableBackend) TableWrite(_ context.Context, t *catalog.Table, cmds map[int]*tablesm.Command) (int, error) {
	var shards []int
	for sh := range cmds {
		shards = append(shards, sh)
	}
	sort.Ints(shards)
	n := 0
	for _, sh := range shards {
		c := cmds[sh]
		w := fmt.Sprintf("%s shard %d: %s", t.Name, sh, c.Op)
		if c.Keys != nil {
			w += fmt.Sprintf(" keys=%d", len(c.Keys))
		}
		if len(c.Rows) > 0 {
			var rows []string
			for _, r := range c.Rows {
				row, err := tablesm.DecodeRow(t.Columns, r, nil)
				if err != nil {
					return 0, err
				}
				rows = append(rows, rowText(row))
			}
			w += " rows=" + strings.Join(rows, " ")
		}
		if c.Conflict != "" {
			w += " conflict=" + c.Conflict
		}
		for _, s := range c.Set {
			w += fmt.Sprintf(" set[%s]=%s", t.Columns[s.Col].Name, s.SQL)
		}
		if c.Where != "" {
			w += " where=" + c.Where
		}
		if len(c.Params) > 0 {
			w += fmt.Sprintf(" params=%d", len(c.Params))
		}
		f.writes = append(f.writes, w)
		n += len(c.Rows)
	}
	return n, nil
}

// run runs sql (one statement) with params and returns its tag or error.
func (f *tableBackend) run(t *testing.T, s *Session, sql string, params ...types.Datum) string {
	t.Helper()
	stmt, err := parser.ParseOne(sql)
	if err != nil {
		return "ERROR " + pgerr.Code(err)
	}
	ctx := context.Background()
	p, err := s.Prepare(ctx, stmt, sql, nil)
	if err != nil {
		return "ERROR " + pgerr.Code(err) + ": " + pgerr.From(err).Message
	}
	var out strings.Builder
	tag, err := p.Execute(ctx, params, &recorder{out: &out, style: s.styleOrDefault})
	if err != nil {
		return "ERROR " + pgerr.Code(err) + ": " + pgerr.From(err).Message
	}
	return tag
}

func TestTableDML(t *testing.T) {
	f := newTableBackend()
	s := New(f, "cairn", nil)
	for _, tc := range []struct {
		sql    string
		params []types.Datum
		tag    string
		writes []string // nil: none
	}{
		{sql: "INSERT INTO devices (id, site) VALUES (1, 'a')", tag: "INSERT 0 1",
			writes: []string{"devices shard 3: insert rows=(1, a, 7)"}},
		{sql: "INSERT INTO devices VALUES ($1, 'b', NULL), (2, 'c')", params: []types.Datum{types.NewInt(types.Int4, 5)}, tag: "ERROR 42601: VALUES lists must all be the same length"},
		// A WHERE that pins the key goes to the key's shard only.
		{sql: "UPDATE devices d SET n = d.n + 1 WHERE d.id = $1", params: []types.Datum{types.NewInt(types.Int4, 1)}, tag: "UPDATE 0",
			writes: []string{"devices shard 3: update keys=1 set[n]=(n + 1) where=(id = $1) params=1"}},
		{sql: "DELETE FROM devices WHERE id IN (1, 2, 3) AND site <> 'x'", tag: "DELETE 0",
			writes: []string{"devices shard 1: delete keys=1 where=((id IN (1, 2, 3)) AND (site <> 'x'))", "devices shard 2: delete keys=1 where=((id IN (1, 2, 3)) AND (site <> 'x'))", "devices shard 3: delete keys=1 where=((id IN (1, 2, 3)) AND (site <> 'x'))"}},
		// Otherwise every shard.
		{sql: "DELETE FROM devices WHERE id > 1 OR id = 1", tag: "DELETE 0",
			writes: []string{"devices shard 0: delete where=((id > 1) OR (id = 1))", "devices shard 1: delete where=((id > 1) OR (id = 1))", "devices shard 2: delete where=((id > 1) OR (id = 1))", "devices shard 3: delete where=((id > 1) OR (id = 1))"}},
		{sql: "INSERT INTO devices (id, site) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET n = devices.n + EXCLUDED.n WHERE devices.site <> excluded.site", tag: "INSERT 0 1",
			writes: []string{`devices shard 3: insert rows=(1, a, 7) conflict=update set[n]=(n + "excluded.n") where=(site <> "excluded.site")`}},
		{sql: "UPDATE devices SET site = gen_random_uuid()::text", tag: "ERROR 0A000: gen_random_uuid() cannot be used in UPDATE of a table: each replica of a shard evaluates the expression"},
		{sql: "DELETE FROM devices WHERE n < extract(epoch FROM clock_timestamp())", tag: "ERROR 0A000: clock_timestamp() cannot be used in DELETE of a table: each replica of a shard evaluates the expression"},
		{sql: "UPDATE devices SET id = 2", tag: "ERROR 0A000: cannot change primary key column \"id\" with UPDATE"},
		{sql: "UPDATE devices SET n = 1, n = 2", tag: "ERROR 42601: multiple assignments to same column \"n\""},
		{sql: "UPDATE devices SET n = x.n", tag: "ERROR 42P01: missing FROM-clause entry for table \"x\""},
		{sql: "UPDATE devices SET n = true", tag: "ERROR 42804: column \"n\" is of type bigint but expression is of type boolean"},
		{sql: "INSERT INTO devices (id, site) VALUES (1, NULL)", tag: "ERROR 23502: null value in column \"site\" of relation \"devices\" violates not-null constraint"},
		{sql: "INSERT INTO devices VALUES (1, 'a') ON CONFLICT (site) DO NOTHING", tag: "ERROR 42P10: there is no unique or exclusion constraint matching the ON CONFLICT specification"},
	} {
		f.writes = nil
		if got := f.run(t, s, tc.sql, tc.params...); got != tc.tag {
			t.Errorf("%s: tag %q, want %q", tc.sql, got, tc.tag)
		}
		if strings.Join(f.writes, "\n") != strings.Join(tc.writes, "\n") {
			t.Errorf("%s: writes\n%s\nwant\n%s", tc.sql, strings.Join(f.writes, "\n"), strings.Join(tc.writes, "\n"))
		}
	}
}

// In a transaction block, table writes wait for COMMIT; ROLLBACK drops them.
func TestTableWritesDeferredInBlock(t *testing.T) {
	f := newTableBackend()
	s := New(f, "cairn", nil)
	for _, sql := range []string{"BEGIN", "INSERT INTO devices (id, site) VALUES (1, 'a')", "TRUNCATE devices", "ROLLBACK"} {
		f.run(t, s, sql)
	}
	if len(f.writes) != 0 {
		t.Fatalf("rolled back writes were sent: %v", f.writes)
	}
	if got := f.run(t, s, "BEGIN"); got != "BEGIN" {
		t.Fatal(got)
	}
	// Table DDL in a block is planned and run at once, like all DDL
	// (prepare.go; e2e's errors script creates a table in a block).
	if got := f.run(t, s, "CREATE TABLE x (a int)"); !strings.Contains(got, "has no primary key") {
		t.Fatal(got)
	}
	f.run(t, s, "ROLLBACK")
	f.run(t, s, "BEGIN")
	f.run(t, s, "INSERT INTO devices (id, site) VALUES (1, 'a')")
	if got := f.run(t, s, "UPDATE devices SET n = 1 WHERE id = 1"); got != "UPDATE 0" || len(f.writes) != 0 {
		t.Fatalf("%s %v", got, f.writes)
	}
	if got := f.run(t, s, "COMMIT"); got != "COMMIT" {
		t.Fatal(got)
	}
	want := "devices shard 3: insert rows=(1, a, 7)\ndevices shard 3: update keys=1 set[n]=1 where=(id = 1)"
	if got := strings.Join(f.writes, "\n"); got != want {
		t.Fatalf("committed writes:\n%s\nwant\n%s", got, want)
	}
}
