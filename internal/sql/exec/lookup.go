package exec

import (
	"context"
	"math"
	"slices"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// KeyedSource is a Source whose rows are identified by a group key: a
// view. A SELECT whose WHERE pins every key column to constants reads
// only those keys instead of scanning every row.
type KeyedSource interface {
	Source
	// KeyColumns returns, for each group-key column in key order, its
	// index in Columns(); nil if the key is not fully exposed as plain
	// output columns (then no lookups are possible).
	KeyColumns() []int
	// ScanKeys reads only the rows whose key equals one of keys (each key
	// has one datum per KeyColumns entry, already of that column's type).
	// Missing keys are skipped. fn must not retain b; an error from fn
	// ends the scan and is returned.
	ScanKeys(ctx context.Context, keys [][]types.Datum, fn func(b *types.Batch) error) error
}

// maxLookupKeys caps the cross product of looked-up keys; a larger IN
// list is cheaper (and simpler) as a scan.
const maxLookupKeys = 1000

// keyLookup is the point-lookup part of a plan: for each key column, the
// constant expressions WHERE equates it to. The full WHERE still runs on
// the rows read, so the key list only has to be a superset of the rows
// WHERE keeps.
type keyLookup struct {
	src   KeyedSource
	types []types.T        // key column types, in key order
	vals  [][]*scalar.Node // per key column: candidate values, compiled over no columns
}

// planLookup returns the lookup for src when where is a conjunction that
// equates every key column of src to constants (= or IN), else nil.
// Params is cloned, so the analysis never changes inferred types.
func planLookup(src Source, where parser.Expr, cols []Column, quals []string, params *ParamTypes) *keyLookup {
	ks, ok := src.(KeyedSource)
	if !ok || where == nil {
		return nil
	}
	keyCols := ks.KeyColumns()
	if len(keyCols) == 0 {
		return nil
	}
	l := &keyLookup{src: ks, types: make([]types.T, len(keyCols)), vals: make([][]*scalar.Node, len(keyCols))}
	for i, c := range keyCols {
		if c < 0 || c >= len(cols) {
			return nil
		}
		t := cols[c].T
		if t == types.Interval || t == types.Unknown {
			// Interval equality compares spans ('1 day' = '24 hours'),
			// which the key encoding does not: no lookups.
			return nil
		}
		l.types[i] = t
	}
	var cp *ParamTypes
	if params != nil {
		cp = &ParamTypes{Types: slices.Clone(params.Types)}
	}
	lc := &lookupCompiler{scope: &scalar.Compiler{Cols: cols, Quals: quals}, konst: &scalar.Compiler{Params: cp, NoAgg: "WHERE"}}
	keyOf := func(e parser.Expr) int {
		r, ok := e.(*parser.ColumnRef)
		if !ok {
			return -1
		}
		idx, err := lc.scope.ResolveCol(r)
		if err != nil || idx < 0 {
			return -1
		}
		return slices.Index(keyCols, idx)
	}
	var conj func(e parser.Expr)
	conj = func(e parser.Expr) {
		switch e := e.(type) {
		case *parser.Binary:
			switch {
			case strings.EqualFold(e.Op, "AND"):
				conj(e.L)
				conj(e.R)
			case e.Op == "=":
				for _, side := range [2][2]parser.Expr{{e.L, e.R}, {e.R, e.L}} {
					if k := keyOf(side[0]); k >= 0 && l.vals[k] == nil {
						if n := lc.value(side[1], l.types[k]); n != nil {
							l.vals[k] = []*scalar.Node{n}
							return
						}
					}
				}
			}
		case *parser.InList:
			k := keyOf(e.X)
			if e.Not || k < 0 || l.vals[k] != nil || len(e.List) == 0 {
				return
			}
			var ns []*scalar.Node
			for _, x := range e.List {
				n := lc.value(x, l.types[k])
				if n == nil {
					return
				}
				ns = append(ns, n)
			}
			l.vals[k] = ns
		}
	}
	conj(where)
	total := 1
	for _, vs := range l.vals {
		if vs == nil {
			return nil
		}
		total *= len(vs)
		if total > maxLookupKeys {
			return nil
		}
	}
	return l
}

// lookupCompiler compiles the constant side of a key equality.
type lookupCompiler struct {
	scope *scalar.Compiler // the FROM item's columns, to resolve key columns
	konst *scalar.Compiler // no columns: anything that compiles is column-free
}

// value compiles e as a value for a key of type t, or returns nil when e
// is not a constant (a column, now(), a subquery) or its type cannot
// stand for the key's (text for an integer key, say).
func (lc *lookupCompiler) value(e parser.Expr, t types.T) *scalar.Node {
	if !lc.constShape(e) {
		return nil
	}
	n, err := lc.konst.Compile(e)
	if err != nil {
		return nil
	}
	if n.Untyped || n.Param > 0 {
		// As the comparison does: an untyped literal or parameter takes
		// the column's type.
		if n, err = lc.konst.Coerce(n, t, e.Pos()); err != nil {
			return nil
		}
	}
	if !lookupCompatible(n.T, t) {
		return nil
	}
	return n
}

// constShape reports whether e is built from literals and parameters
// with casts, operators and non-volatile functions only.
func (lc *lookupCompiler) constShape(e parser.Expr) bool {
	switch e := e.(type) {
	case *parser.Literal, *parser.Param:
		return true
	case *parser.Cast:
		return lc.constShape(e.X)
	case *parser.Unary:
		return lc.constShape(e.X)
	case *parser.Binary:
		return lc.constShape(e.L) && lc.constShape(e.R)
	case *parser.Func:
		if e.Star || e.Distinct || scalar.IsAggName(strings.ToLower(e.Name)) {
			return false
		}
		for _, a := range e.Args {
			if !lc.constShape(a) {
				return false
			}
		}
		// Volatility starts at the function's own builder (now(),
		// current_setting()); its arguments were checked above.
		n, err := lc.konst.Compile(e)
		return err == nil && !n.Volatile
	}
	return false
}

// lookupCompatible reports whether a value of type from converts to the
// key type to so that a key equal to the value (as the comparison sees
// it) is exactly the converted value.
func lookupCompatible(from, to types.T) bool {
	switch {
	case from == to:
		return true
	case from.IsNumeric() && to.IsNumeric():
		return true
	case scalar.TimeRank(from) > 0 && scalar.TimeRank(to) > 0:
		return true
	}
	return false
}

// Keys evaluates the key values and returns their cross product, or
// ok=false when the plan should scan instead: a value failed to evaluate
// or convert (the scan then reports the same error WHERE would, or none
// when no row reaches it), or a float stands for an integer key beyond
// the range where float equality is exact.
func (l *keyLookup) keys(ec *Ctx) (keys [][]types.Datum, ok bool) {
	per := make([][]types.Datum, len(l.vals))
	var enc []byte
	var seen map[string]bool // only for IN lists
	total := 1
	for k, ns := range l.vals {
		t := l.types[k]
		if len(ns) > 1 {
			if seen == nil {
				seen = make(map[string]bool, len(ns))
			}
			clear(seen)
		}
		for _, n := range ns {
			d, err := n.Fn(ec, scalar.Input{})
			if err != nil {
				return nil, false
			}
			if d.Null {
				continue // key = NULL is never true
			}
			if t.IsInt() && d.T.IsFloat() && !(math.Abs(d.F) < 1<<53) {
				return nil, false
			}
			if d, err = Coerce(d, t); err != nil {
				return nil, false
			}
			if len(ns) > 1 {
				enc = scalar.AppendKey(enc[:0], d)
				if seen[string(enc)] {
					continue
				}
				seen[string(enc)] = true
			}
			per[k] = append(per[k], scalar.Own(d))
		}
		total *= len(per[k])
	}
	if total == 0 {
		return nil, true
	}
	keys = make([][]types.Datum, 0, total)
	idx := make([]int, len(per))
	for {
		key := make([]types.Datum, len(per))
		for k, i := range idx {
			key[k] = per[k][i]
		}
		keys = append(keys, key)
		k := len(idx) - 1
		for ; k >= 0; k-- {
			if idx[k]++; idx[k] < len(per[k]) {
				break
			}
			idx[k] = 0
		}
		if k < 0 {
			return keys, true
		}
	}
}

// KeyColumns returns, for each group-key expression in key order, the
// index of the output column (Columns()) that is exactly that key, or
// nil if some key is not output as a plain column (or the view has no
// GROUP BY).
func (v *ViewPlan) KeyColumns() []int {
	if v.Windowed() {
		return nil // a group's state is spread over bucket keys: scan
	}
	return slices.Clone(v.keyCols)
}

// EncodeKey appends one group key (datums in key order, of KeyTypes();
// other types convert with Coerce) encoded exactly as Fold encodes group
// Keys, so a reader can find the group's stored state.
func (v *ViewPlan) EncodeKey(dst []byte, key []types.Datum) ([]byte, error) {
	if len(key) != len(v.keys) {
		return dst, pgerr.ViewKeyArity.New(len(v.keys), len(key))
	}
	for i, d := range key {
		if t := v.keys[i].T; d.T != t && !d.Null {
			var err error
			if d, err = Coerce(d, t); err != nil {
				return dst, err
			}
		}
		dst = scalar.AppendKey(dst, d)
	}
	return dst, nil
}

// viewKeyColumns finds, for each group key, the first select item that is
// exactly that key (so it compiled to a read of the key): nil if one is
// missing.
func viewKeyColumns(g *grouping, items []selItem) []int {
	if len(g.actx.Keys) == 0 {
		return nil
	}
	out := make([]int, len(g.actx.Keys))
	for k, kc := range g.actx.Keys {
		out[k] = -1
		for j, it := range items {
			if agg.Canon(g.actx.In, it.expr) == kc {
				out[k] = j
				break
			}
		}
		if out[k] < 0 {
			return nil
		}
	}
	return out
}
