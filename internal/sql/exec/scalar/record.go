package scalar

import (
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Records and field selection (issue 11: pkeys). A record value
// (types.Record) describes itself at run time (types.NewRecord); its
// shape, the field names and types, is known at compile time from where
// it came: a set-returning function with a row type
// (information_schema._pg_expandarray) and the columns that carry it
// (Column.Rec, Node.Rec). `(r).field` compiles against that shape.

// RecordShape is the row type of a record: its fields' names and types.
type RecordShape struct {
	Names []string
	Types []types.T
}

// ExpandArrayShape is the row type of information_schema._pg_expandarray
// over an array of elem: (x elem, n integer).
func ExpandArrayShape(elem types.T) *RecordShape {
	return &RecordShape{Names: []string{"x", "n"}, Types: []types.T{elem, types.Int4}}
}

// RecordNode is a node of type record with the row type rec.
func RecordNode(rec *RecordShape, fn EvalFn) *Node {
	n := newNode(types.Record, fn)
	n.Rec = rec
	return n
}

// compileFieldSel compiles `(x).field`.
func (c *Compiler) compileFieldSel(e *parser.FieldSel) (*Node, error) {
	x, err := c.Compile(e.X)
	if err != nil {
		return nil, err
	}
	if x.T != types.Record {
		return nil, pgerr.FieldSelNotRecord.New(e.Field, x.T).WithPos(e.P)
	}
	if x.Rec == nil {
		return nil, pgerr.RecordUntypedField.New(e.Field).WithPos(e.P)
	}
	i := -1
	for j, name := range x.Rec.Names {
		if name == e.Field {
			i = j
		}
	}
	if i < 0 {
		return nil, pgerr.RecordNoField.New(e.Field, types.Record).WithPos(e.P)
	}
	t := x.Rec.Types[i]
	return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		d, err := x.Fn(ec, in)
		if err != nil || d.Null {
			return types.NullOf(t), err
		}
		fs, err := types.RecordFields(d)
		if err != nil {
			return types.Datum{}, err
		}
		if i >= len(fs) || fs[i].T != t {
			return types.Datum{}, pgerr.RecordCorrupt.New()
		}
		return fs[i], nil
	}), nil
}

// compareRecords orders records field by field, as PostgreSQL does: a
// NULL field sorts after any value, and a shorter record before a longer
// one with the same leading fields.
func compareRecords(a, b types.Datum) int {
	fa, erra := types.RecordFields(a)
	fb, errb := types.RecordFields(b)
	if erra != nil || errb != nil {
		return 0
	}
	for i := 0; i < len(fa) && i < len(fb); i++ {
		x, y := fa[i], fb[i]
		switch {
		case x.Null && y.Null:
			continue
		case x.Null:
			return 1
		case y.Null:
			return -1
		}
		if r := CompareDatums(x, y); r != 0 {
			return r
		}
	}
	return cmpInt(int64(len(fa)), int64(len(fb)))
}
