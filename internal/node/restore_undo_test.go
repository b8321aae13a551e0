package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairndb/cairn/internal/testutil/testcluster"
)

// TestRestoreFailureLeavesNothing: a RESTORE that fails part way (here:
// its statement_timeout ends it at various points) leaves the cluster as
// empty as it found it, so the RESTORE can simply be run again; a
// half-restored stream would make every retry fail with "RESTORE needs
// an empty cluster".
func TestRestoreFailureLeavesNothing(t *testing.T) {
	c := testcluster.Start(t, 1)
	dir := t.TempDir()
	if err := c.Exec(0, fmt.Sprintf(`CREATE DISK d (type = 'file', path = '%s');
		CREATE STREAM s (k text, x int8) WITH (shards = 2);
		CREATE MATERIALIZED VIEW v AS SELECT k, count(*) AS n FROM s GROUP BY k;
		INSERT INTO s VALUES ('a', 1), ('b', 2), ('c', 3);
		CREATE TABLE t (id int8 PRIMARY KEY, name text);
		INSERT INTO t VALUES (1, 'one')`, dir)); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(20*time.Second, func() (bool, string) {
		var n int64
		err := c.QueryRow(0, "SELECT sum(n)::int8 FROM v").Scan(&n)
		return err == nil && n == 3, fmt.Sprintf("v sums to %d (%v)", n, err)
	})
	if err := c.Exec(0, "BACKUP ALL TO DISK d"); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(0, "DROP VIEW v; DROP STREAM s; DROP TABLE t"); err != nil {
		t.Fatal(err)
	}
	objects := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, c.URL(0))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		n := 0
		for _, q := range []string{"SHOW STREAMS", "SHOW VIEWS", "SHOW TABLES"} {
			rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	if n := objects(); n != 0 {
		t.Fatalf("%d objects left after the drops", n)
	}
	failed := 0
	for ms := 1; ms <= 200; ms += 1 + ms/10 {
		timeout := fmt.Sprintf("%dms", ms)
		err := c.Exec(0, "SET statement_timeout = '"+timeout+"'; RESTORE ALL FROM DISK d")
		if err == nil {
			break
		}
		t.Logf("statement_timeout %s: %v", timeout, err)
		failed++
		if n := objects(); n != 0 {
			t.Fatalf("RESTORE failed (statement_timeout %s: %v) and left %d objects behind", timeout, err, n)
		}
	}
	if failed == 0 {
		t.Log("no RESTORE failed: nothing was checked about failures")
	}
	c.WaitFor(20*time.Second, func() (bool, string) {
		var n int64
		err := c.QueryRow(0, "SELECT sum(n)::int8 FROM v").Scan(&n)
		return err == nil && n == 3, fmt.Sprintf("restored v sums to %d (%v)", n, err)
	})
}
