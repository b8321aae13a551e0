package pgwire

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/sql/parser"
)

// TestWithRealParser checks the server against the real SQL parser's
// conventions: texts are substrings of the query, statement positions are
// relative to the statement, parse errors to the whole string.
func TestWithRealParser(t *testing.T) {
	parseSQL = parser.Parse
	t.Cleanup(func() { parseSQL = fakeParse })
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	c := connect(t, s, pgx.QueryExecModeSimpleProtocol)
	res, err := c.PgConn().Exec(testCtx(t), "SELECT 1;  SELECT 2;").ReadAll()
	if err != nil || len(res) != 2 || string(res[1].Rows[0][0]) != "2" {
		t.Fatalf("two selects: %+v %v", res, err)
	}
	if _, err := c.PgConn().Exec(testCtx(t), " ; ").ReadAll(); err != nil {
		t.Errorf("empty query: %v", err)
	}
	_, err = c.Exec(testCtx(t), "SELECT 1; SELECT FROM WHERE")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42601" || pgErr.Position < 11 {
		t.Errorf("syntax error: %v (%+v)", err, pgErr)
	}
	tag, err := c.PgConn().CopyFrom(testCtx(t), strings.NewReader("2024-01-01 00:00:00+00,1,eu,1.5\n"), "COPY w1 FROM STDIN (FORMAT csv)")
	if err != nil || tag.RowsAffected() != 1 {
		t.Errorf("COPY via the real parser: %v %v", tag, err)
	}
}
