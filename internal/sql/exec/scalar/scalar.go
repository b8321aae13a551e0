// Package scalar compiles scalar SQL expressions from the parser's AST
// into closures over types.Datum and evaluates them over rows or columnar
// batches: literals and parameters with PostgreSQL's type inference,
// operators, casts, LIKE, and the scalar functions. It also holds the
// value helpers every operator shares: comparison, the order-preserving
// key encoding of group keys and DISTINCT, and copying values out of a
// batch. It knows nothing of aggregates beyond their names (an aggregate
// call in a scalar context is an error); a post-grouping scope plugs in a
// Grouping that resolves them (see package agg).
package scalar

import (
	"time"

	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Column is one named, typed column of a Source, a plan's output, or a
// view.
type Column struct {
	Name string
	T    types.T
	Rec  *RecordShape // the row type of a record column (T is types.Record), else nil
}

// Ctx is the per-statement evaluation context.
type Ctx struct {
	Now     time.Time                        // statement timestamp, for now()/current_timestamp
	Params  []types.Datum                    // $1..$n
	Setting func(name string) (string, bool) // current_setting(); nil = none
	Version string                           // version()
	// Pass is the window a hop() view is folding a batch into: a row
	// belongs to several hopping windows, and the batch is folded once
	// per window, window_start moving back one slide per pass.
	Pass int
	// Style is the session's TimeZone, DateStyle, IntervalStyle and
	// extra_float_digits; nil (as for continuous views, which have no
	// session) evaluates with the style the expression was compiled
	// under, which for views is always the default: UTC.
	Style *types.Style
	// Mem bounds the memory the statement's operators buffer (nil:
	// unbounded); see Budget.
	Mem *Budget
	// Catalog answers the pg_catalog functions and reg* casts (nil: not
	// available, as in continuous views); see pgcatalog.go.
	Catalog Catalog
	// Corr are the values a correlated subquery reads from the row of
	// the enclosing query it runs for (see CorrNode).
	Corr []types.Datum
	// Memo holds per-execution state of subqueries and CTEs (results of
	// uncorrelated subqueries, materialized CTEs), keyed by the plan
	// node; created by the first operator that needs it.
	Memo map[any]any
}

// evalStyle is the style to evaluate with: the statement's, else the one
// compiled in (compiled may be nil: defaults, UTC).
func evalStyle(ec *Ctx, compiled *types.Style) *types.Style {
	if ec != nil && ec.Style != nil {
		return ec.Style
	}
	return compiled
}

// ParamTypes collects the types of $n parameters: the ones the client
// declared, the rest inferred from context while compiling (col = $1 gives
// $1 col's type); any still Unknown afterwards are sent as text.
type ParamTypes struct {
	Types []types.T
	// Style is the session style constants are folded with (untyped
	// literals read as timestamptz, casts of constants); nil is the
	// default, UTC.
	Style *types.Style
}

// style returns the compile-time session style (nil: defaults, UTC).
func (c *Compiler) style() *types.Style {
	if c == nil || c.Params == nil {
		return nil
	}
	return c.Params.Style
}

// get returns the type of $n (Unknown when not known).
func (p *ParamTypes) get(n int) types.T {
	if p == nil || n < 1 || n > len(p.Types) {
		return types.Unknown
	}
	return p.Types[n-1]
}

// set records the type of $n, growing Types as needed.
func (p *ParamTypes) set(n int, t types.T) {
	if p == nil || n < 1 {
		return
	}
	for len(p.Types) < n {
		p.Types = append(p.Types, types.Unknown)
	}
	if p.Types[n-1] == types.Unknown {
		p.Types[n-1] = t
	}
}

// note makes sure Types is long enough to mention $n.
func (p *ParamTypes) note(n int) {
	if p == nil {
		return
	}
	for len(p.Types) < n {
		p.Types = append(p.Types, types.Unknown)
	}
}

func (ec *Ctx) now() time.Time {
	if ec == nil || ec.Now.IsZero() {
		return time.Now()
	}
	return ec.Now
}

// Grouping resolves expressions in a post-grouping scope (Compiler.Agg):
// a sub-expression equal to a group key reads that key, an aggregate
// call reads its result, and any other column reference is a grouping
// error. ok=false means e is none of these: compile it as usual.
type Grouping interface {
	Match(e parser.Expr) (n *Node, ok bool, err error)
}
