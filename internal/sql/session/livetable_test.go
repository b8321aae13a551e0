package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// liveBackend's cairn_cluster.nodes has as many rows as times it was built.
type liveBackend struct {
	*settingsBackend
	builds int
}

func (f *liveBackend) SystemTable(name string) (exec.Source, bool, error) {
	if name != "nodes" {
		return nil, false, nil
	}
	f.builds++
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}}}
	for range f.builds {
		t.Rows = append(t.Rows, []types.Datum{types.NewText("n1")})
	}
	return t, true, nil
}

// TestClusterTablesLive: a prepared statement over a cluster table reads
// its rows as they are when it runs (the audit log grows, heartbeats
// move), not as they were when it was prepared; a run right after
// prepare uses the rows prepare built.
func TestClusterTablesLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := &liveBackend{settingsBackend: newSettingsBackend()}
	s := New(b, "cairn", nil)
	stmts, _, err := parser.Parse("SELECT count(*) FROM cairn_cluster.nodes")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Prepare(ctx, stmts[0], "", nil)
	if err != nil {
		t.Fatal(err)
	}
	runOnce := func() string {
		var sb strings.Builder
		if _, err := p.Execute(ctx, nil, &recorder{out: &sb, style: func() *types.Style { return nil }}); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(sb.String())
	}
	if got := runOnce(); got != "1" || b.builds != 1 {
		t.Fatalf("first run: %q after %d builds, want 1 row from prepare's build", got, b.builds)
	}
	if got := runOnce(); got != "2" {
		t.Fatalf("second run: %q, want the rows of a fresh build (2)", got)
	}
	p, err = s.Prepare(ctx, stmts[0], "", nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(liveTableReuse + 50*time.Millisecond)
	if got := runOnce(); got != "4" {
		t.Fatalf("a run long after prepare: %q, want a fresh build (4)", got)
	}
}
