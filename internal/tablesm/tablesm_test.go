package tablesm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

var prefix = []byte("g7/")

// shard is a state machine over an in-memory engine, applying commands
// one per batch as the raft store does.
type shard struct {
	t     *testing.T
	db    *pebble.DB
	sm    *SM
	index uint64
	cols  []catalog.Column
}

func newShard(t *testing.T) *shard {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cols := []catalog.Column{{Name: "id", T: types.Int4, ID: 1, NotNull: true}, {Name: "site", T: types.Text, ID: 2, NotNull: true}, {Name: "n", T: types.Int8, ID: 3}}
	s := &shard{t: t, db: db, cols: cols}
	s.sm = New(prefix, db)
	return s
}

func (s *shard) applyID(id [IDLen]byte, c *Command) any {
	s.t.Helper()
	c.Table, c.Key = "devices", []int{0}
	if c.Cols == nil {
		c.Cols = s.cols
	}
	wb := s.db.NewIndexedBatch()
	s.index++
	res := s.sm.Apply(wb, s.index, Encode(id, c))
	if err := wb.Commit(pebble.Sync); err != nil {
		s.t.Fatal(err)
	}
	s.sm.Durable()
	return res
}

func (s *shard) apply(c *Command) any {
	var id [IDLen]byte
	copy(id[:], fmt.Sprint(s.index+1, "-cmd"))
	return s.applyID(id, c)
}

func (s *shard) rows(cols ...catalog.Column) string {
	if cols == nil {
		cols = s.cols
	}
	var out []string
	var row []types.Datum
	err := Rows(s.db, prefix, func(_, v []byte) error {
		var err error
		row, err = DecodeRow(cols, v, row)
		var f []string
		for _, d := range row {
			f = append(f, string(types.AppendText(nil, d)))
			if d.Null {
				f[len(f)-1] = "NULL"
			}
		}
		out = append(out, strings.Join(f, ","))
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func row(cols []catalog.Column, vals ...any) []byte {
	ds := make([]types.Datum, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case int:
			ds[i] = types.Datum{T: cols[i].T, I: int64(v)}
		case string:
			ds[i] = types.Datum{T: types.Text, S: v}
		case nil:
			ds[i] = types.NullOf(cols[i].T)
		}
	}
	return EncodeRow(cols, ds)
}

func code(res any) string {
	if e, ok := res.(*pgerr.Error); ok {
		return e.Code + " " + e.Message + " " + e.Detail
	}
	return fmt.Sprint(res)
}

func TestInsertAtomicAndDuplicates(t *testing.T) {
	s := newShard(t)
	c := s.cols
	if got := code(s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(c, 1, "a", 10), row(c, 2, "b", nil)}})); got != "{2}" {
		t.Fatal(got)
	}
	// A duplicate against the shard, and within the statement: nothing of
	// the command is applied.
	got := code(s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(c, 3, "c", 1), row(c, 1, "x", 1)}}))
	if got != `23505 duplicate key value violates unique constraint "devices_pkey" Key (id)=(1) already exists.` {
		t.Fatal(got)
	}
	got = code(s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(c, 4, "c", 1), row(c, 4, "d", 1)}}))
	if !strings.HasPrefix(got, "23505") {
		t.Fatal(got)
	}
	got = code(s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(c, 5, "c", 1), row(c, 6, nil, 1)}}))
	if got != `23502 null value in column "site" of relation "devices" violates not-null constraint ` {
		t.Fatal(got)
	}
	if got := s.rows(); got != "1,a,10 2,b,NULL" {
		t.Fatal(got)
	}
	// DO NOTHING skips the conflicting rows only.
	if got := code(s.apply(&Command{Op: OpInsert, Conflict: ConflictNothing, Rows: [][]byte{row(c, 1, "z", 0), row(c, 3, "c", 3), row(c, 3, "d", 4)}})); got != "{1}" {
		t.Fatal(got)
	}
	if got := s.rows(); got != "1,a,10 2,b,NULL 3,c,3" {
		t.Fatal(got)
	}
}

