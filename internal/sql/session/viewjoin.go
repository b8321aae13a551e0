package session

import (
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// Continuous views over a join: a stream enriched by a table
// (exec/viewjoin.go). The view records the table (View.Tables, so DROP
// TABLE is refused while it exists) and the table's columns as planned.
// Or two streams joined within a time bound (exec/viewjoin_streams.go):
// the view records the right-hand stream (View.JoinStream; DROP STREAM is
// refused while it exists) and its offsets cover both streams' shards.

// joinViewStream resolves the stream a join view reads (the join's left
// item) and checks its right item is a table.
func (s *Session) joinViewStream(cv *parser.CreateView) (*catalog.Stream, error) {
	spec, _, err := exec.ViewJoinFrom(cv.Query)
	if err != nil {
		return nil, err
	}
	cat := s.b.Catalog()
	name, pos := exec.ViewSource(&parser.Select{From: spec.Stream})
	if name == cv.Name {
		return nil, pgerr.ViewReadsItself.New(name).WithPos(pos)
	}
	st := cat.Streams[name]
	switch {
	case st != nil:
	case cat.Views[name] != nil:
		return nil, pgerr.ViewJoinView.New(name).WithPos(pos)
	case cat.Tables[name] != nil:
		return nil, pgerr.ViewJoinShape.New().WithPos(pos)
	case name == "":
		return nil, pgerr.ViewJoinShape.New().WithPos(spec.Stream.P)
	default:
		return nil, catalog.ErrNoStream(name).WithPos(pos)
	}
	right := spec.Table.Name
	rpos := spec.Table.P
	switch {
	case right == cv.Name:
		return nil, pgerr.ViewReadsItself.New(right).WithPos(rpos)
	case cat.Tables[right] != nil:
		return st, nil
	case cat.Streams[right] != nil && right == name:
		// The task reads each shard once, as one side.
		return nil, pgerr.ViewJoinStreams.New(name).WithPos(rpos)
	case cat.Streams[right] != nil:
		return st, nil // a windowed join of two streams
	case cat.Views[right] != nil:
		return nil, pgerr.ViewJoinView.New(right).WithPos(rpos)
	}
	return nil, pgerr.RelationNotFound.New(right).
		WithHint("A continuous view joins a stream to a table or to another stream: create %s first.", parser.QuoteIdent(right)).WithPos(rpos)
}

// planJoinView plans a join view over stream st and returns what records
// in the view the table or the second stream it joins, as planned.
func (s *Session) planJoinView(cv *parser.CreateView, st *catalog.Stream, opts exec.ViewOptions) (*exec.ViewPlan, func(*catalog.View), error) {
	spec, _, err := exec.ViewJoinFrom(cv.Query)
	if err != nil {
		return nil, nil, err
	}
	if r := s.b.Catalog().Streams[spec.Table.Name]; r != nil {
		// A windowed join of two streams (exec.PlanViewStreamJoin).
		plan, err := exec.PlanViewStreamJoin(cv.Query, spec, exec.StreamColumns(st), exec.StreamColumns(r), opts)
		return plan, func(v *catalog.View) { recordJoinStream(v, r) }, err
	}
	t := s.b.Catalog().Tables[spec.Table.Name]
	if t == nil {
		return nil, nil, pgerr.TableNotFound.New(spec.Table.Name).WithPos(spec.Table.P)
	}
	cols := make([]exec.Column, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = exec.Column{Name: c.Name, T: c.T}
	}
	plan, err := exec.PlanViewJoin(cv.Query, spec, exec.StreamColumns(st), exec.JoinTable{Name: t.Name, Cols: cols, Key: t.PrimaryKey}, opts)
	return plan, func(v *catalog.View) { recordJoin(v, t) }, err
}

// recordJoin records in v the table it joins, as planned.
func recordJoin(v *catalog.View, t *catalog.Table) {
	v.Tables = []string{t.Name}
	v.JoinCols = make([]catalog.Column, len(t.Columns))
	for i, c := range t.Columns {
		v.JoinCols[i] = catalog.Column{Name: c.Name, T: c.T}
	}
	v.JoinKey = append([]int(nil), t.PrimaryKey...)
}

// recordJoinStream records in v the right-hand stream of a join of two
// streams, as planned: the view's offsets then cover its shards after
// those of v.Stream (catalog.ViewStreams).
func recordJoinStream(v *catalog.View, r *catalog.Stream) {
	v.JoinStream, v.JoinStreamID = r.Name, r.ID
	v.JoinCols = make([]catalog.Column, len(r.Cols))
	for i, c := range r.Cols {
		v.JoinCols[i] = catalog.Column{Name: c.Name, T: c.T}
	}
}

// viewStreams returns the streams whose shards v's offsets cover: st,
// then a joined stream's.
func (s *Session) viewStreams(st *catalog.Stream, v *catalog.View) []*catalog.Stream {
	if v.JoinStream == "" {
		return []*catalog.Stream{st}
	}
	if r := s.b.Catalog().Streams[v.JoinStream]; r != nil {
		return []*catalog.Stream{st, r}
	}
	return []*catalog.Stream{st} // dropped meanwhile: CREATE's proposal is refused
}
