package exec

import (
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// GROUPING SETS, ROLLUP and CUBE, and grouping() (issue 11: olap). The
// GROUP BY clause expands to a list of grouping sets, each a subset of
// the distinct grouping expressions (the plan's group keys). Every input
// row is folded once per set, into the group keyed by the set's number
// and its key values, the keys outside the set NULL. The set's number is
// one more, hidden, group key after the others, so grouping() can read
// it after grouping.

// maxGroupingSets is PostgreSQL's limit.
const maxGroupingSets = 4096

// groupingSets is the expanded GROUP BY of a query with grouping sets.
type groupingSets struct {
	sets  [][]bool // per set, per key (the id key excluded): in the set
	idKey int      // index of the hidden key holding the set's number
}

// hasGroupingSets reports whether GROUP BY uses ROLLUP, CUBE, GROUPING
// SETS or ().
func hasGroupingSets(groupBy []parser.Expr) bool {
	for _, g := range groupBy {
		if _, ok := g.(*parser.GroupingSet); ok {
			return true
		}
	}
	return false
}

// expandSets expands GROUP BY items into grouping sets of expressions:
// the cross product of each item's sets.
func expandSets(groupBy []parser.Expr) ([][]parser.Expr, error) {
	out := [][]parser.Expr{{}}
	for _, g := range groupBy {
		gs, err := itemSets(g)
		if err != nil {
			return nil, err
		}
		var next [][]parser.Expr
		for _, a := range out {
			for _, b := range gs {
				if len(next) >= maxGroupingSets {
					return nil, pgerr.TooManyGroupingSets.New().WithPos(g.Pos())
				}
				s := append(append([]parser.Expr(nil), a...), b...)
				next = append(next, s)
			}
		}
		out = next
	}
	return out, nil
}

// itemSets is the list of grouping sets one GROUP BY element stands for.
func itemSets(e parser.Expr) ([][]parser.Expr, error) {
	g, ok := e.(*parser.GroupingSet)
	if !ok {
		return [][]parser.Expr{{e}}, nil
	}
	elems := func() [][]parser.Expr {
		var out [][]parser.Expr
		for _, it := range g.Items {
			if l, ok := it.(*parser.GroupingSet); ok && l.Kind == parser.GroupingList {
				out = append(out, l.Items)
			} else {
				out = append(out, []parser.Expr{it})
			}
		}
		return out
	}
	switch g.Kind {
	case parser.GroupingEmpty:
		return [][]parser.Expr{{}}, nil
	case parser.GroupingList:
		return [][]parser.Expr{g.Items}, nil
	case parser.GroupingRollup:
		es := elems()
		var out [][]parser.Expr
		for n := len(es); n >= 0; n-- {
			var s []parser.Expr
			for _, x := range es[:n] {
				s = append(s, x...)
			}
			out = append(out, s)
		}
		return out, nil
	case parser.GroupingCube:
		es := elems()
		if len(es) > 12 {
			return nil, pgerr.CubeTooLarge.New().WithPos(g.P)
		}
		var out [][]parser.Expr
		for mask := (1 << len(es)) - 1; mask >= 0; mask-- {
			var s []parser.Expr
			for i, x := range es {
				if mask&(1<<(len(es)-1-i)) != 0 {
					s = append(s, x...)
				}
			}
			out = append(out, s)
		}
		return out, nil
	}
	var out [][]parser.Expr // GROUPING SETS (...)
	for _, it := range g.Items {
		gs, err := itemSets(it)
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
		if len(out) > maxGroupingSets {
			return nil, pgerr.TooManyGroupingSets.New().WithPos(g.P)
		}
	}
	return out, nil
}

// planGroupingSets plans a GROUP BY with grouping sets: the grouping
// expressions become the keys (planGrouping), then the hidden set key.
func planGroupingSets(in *scalar.Compiler, items []selItem, groupBy []parser.Expr) (*grouping, *groupingSets, error) {
	sets, err := expandSets(groupBy)
	if err != nil {
		return nil, nil, err
	}
	// Every distinct expression, by identity (planGrouping resolves and
	// deduplicates them into keys).
	var flat []parser.Expr
	pos := map[parser.Expr]int{}
	for _, s := range sets {
		for _, e := range s {
			if _, ok := pos[e]; !ok {
				pos[e] = len(flat)
				flat = append(flat, e)
			}
		}
	}
	g, err := planGrouping(in, items, flat)
	if err != nil {
		return nil, nil, err
	}
	nk := len(g.actx.KeyNodes)
	gs := &groupingSets{idKey: nk}
	for _, s := range sets {
		member := make([]bool, nk)
		for _, e := range s {
			member[g.keyOf[pos[e]]] = true
		}
		gs.sets = append(gs.sets, member)
	}
	g.actx.Keys = append(g.actx.Keys, "\x00grouping set")
	g.actx.KeyNodes = append(g.actx.KeyNodes, scalar.VirtualNode(types.Int8, func(*scalar.Ctx, scalar.Input) (types.Datum, error) {
		return types.NullOf(types.Int8), nil // filled in per set by Run
	}))
	return g, gs, nil
}

// groupingScope resolves grouping(...) after grouping, before the
// aggregate scope (next).
type groupingScope struct {
	next *agg.Scope
	gs   *groupingSets // nil: plain GROUP BY, every key in the one set
}

// Match implements scalar.Grouping.
func (s *groupingScope) Match(e parser.Expr) (*scalar.Node, bool, error) {
	f, ok := e.(*parser.Func)
	if !ok || strings.ToLower(f.Name) != "grouping" || f.Star || f.Distinct || f.Filter != nil {
		return s.next.Match(e)
	}
	if len(f.Args) == 0 {
		return nil, true, scalar.NoFunc(f, nil)
	}
	if len(f.Args) > 31 {
		return nil, true, pgerr.GroupingTooManyArgs.New().WithPos(f.P)
	}
	keys := make([]int, len(f.Args))
	for i, a := range f.Args {
		c := agg.Canon(s.next.In, a)
		keys[i] = -1
		for k, kc := range s.next.Keys {
			if kc == c {
				keys[i] = k
				break
			}
		}
		if keys[i] < 0 {
			if _, err := s.next.In.Compile(a); err != nil {
				return nil, true, err // an unknown column, say
			}
			return nil, true, pgerr.GroupingArgs.New().WithPos(a.Pos())
		}
	}
	gs := s.gs
	if gs == nil { // plain GROUP BY: every key is in the one set
		return scalar.VirtualNode(types.Int4, func(*scalar.Ctx, scalar.Input) (types.Datum, error) {
			return types.NewInt(types.Int4, 0), nil
		}), true, nil
	}
	return scalar.VirtualNode(types.Int4, func(ec *scalar.Ctx, in scalar.Input) (types.Datum, error) {
		set := gs.sets[scalar.InputDatum(in, gs.idKey).I]
		var v int64
		for _, k := range keys {
			v <<= 1
			if !set[k] {
				v |= 1
			}
		}
		return types.NewInt(types.Int4, v), nil
	}), true, nil
}

// CanonScope is the scope expressions are canonicalized in (canonItem).
func (s *groupingScope) CanonScope() *scalar.Compiler { return s.next.In }

// Input is the scope before grouping (for typing a missing function's
// arguments).
func (s *groupingScope) Input() *scalar.Compiler { return s.next.In }

// addEmpty adds a group for each empty grouping set that no row reached
// (its aggregates over no rows, as PostgreSQL returns for GROUP BY ()).
func (gs *groupingSets) addEmpty(order []*group, keys []*scalar.Node, naggs int) []*group {
	for _, si := range gs.emptySets() {
		found := false
		for _, g := range order {
			if g.keys[gs.idKey].I == int64(si) {
				found = true
				break
			}
		}
		if found {
			continue
		}
		g := &group{acc: make([]agg.Accum, naggs)}
		for i, k := range keys {
			d := types.NullOf(k.T)
			if i == gs.idKey {
				d = types.NewInt(types.Int8, int64(si))
			}
			g.keys = append(g.keys, d)
		}
		order = append(order, g)
	}
	return order
}