func TestUpsertUpdateDelete(t *testing.T) {
	s := newShard(t)
	c := s.cols
	s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(c, 1, "a", 10), row(c, 2, "b", 20), row(c, 3, "c", 30)}})
	// DO UPDATE SET n = n + excluded.n WHERE n < 15.
	up := &Command{Op: OpInsert, Conflict: ConflictUpdate, Set: []SetExpr{{Col: 2, SQL: `n + "excluded.n"`}, {Col: 1, SQL: `"excluded.site"`}},
		Where: "n < $1", Params: EncodeParams([]types.Datum{{T: types.Int8, I: 15}}),
		Rows: [][]byte{row(c, 1, "x", 5), row(c, 2, "y", 5), row(c, 4, "d", 40)}}
	if got := code(s.apply(up)); got != "{2}" {
		t.Fatal(got)
	}
	if got := s.rows(); got != "1,x,15 2,b,20 3,c,30 4,d,40" {
		t.Fatal(got)
	}
	twice := &Command{Op: OpInsert, Conflict: ConflictUpdate, Set: []SetExpr{{Col: 2, SQL: "0"}}, Rows: [][]byte{row(c, 1, "x", 5), row(c, 1, "x", 6)}}
	if got := code(s.apply(twice)); !strings.HasPrefix(got, "21000") {
		t.Fatal(got)
	}
	// UPDATE over every row, and over given keys.
	if got := code(s.apply(&Command{Op: OpUpdate, Set: []SetExpr{{Col: 2, SQL: "n * 2"}}, Where: "n >= 20"})); got != "{3}" {
		t.Fatal(got)
	}
	k1 := EncodeKey([]types.Datum{{T: types.Int4, I: 1}})
	if got := code(s.apply(&Command{Op: OpUpdate, Set: []SetExpr{{Col: 2, SQL: "NULL"}}, Keys: [][]byte{k1, k1}})); got != "{1}" {
		t.Fatal(got)
	}
	// A failing row fails the whole statement.
	if got := code(s.apply(&Command{Op: OpUpdate, Set: []SetExpr{{Col: 2, SQL: "100 / (n - 40)"}}})); !strings.HasPrefix(got, "22012") {
		t.Fatal(got)
	}
	if got := code(s.apply(&Command{Op: OpUpdate, Set: []SetExpr{{Col: 1, SQL: "NULL"}}, Where: "id = 2"})); !strings.HasPrefix(got, "23502") {
		t.Fatal(got)
	}
	if got := code(s.apply(&Command{Op: OpUpdate, Set: []SetExpr{{Col: 0, SQL: "id + 10"}}})); !strings.HasPrefix(got, "0A000") {
		t.Fatal(got)
	}
	if got := s.rows(); got != "1,x,NULL 2,b,40 3,c,60 4,d,80" {
		t.Fatal(got)
	}
	if got := code(s.apply(&Command{Op: OpDelete, Where: "n > 50 OR n IS NULL"})); got != "{3}" {
		t.Fatal(got)
	}
	if got := s.rows(); got != "2,b,40" {
		t.Fatal(got)
	}
	if got := code(s.apply(&Command{Op: OpTruncate})); got != "{0}" || s.rows() != "" {
		t.Fatal(got, s.rows())
	}
}

// A retried command (same id) is applied once and answers as the first time.
func TestRetryDedupe(t *testing.T) {
	s := newShard(t)
	c := s.cols
	s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(c, 1, "a", 1)}})
	id := [IDLen]byte{9}
	inc := &Command{Op: OpUpdate, Set: []SetExpr{{Col: 2, SQL: "n + 1"}}}
	for i := 0; i < 3; i++ {
		if got := code(s.applyID(id, inc)); got != "{1}" {
			t.Fatal(got)
		}
	}
	if got := s.rows(); got != "1,a,2" {
		t.Fatal(got)
	}
	// After a restart (Load) too.
	s.sm = New(prefix, s.db)
	if err := s.sm.Load(s.db); err != nil {
		t.Fatal(err)
	}
	if got := code(s.applyID(id, inc)); got != "{1}" || s.rows() != "1,a,2" {
		t.Fatal(got, s.rows())
	}
}

