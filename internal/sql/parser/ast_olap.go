package parser

// ---- window functions, grouping sets (issue 11: olap) ----

// WindowFunc is `f(args) OVER (window)` or `f(args) OVER name`: a window
// function, or an aggregate evaluated over a window frame.
type WindowFunc struct {
	P    int
	Func *Func
	Over *WindowSpec
}

// WindowSpec is a window definition: in OVER (...), or in a WINDOW
// clause. Ref names the window it copies (`OVER w`, or `OVER (w ORDER BY
// x)`); its own clauses are then added to the referenced ones.
type WindowSpec struct {
	P           int
	Ref         string
	PartitionBy []Expr
	OrderBy     []OrderItem
	Frame       *Frame // nil: the default frame
}

// FrameMode is ROWS, RANGE or GROUPS.
type FrameMode uint8

// Frame modes.
const (
	FrameRange FrameMode = iota
	FrameRows
	FrameGroups
)

// BoundKind says where a frame bound is.
type BoundKind uint8

// Frame bound kinds.
const (
	UnboundedPreceding BoundKind = iota
	OffsetPreceding
	CurrentRow
	OffsetFollowing
	UnboundedFollowing
)

// FrameBound is one end of a window frame; Offset is set for the n
// PRECEDING / n FOLLOWING kinds.
type FrameBound struct {
	Kind   BoundKind
	Offset Expr
}

// Frame is `{ROWS|RANGE|GROUPS} [BETWEEN] start [AND end] [EXCLUDE ...]`;
// End is CURRENT ROW when only the start is written. Exclude is the
// EXCLUDE option as written ("" when absent or EXCLUDE NO OTHERS).
type Frame struct {
	P       int
	Mode    FrameMode
	Start   FrameBound
	End     FrameBound
	Exclude string
}

// NamedWindow is one `name AS (window)` of a WINDOW clause.
type NamedWindow struct {
	Name string
	Spec *WindowSpec
}

// GroupingKind says which grouping construct a GroupingSet is.
type GroupingKind uint8

// Grouping constructs.
const (
	GroupingEmpty GroupingKind = iota // ()
	GroupingList                      // (a, b) inside ROLLUP/CUBE/GROUPING SETS
	GroupingRollup
	GroupingCube
	GroupingSets
)

// GroupingSet is a GROUP BY item that is not a plain expression:
// `()`, `ROLLUP (...)`, `CUBE (...)`, `GROUPING SETS (...)`, or a
// parenthesised list of expressions inside one of those. Items are
// expressions or nested GroupingSets.
type GroupingSet struct {
	P     int
	Kind  GroupingKind
	Items []Expr
}

func (e *WindowFunc) Pos() int  { return e.P }
func (e *GroupingSet) Pos() int { return e.P }

func (*WindowFunc) expr()  {}
func (*GroupingSet) expr() {}
