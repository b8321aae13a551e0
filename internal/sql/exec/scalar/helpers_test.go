package scalar

import (
	"github.com/cairndb/cairn/internal/sql/exec/internal/exectest"
)

// Shorthands for the shared test helpers (exectest).
var (
	col     = exectest.Col
	colAt   = exectest.ColAt
	num     = exectest.Num
	flt     = exectest.Flt
	str     = exectest.Str
	null    = exectest.NullLit
	boolean = exectest.Boolean
	bin     = exectest.Bin
	not     = exectest.Not
	neg     = exectest.Neg
	fn      = exectest.Fn
	cast    = exectest.Cast
	param   = exectest.Param
	ival    = exectest.Int4
	i8      = exectest.Int8
	f8      = exectest.Float8
	txt     = exectest.Text
	nul     = exectest.Null
	show    = exectest.Show
)
