package parser

import (
	"math/rand"
	"strings"
	"testing"
)

// soupWords are the pieces TestTokenSoup glues together: keywords, names,
// literals and operators, so random sequences reach deep into the grammar
// far more often than random bytes do.
var soupWords = strings.Fields(`SELECT FROM WHERE GROUP BY HAVING ORDER LIMIT OFFSET ALL DISTINCT
AS AND OR NOT NULL TRUE FALSE IS ISNULL NOTNULL IN BETWEEN LIKE ILIKE CASE WHEN THEN ELSE END CAST
interval timestamp date time with without zone double precision character varying varchar numeric
AT TIME ZONE EXTRACT current_date current_timestamp user count sum now settings SETTINGS
CREATE STREAM MATERIALIZED CONTINUOUS VIEW FOREIGN TABLE SERVER OPTIONS IF EXISTS OR REPLACE WITH
DROP CASCADE INSERT INTO VALUES COPY STDIN CSV HEADER BINARY DELIMITER FORMAT SET SHOW RESET
TIME LOCAL SESSION TO DEFAULT BEGIN COMMIT ROLLBACK ALTER SYSTEM NODE SHARD TRANSFER LEADER FAILOVER
a b t x value "Q" "select" "a.b" "" $1 $2 1 -1 1.5 .5 1e3 'str' E'e\n' $$d$$ 'it''s'
( ) ( ) , , . * + - / % ^ || :: = <> != < <= > >= ; ; ASC DESC NULLS FIRST LAST -- /*`)

func TestTokenSoup(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	n := 100000
	if testing.Short() {
		n = 10000
	}
	accepted := 0
	for i := 0; i < n; i++ {
		k := 1 + rng.Intn(14)
		parts := make([]string, k)
		for j := range parts {
			parts[j] = soupWords[rng.Intn(len(soupWords))]
		}
		sql := strings.Join(parts, " ")
		// Bias towards valid starts.
		switch rng.Intn(4) {
		case 0:
			sql = "SELECT " + sql
		case 1:
			sql = "SELECT a FROM t WHERE " + sql
		}
		stmts, _, err := Parse(sql)
		if err != nil {
			if pe, ok := err.(*Error); !ok || pe.Code == "" || pe.Pos < 0 || pe.Pos > len([]rune(sql))+1 {
				t.Fatalf("%q: bad error %#v", sql, err)
			}
			continue
		}
		for _, s := range stmts {
			accepted++
			out := Format(s)
			again, _, err := Parse(out)
			if err != nil || len(again) != 1 {
				t.Fatalf("%q formatted as %q: re-parse gives %d statements, %v", sql, out, len(again), err)
			}
			if out2 := Format(again[0]); out2 != out {
				t.Fatalf("%q formatted as %q, then as %q", sql, out, out2)
			}
		}
	}
	if accepted < n/50 {
		t.Errorf("only %d of %d random statements parsed; the soup is too thin to test much", accepted, n)
	}
	t.Logf("%d statements accepted", accepted)
}
