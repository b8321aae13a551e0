// Package exec is Cairn's query engine, the operators: the SELECT
// executor (filter, group, aggregate, sort, limit over a Source, with
// point lookups on keyed sources) and the plans of continuous views (fold
// rows of stream batches into mergeable partial aggregates, then finalize
// rows at read time). Expressions come from exec/scalar and aggregates
// from exec/agg; exec re-exports the few scalar names its callers need.
//
// Semantics follow PostgreSQL for the types in internal/types, with two
// documented deviations: sum() over integers returns bigint (PostgreSQL:
// numeric for bigint input) and avg() returns double precision
// (PostgreSQL: numeric for integer and numeric input). The session time
// zone is always UTC.
package exec

import (
	"context"

	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Column is one named, typed column of a Source, a plan's output, or a
// view.
type Column = scalar.Column

// Ctx is the per-statement evaluation context.
type Ctx = scalar.Ctx

// ParamTypes collects the types of $n parameters (see scalar.ParamTypes).
type ParamTypes = scalar.ParamTypes

// Expr is a compiled scalar expression (see scalar.Expr).
type Expr = scalar.Expr

// Compile compiles a scalar expression over the columns cols; see
// scalar.Compile.
func Compile(e parser.Expr, cols []Column, params *ParamTypes) (*Expr, error) {
	return scalar.Compile(e, cols, params)
}

// Coerce converts d to type t with assignment-cast rules; see
// scalar.Coerce.
func Coerce(d types.Datum, t types.T) (types.Datum, error) { return scalar.Coerce(d, t) }

// CoerceStyle is Coerce in a session with style st (DateStyle, TimeZone);
// see scalar.CoerceStyle.
func CoerceStyle(d types.Datum, t types.T, st *types.Style) (types.Datum, error) {
	return scalar.CoerceStyle(d, t, st)
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