// Rows written before ALTER TABLE read right after it: a dropped
// column's value is skipped, an added column reads its default.
func TestAlteredRows(t *testing.T) {
	s := newShard(t)
	c := s.cols
	s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(c, 1, "a", 1)}})
	// DROP n, ADD zone DEFAULT 'eu', ADD n (new id, no default).
	altered := []catalog.Column{c[0], c[1], {Name: "zone", T: types.Text, ID: 4, Default: "'eu'"}, {Name: "n", T: types.Text, ID: 5}}
	if got := s.rows(altered...); got != "1,a,eu,NULL" {
		t.Fatal(got)
	}
	s.cols = altered
	s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(altered, 2, "b", "us", "x")}})
	s.apply(&Command{Op: OpUpdate, Set: []SetExpr{{Col: 3, SQL: "zone || '!'"}}, Where: "id = 1"})
	if got := s.rows(); got != "1,a,eu,eu! 2,b,us,x" {
		t.Fatal(got)
	}
	// A command planned before the ALTER still writes readable rows.
	s.apply(&Command{Op: OpInsert, Cols: c, Rows: [][]byte{row(c, 3, "c", 3)}})
	if got := s.rows(); got != "1,a,eu,eu! 2,b,us,x 3,c,eu,NULL" {
		t.Fatal(got)
	}
}

// Two replicas applying the same log end with the same bytes.
func TestReplayDeterminism(t *testing.T) {
	a, b := newShard(t), newShard(t)
	c := a.cols
	cmds := []*Command{
		{Op: OpInsert, Rows: [][]byte{row(c, 1, "a", 1), row(c, 2, "b", 2)}},
		{Op: OpInsert, Rows: [][]byte{row(c, 2, "b", 2)}},
		{Op: OpUpdate, Set: []SetExpr{{Col: 1, SQL: "site || now()::text"}}, Now: 1700000000000000},
		{Op: OpDelete, Where: "id = 1"},
	}
	for _, s := range []*shard{a, b} {
		for _, cmd := range cmds {
			s.apply(cmd)
		}
	}
	if a.rows() != b.rows() || !strings.Contains(a.rows(), "2023-11-14") {
		t.Fatal(a.rows(), b.rows())
	}
}

// Entries applied into one batch (one raft loop iteration) see each
// other's writes before the batch is committed.
func TestOneBatchSeesEarlierEntries(t *testing.T) {
	s := newShard(t)
	c := s.cols
	s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(c, 1, "a", 1)}})
	wb := s.db.NewBatch()
	var results []string
	for i, cmd := range []*Command{
		{Op: OpInsert, Rows: [][]byte{row(c, 2, "b", 2)}},
		{Op: OpInsert, Rows: [][]byte{row(c, 2, "dup", 2)}},
		{Op: OpUpdate, Set: []SetExpr{{Col: 2, SQL: "n + 10"}}},
		{Op: OpDelete, Where: "id = 1"},
		{Op: OpInsert, Rows: [][]byte{row(c, 1, "again", 0)}},
		{Op: OpTruncate},
		{Op: OpInsert, Rows: [][]byte{row(c, 3, "c", 3)}},
		{Op: OpUpdate, Set: []SetExpr{{Col: 2, SQL: "n + 1"}}},
	} {
		cmd.Table, cmd.Key, cmd.Cols = "devices", []int{0}, c
		res := s.sm.Apply(wb, uint64(100+i), Encode([IDLen]byte{byte(i + 1), 7}, cmd))
		results = append(results, strings.Fields(code(res))[0])
	}
	if err := wb.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.sm.Durable()
	if got := strings.Join(results, " "); got != "{1} 23505 {2} {1} {1} {0} {1} {1}" {
		t.Fatal(got)
	}
	if got := s.rows(); got != "3,c,4" {
		t.Fatal(got)
	}
}

// Expressions evaluate in the session's style the command carries.
func TestCommandStyle(t *testing.T) {
	s := newShard(t)
	c := s.cols
	s.apply(&Command{Op: OpInsert, Rows: [][]byte{row(c, 1, "a", 1), row(c, 2, "b", 2)}})
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := &Command{Op: OpUpdate, Set: []SetExpr{{Col: 1, SQL: "now()::text"}}, Where: "id = 1", Now: 1700000000000000,
		Style: ShipStyle(&types.Style{Loc: paris, FloatDigits: 1})}
	s.apply(at)
	fixed := &Command{Op: OpUpdate, Set: []SetExpr{{Col: 1, SQL: "now()::text"}}, Where: "id = 2", Now: 1700000000000000,
		Style: ShipStyle(&types.Style{Loc: time.FixedZone("+05:30", 5*3600+1800), FloatDigits: 1})}
	s.apply(fixed)
	if got := s.rows(); got != "1,2023-11-14 23:13:20+01,1 2,2023-11-15 03:43:20+05:30,2" {
		t.Fatal(got)
	}
}
