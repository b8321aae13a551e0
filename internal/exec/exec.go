// Package exec is Cairn's query engine: scalar expressions compiled from
// the parser's AST into closures over types.Datum, casts, the SELECT
// executor (filter, group, aggregate, sort, limit over a Source), and the
// plans of continuous views (fold rows of stream batches into mergeable
// partial aggregates, then finalize rows at read time).
//
// Semantics follow PostgreSQL for the types in internal/types, with two
// documented deviations: sum() over integers returns bigint (PostgreSQL:
// numeric for bigint input) and avg() returns double precision
// (PostgreSQL: numeric for integer and numeric input). The session time
// zone is always UTC.
package exec

import (
	"context"
	"time"

	"github.com/cairndb/cairn/internal/types"
)

// Column is one named, typed column of a Source, a plan's output, or a
// view.
type Column struct {
	Name string
	T    types.T
}

// Ctx is the per-statement evaluation context.
type Ctx struct {
	Now     time.Time                        // statement timestamp, for now()/current_timestamp
	Params  []types.Datum                    // $1..$n
	Setting func(name string) (string, bool) // current_setting(); nil = none
	Version string                           // version()
}

// Source is a FROM item: a stream (scanned as retained history), a view
// (finalized rows), or a system table.
type Source interface {
	Columns() []Column
	// Scan calls fn with batches of rows (columns as Columns()); fn must
	// not retain b.
	Scan(ctx context.Context, fn func(b *types.Batch) error) error
}

// Resolver maps a FROM name (schema may be "") to a Source. It returns a
// *pgerr.Error with SQLSTATE 42P01 when the name is missing.
type Resolver func(schema, name string) (Source, error)

// ParamTypes collects the types of $n parameters: the ones the client
// declared, the rest inferred from context while compiling (col = $1 gives
// $1 col's type); any still Unknown afterwards are sent as text.
type ParamTypes struct {
	Types []types.T
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
