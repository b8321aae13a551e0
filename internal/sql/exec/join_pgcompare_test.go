package exec

import (
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// relScripts are the scripts TestJoinsAgainstPostgres checks against
// PostgreSQL 15.
var relScripts = []string{"joins.txt", "subquery.txt", "setops.txt", "cte.txt"}

// TestJoinsAgainstPostgres starts a PostgreSQL 15 of its own, loads the
// relational scripts' tables (joins_test.go) into it, and runs every
// `query` of those scripts in both (pgcompare_test.go): rows compare as
// multisets unless the query has ORDER BY.
func TestJoinsAgainstPostgres(t *testing.T) {
	conn := startPostgres(t)
	for _, tb := range relTables {
		loadPG(t, conn, tb.name, tb.cols, tb.rows)
	}
	comparePG(t, conn, relScripts, addRelTables(map[string]Source{}), func(d *datadriven.TestData) bool {
		return !strings.Contains(strings.ToUpper(d.Input), "ORDER BY")
	}, 50)
}
