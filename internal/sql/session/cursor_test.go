package session

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// genBackend's streams read as a generator of n rows (v = 0..n-1), one
// row per batch, counting the rows it produced.
type genBackend struct {
	*settingsBackend
	n        int
	produced atomic.Int64
}

type genSource struct{ b *genBackend }

func (g genSource) Columns() []exec.Column {
	return []exec.Column{{Name: "v", T: types.Int8}}
}

func (g genSource) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	b := types.NewBatch([]types.T{types.Int8})
	for i := range g.b.n {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.Reset()
		b.AppendRow([]types.Datum{types.NewInt(types.Int8, int64(i))})
		g.b.produced.Add(1)
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

func (g *genBackend) StreamSource(*catalog.Stream, ReadPolicy) exec.Source { return genSource{g} }

// run executes sql's statements in s, returning rows and tags as text.
func run(t *testing.T, ctx context.Context, s *Session, sql string) string {
	t.Helper()
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, st := range stmts {
		w := &recorder{out: &sb, style: func() *types.Style { return nil }}
		p, err := s.Prepare(ctx, st, "", nil)
		if err != nil {
			t.Fatalf("%s: %v", parser.Format(st), err)
		}
		tag, err := p.Execute(ctx, nil, w)
		if err != nil {
			t.Fatalf("%s: %v", parser.Format(st), err)
		}
		sb.WriteString(tag + "\n")
	}
	return sb.String()
}

// TestCursorStreams: a cursor without HOLD over a million-row stream
// produces only the rows fetched (and a little read-ahead), CLOSE and
// COMMIT stop its query, and a WITH HOLD cursor holds its rows.
func TestCursorStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := &genBackend{settingsBackend: newSettingsBackend(), n: 1_000_000}
	s := New(b, "cairn", nil)
	defer s.Close()
	got := run(t, ctx, s, "BEGIN; DECLARE c CURSOR FOR SELECT v FROM events WHERE v % 2 = 1; FETCH 3 FROM c; MOVE 2 IN c; FETCH 1 FROM c")
	if want := "BEGIN\nDECLARE CURSOR\n1\n3\n5\nFETCH 3\nMOVE 2\n11\nFETCH 1\n"; got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if p := b.produced.Load(); p > 20 {
		t.Fatalf("the source produced %d rows for 6 fetched", p)
	}
	// Another statement runs while the cursor is paused.
	if got := run(t, ctx, s, "SELECT 7; FETCH 1 FROM c"); got != "7\nSELECT 1\n13\nFETCH 1\n" {
		t.Fatalf("interleaved: %q", got)
	}
	run(t, ctx, s, "COMMIT")
	if len(s.proto.cursors) != 0 {
		t.Fatalf("cursors after COMMIT: %v", s.proto.cursors)
	}
	// WITH HOLD runs the query to its end at DECLARE and holds the rows.
	b.n = 1000
	b.produced.Store(0)
	got = run(t, ctx, s, "DECLARE h CURSOR WITH HOLD FOR SELECT v FROM events; FETCH 2 FROM h; FETCH ALL FROM h")
	if !strings.HasPrefix(got, "DECLARE CURSOR\n0\n1\nFETCH 2\n2\n") || !strings.HasSuffix(got, "999\nFETCH 998\n") {
		t.Fatalf("hold cursor: %q", got)
	}
	if p := b.produced.Load(); p != 1000 {
		t.Fatalf("hold cursor produced %d rows", p)
	}
	// A statement_timeout during FETCH ALL stops the cursor's query.
	b.n = 1 << 40
	run(t, ctx, s, "SET statement_timeout = '200ms'; BEGIN; DECLARE big CURSOR FOR SELECT v FROM events WHERE v = 0 OR v < 0")
	stmts, _, _ := parser.Parse("FETCH ALL FROM big")
	p, err := s.Prepare(ctx, stmts[0], "", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Execute(ctx, nil, &recorder{out: &strings.Builder{}, style: func() *types.Style { return nil }})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("FETCH ALL of an endless query: %v after %s", err, time.Since(start))
	}
	run(t, ctx, s, "ROLLBACK")
	// So does one during a DECLARE still looking for its first row.
	stmts, _, _ = parser.Parse("DECLARE big2 CURSOR WITH HOLD FOR SELECT v FROM events WHERE v < 0")
	if p, err = s.Prepare(ctx, stmts[0], "", nil); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = p.Execute(ctx, nil, &recorder{out: &strings.Builder{}, style: func() *types.Style { return nil }})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("DECLARE of an endless query: %v after %s", err, time.Since(start))
	}
	stmts, _, _ = parser.Parse("BEGIN; DECLARE big3 CURSOR FOR SELECT v FROM events WHERE v < 0")
	for _, st := range stmts {
		if p, err = s.Prepare(ctx, st, "", nil); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		_, err = p.Execute(ctx, nil, &recorder{out: &strings.Builder{}, style: func() *types.Style { return nil }})
	}
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("DECLARE of an endless query: %v after %s", err, time.Since(start))
	}
	run(t, ctx, s, "ROLLBACK")
}
