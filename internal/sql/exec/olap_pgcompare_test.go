package exec

import (
	"testing"

	"github.com/cockroachdb/datadriven"
)

// olapScripts are the scripts whose queries TestOlapAgainstPostgres runs
// in PostgreSQL 15 too.
var olapScripts = []string{"windowfn.txt", "groupingsets.txt", "distincton.txt", "srf.txt"}

// TestOlapAgainstPostgres runs every `query` of the olap scripts (window
// functions, grouping sets, DISTINCT ON, set-returning functions) in a
// real PostgreSQL 15 it starts, over the same events and amounts rows,
// and checks Cairn returns the same column names and rows, or fails with
// the same SQLSTATE. A query marked `nopg` is one Cairn refuses by
// design (0A000) and PostgreSQL runs: only Cairn's refusal is checked
// (by the script). `sort` compares rows as a multiset (the query's
// ORDER BY leaves ties).
func TestOlapAgainstPostgres(t *testing.T) {
	conn := startPostgres(t)
	loadPG(t, conn, "events", eventCols, sqlEvents().rows)
	loadPG(t, conn, "amounts", amountCols, sqlAmounts().rows)
	comparePG(t, conn, olapScripts, map[string]Source{"events": sqlEvents(), "amounts": sqlAmounts()}, func(d *datadriven.TestData) bool {
		return d.HasArg("sort")
	}, 20)
}
