package pgwire

import (
	"testing"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/sql/parser"
)

func TestStatementType(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT 1":                                  metrics.StmtSelect,
		"INSERT INTO s (a) VALUES (1)":              metrics.StmtInsert,
		"UPDATE t SET a = 1":                        metrics.StmtUpdate,
		"DELETE FROM t":                             metrics.StmtDelete,
		"COPY s FROM STDIN":                         metrics.StmtCopy,
		"CREATE STREAM s (a int8)":                  metrics.StmtDDL,
		"DROP VIEW v":                               metrics.StmtDDL,
		"SHOW STREAMS":                              metrics.StmtShow,
		"SET application_name = 'x'":                metrics.StmtSet,
		"BEGIN":                                     metrics.StmtTransaction,
		"COMMIT":                                    metrics.StmtTransaction,
		"ALTER SYSTEM SET suspect_after = '5s'":     metrics.StmtAdmin,
		"PREPARE p AS SELECT 1":                     metrics.StmtOther,
		"CREATE ROLE bob":                           metrics.StmtDDL,
		"SHOW ROLES":                                metrics.StmtShow,
		"EXPLAIN SELECT 1":                          metrics.StmtShow,
		"ALTER NODE 'n1' DRAIN":                     metrics.StmtAdmin,
		"CREATE VIEW v AS SELECT count(*) FROM s":   metrics.StmtDDL,
		"GRANT SELECT ON s TO bob":                  metrics.StmtDDL,
		"DECLARE c CURSOR FOR SELECT 1":             metrics.StmtSelect,
		"ROLLBACK":                                  metrics.StmtTransaction,
		"RESET application_name":                    metrics.StmtSet,
		"CANCEL OPERATION 3":                        metrics.StmtAdmin,
		"TRUNCATE t":                                metrics.StmtDDL,
		"DEALLOCATE p":                              metrics.StmtOther,
		"SELECT * FROM cairn_cluster.nodes LIMIT 1": metrics.StmtSelect,
	} {
		st, err := parser.ParseOne(q)
		if err != nil {
			t.Errorf("%s: parse: %v", q, err)
			continue
		}
		if got := statementType(st); got != want {
			t.Errorf("%s: type %q, want %q", q, got, want)
		}
		if !contains(metrics.StatementTypes, statementType(st)) {
			t.Errorf("%s: type not in metrics.StatementTypes", q)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func TestRowsIn(t *testing.T) {
	for _, c := range []struct {
		typ, tag string
		copyIn   bool
		want     int64
	}{
		{metrics.StmtInsert, "INSERT 0 42", false, 42},
		{metrics.StmtCopy, "COPY 7", true, 7},
		{metrics.StmtCopy, "COPY 7", false, 0}, // COPY TO: rows out
		{metrics.StmtSelect, "SELECT 3", false, 0},
		{metrics.StmtInsert, "INSERT 0 x", false, 0},
	} {
		if got := rowsIn(c.typ, c.tag, c.copyIn); got != c.want {
			t.Errorf("rowsIn(%s, %q, %v) = %d, want %d", c.typ, c.tag, c.copyIn, got, c.want)
		}
	}
}
