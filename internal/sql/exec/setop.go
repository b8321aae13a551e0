package exec

import (
	"context"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// UNION / INTERSECT / EXCEPT [ALL]. Each operand is a planned query; the
// result has the first operand's column names and, per column, the type
// both operands convert to (42804 when there is none). Duplicates are
// recognized by the order-preserving key encoding, so NULLs are equal
// (IS NOT DISTINCT FROM), as set operations treat them in PostgreSQL.

type setOpNode struct {
	op          parser.SetOpKind
	all         bool
	left, right relNode
	cols        []Column
	// lconv/rconv are set when an operand's column types differ from
	// the result's.
	lconv, rconv []types.T
	stats        opStats
}

func (pl *planner) planSetOp(s *parser.SetOp) (*setOpNode, error) {
	operand := func(q *parser.Select) (relNode, error) {
		if q.SetOp != nil && q.With == nil && len(q.OrderBy) == 0 && q.Limit == nil && q.Offset == nil {
			return pl.planSetOp(q.SetOp)
		}
		p, err := pl.planQuery(q)
		if err != nil {
			return nil, err
		}
		return &planNode{p: p}, nil
	}
	l, err := operand(s.Left)
	if err != nil {
		return nil, err
	}
	r, err := operand(s.Right)
	if err != nil {
		return nil, err
	}
	lc, rc := l.Columns(), r.Columns()
	if len(lc) != len(rc) {
		return nil, pgerr.SetOpWidth.New(s.Op.String()).WithPos(s.P)
	}
	n := &setOpNode{op: s.Op, all: s.All, left: l, right: r}
	for i := range lc {
		t, ok := unifyTypes(lc[i].T, rc[i].T)
		if !ok {
			return nil, pgerr.SetOpTypes.New(s.Op.String(), lc[i].T, rc[i].T).WithPos(s.P)
		}
		n.cols = append(n.cols, Column{Name: lc[i].Name, T: t})
	}
	n.lconv = convTypes(lc, n.cols)
	n.rconv = convTypes(rc, n.cols)
	return n, nil
}

// convTypes is the per-column target types when from's types differ from
// to's, else nil.
func convTypes(from, to []Column) []types.T {
	for i := range from {
		if from[i].T != to[i].T {
			return colTypes(to)
		}
	}
	return nil
}

func (n *setOpNode) Columns() []Column { return n.cols }

// eachRow runs r and calls fn with each row converted to conv's types.
func eachRow(ctx context.Context, ec *Ctx, r relNode, conv []types.T, fn func(row []types.Datum) error) error {
	var row []types.Datum
	return r.run(ctx, ec, func(b *types.Batch) error {
		if row == nil {
			row = make([]types.Datum, len(b.Cols))
		}
		for i := 0; i < b.N; i++ {
			for j := range b.Cols {
				d := scalar.BatchDatum(&b.Cols[j], i)
				if conv != nil && d.T != conv[j] {
					if d.Null {
						d = types.NullOf(conv[j])
					} else {
						var err error
						if d, err = scalar.CoerceStyle(d, conv[j], ec.Style); err != nil {
							return err
						}
					}
				}
				row[j] = d
			}
			if err := fn(row); err != nil {
				return err
			}
		}
		return nil
	})
}

func rowKey(buf []byte, row []types.Datum) []byte {
	buf = buf[:0]
	for _, d := range row {
		buf = scalar.AppendKey(buf, d)
	}
	return buf
}

func (n *setOpNode) run(ctx context.Context, ec *Ctx, fn func(b *types.Batch) error) error {
	defer n.stats.start()()
	out := newBatcher(n.cols, n.stats.count(fn))
	var charged int64
	defer func() { ec.Shrink(charged) }()
	remember := func(m map[string]int, k []byte) error {
		sz := int64(len(k) + 48)
		if err := ec.Grow(sz); err != nil {
			return err
		}
		charged += sz
		m[string(k)] = 0
		return nil
	}
	var key []byte
	switch n.op {
	case parser.SetUnion:
		if n.all {
			for _, side := range []struct {
				r    relNode
				conv []types.T
			}{{n.left, n.lconv}, {n.right, n.rconv}} {
				if err := eachRow(ctx, ec, side.r, side.conv, out.add); err != nil {
					return err
				}
			}
			return out.flush()
		}
		seen := map[string]int{}
		emit := func(row []types.Datum) error {
			key = rowKey(key, row)
			if _, ok := seen[string(key)]; ok {
				return nil
			}
			if err := remember(seen, key); err != nil {
				return err
			}
			return out.add(row)
		}
		if err := eachRow(ctx, ec, n.left, n.lconv, emit); err != nil {
			return err
		}
		if err := eachRow(ctx, ec, n.right, n.rconv, emit); err != nil {
			return err
		}
		return out.flush()
	}
	// INTERSECT / EXCEPT: count the right side's rows, stream the left.
	counts := map[string]int{}
	err := eachRow(ctx, ec, n.right, n.rconv, func(row []types.Datum) error {
		key = rowKey(key, row)
		if _, ok := counts[string(key)]; !ok {
			if err := remember(counts, key); err != nil {
				return err
			}
		}
		counts[string(key)]++
		return nil
	})
	if err != nil {
		return err
	}
	emitted := map[string]int{}
	err = eachRow(ctx, ec, n.left, n.lconv, func(row []types.Datum) error {
		key = rowKey(key, row)
		c := counts[string(key)]
		switch {
		case n.op == parser.SetIntersect && n.all:
			if c == 0 {
				return nil
			}
			counts[string(key)] = c - 1
		case n.op == parser.SetIntersect:
			if c == 0 {
				return nil
			}
			counts[string(key)] = 0
		case n.all: // EXCEPT ALL
			if c > 0 {
				counts[string(key)] = c - 1
				return nil
			}
		default: // EXCEPT
			if _, done := emitted[string(key)]; c > 0 || done {
				return nil
			}
			if err := remember(emitted, key); err != nil {
				return err
			}
		}
		return out.add(row)
	})
	if err != nil {
		return err
	}
	return out.flush()
}

func (n *setOpNode) explain(x *explainer) {
	name := map[parser.SetOpKind]string{parser.SetUnion: "Append", parser.SetIntersect: "HashSetOp Intersect", parser.SetExcept: "HashSetOp Except"}[n.op]
	if n.op == parser.SetUnion && !n.all {
		name = "HashAggregate (UNION)"
	} else if n.all && n.op != parser.SetUnion {
		name += " All"
	}
	x.line(&n.stats, "%s", name)
	x.child(func() { n.left.explain(x) })
	x.child(func() { n.right.explain(x) })
}

// batcher collects rows into batches of 1024 for fn.
type batcher struct {
	b  *types.Batch
	fn func(b *types.Batch) error
}

func newBatcher(cols []Column, fn func(b *types.Batch) error) *batcher {
	return &batcher{b: types.NewBatch(colTypes(cols)), fn: fn}
}

func (o *batcher) add(row []types.Datum) error {
	o.b.AppendRow(row)
	if o.b.N >= 1024 {
		return o.flush()
	}
	return nil
}

func (o *batcher) flush() error {
	if o.b.N == 0 {
		return nil
	}
	err := o.fn(o.b)
	o.b.Reset()
	return err
}
