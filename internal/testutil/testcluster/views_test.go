package testcluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestViewReadsAndChains runs views through a real node's SQL front end:
// HAVING/ORDER BY/LIMIT in a view applied at read time (with point
// lookups), transforms (views that do not aggregate) read through, a view
// over a chain of transforms, and the errors around them.
func TestViewReadsAndChains(t *testing.T) {
	c := Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// rows renders every row as "a|b|c", one per line.
	rows := func(sql string) string {
		t.Helper()
		rs, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			vals, err := rs.Values()
			if err != nil {
				t.Fatal(err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = fmt.Sprint(v)
			}
			out = append(out, strings.Join(parts, "|"))
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return strings.Join(out, "\n")
	}
	check := func(sql, want string) {
		t.Helper()
		if got := rows(sql); got != want {
			t.Fatalf("%s:\ngot\n%s\nwant\n%s", sql, got, want)
		}
	}
	fails := func(sql, code, msg string) {
		t.Helper()
		_, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != code || !strings.Contains(pe.Message, msg) {
			t.Fatalf("%s: got %v, want %s %q", sql, err, code, msg)
		}
	}

	exec(`CREATE STREAM s (dev int4, val float8) WITH (shards = 2)`)
	exec(`CREATE VIEW busy AS SELECT dev, count(*) AS n, sum(val) AS total FROM s GROUP BY dev HAVING count(*) >= 2 ORDER BY n DESC, dev`)
	exec(`CREATE VIEW top2 AS SELECT dev, max(val) AS peak FROM s GROUP BY dev ORDER BY peak DESC LIMIT 2`)
	exec(`CREATE VIEW t AS SELECT dev, val * 2 AS v2 FROM s WHERE val > 0`)
	exec(`CREATE VIEW t2 AS SELECT dev + 100 AS d, v2 FROM output_of('t') WHERE v2 < 100`)
	exec(`CREATE VIEW chained AS SELECT d, count(*) AS n, sum(v2) AS s2 FROM t2 GROUP BY d`)
	exec(`SET stream_insert_level = sync_commit`)
	exec(`INSERT INTO s VALUES (1, 1), (1, 2), (1, 3), (2, 10), (2, -5), (3, 60), (4, 4), (4, 0)`)

	check(`SELECT * FROM busy`, "1|3|6\n2|2|5\n4|2|4")
	// now() in HAVING is the time of the read.
	exec(`CREATE STREAM e (k int4, at timestamptz)`)
	exec(`CREATE VIEW recent AS SELECT k, count(*) AS n FROM e GROUP BY k HAVING max(at) > now() - interval '1 hour'`)
	exec(`INSERT INTO e VALUES (1, now()), (2, now() - interval '2 hours'), (3, now() + interval '1 day')`)
	check(`SELECT k FROM recent ORDER BY k`, "1\n3")
	check(`SELECT dev FROM busy WHERE dev IN (1, 3)`, "1") // a lookup; HAVING drops 3
	check(`SELECT * FROM busy ORDER BY total LIMIT 1`, "4|2|4")
	check(`SELECT * FROM top2`, "3|60\n2|10")
	check(`SELECT * FROM top2 WHERE dev = 1`, "") // LIMIT first, then WHERE
	// The transform: read through, kept as long as the stream keeps rows.
	check(`SELECT * FROM t ORDER BY dev, v2`, "1|2\n1|4\n1|6\n2|20\n3|120\n4|8")
	check(`SELECT count(*) FROM output_of('t')`, "6")
	check(`SELECT * FROM t2 ORDER BY d, v2`, "101|2\n101|4\n101|6\n102|20\n104|8")
	// A view over the chain is an ordinary view over s.
	check(`SELECT * FROM chained ORDER BY d`, "101|3|12\n102|1|20\n104|1|8")
	check(`SELECT name, stream, kind, shards FROM cairn_cluster.views ORDER BY name`,
		"busy|s|view|1\nchained|s|view|1\nrecent|e|view|1\nt|s|transform|0\nt2|s|transform|0\ntop2|s|view|1")
	exec(`INSERT INTO s VALUES (2, 30)`)
	check(`SELECT * FROM chained WHERE d = 102`, "102|2|80")

	fails(`CREATE VIEW over_agg AS SELECT count(*) FROM busy`, "0A000", `aggregating view "busy"`)
	fails(`SELECT * FROM output_of('busy')`, "0A000", `output_of("busy")`)
	fails(`CREATE VIEW me AS SELECT count(*) FROM me`, "42P01", `relation "me" does not exist`)
	fails(`CREATE VIEW nope AS SELECT count(*) FROM missing`, "42P01", `relation "missing" does not exist`)
	fails(`CREATE VIEW x AS SELECT v3 FROM t`, "42703", `column "v3" does not exist`)
	fails(`CREATE VIEW x AS SELECT dev FROM s ORDER BY val`, "0A000", "ORDER BY is not supported in a transform")
	fails(`CREATE VIEW x AS SELECT dev, count(*) FROM s GROUP BY dev ORDER BY val`, "42803", `column "val" must appear in the GROUP BY clause`)
	fails(`CREATE VIEW x WITH (shards = 2) AS SELECT dev FROM s`, "22023", `option "shards" does not apply to a transform`)
	fails(`CREATE VIEW x WITH (action = transform, outputfunc = f) AS SELECT dev FROM s`, "0A000", "action = transform")
	fails(`CREATE MATERIALIZED VIEW x AS SELECT dev FROM s`, "0A000", "a materialized view must aggregate")
	fails(`DROP VIEW t`, "2BP01", `cannot drop view "t" because other views depend on it: "chained", "t2"`)
	exec(`DROP VIEW t CASCADE`)
	check(`SELECT name FROM cairn_cluster.views ORDER BY name`, "busy\nrecent\ntop2")
}

// TestChainedViewFailover checks a view over a chain of transforms on
// three nodes: every node plans it from the catalog alike, it equals its
// recomputation from the stream on every node, and it stays so when the
// leader of its shard stops while rows keep coming.
func TestChainedViewFailover(t *testing.T) {
	c := Start(t, 3)
	if err := c.Exec(0, `CREATE STREAM s (dev int4, val float8) WITH (shards = 2, replicas = 3);
		CREATE VIEW t AS SELECT dev, val * 2 AS v2 FROM s WHERE val > 0;
		CREATE VIEW t2 AS SELECT dev + 100 AS d, v2 FROM output_of('t') WHERE v2 < 100;
		CREATE VIEW chained WITH (shards = 1, replicas = 3) AS SELECT d, count(*) AS n, sum(v2) AS s2 FROM t2 GROUP BY d HAVING count(*) > 1 ORDER BY d`); err != nil {
		t.Fatal(err)
	}
	const recompute = `SELECT dev + 100 AS d, count(*) AS n, sum(val * 2) AS s2 FROM s WHERE val > 0 AND val * 2 < 100 GROUP BY dev + 100 HAVING count(*) > 1 ORDER BY d`
	dump := func(i int, sql string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, c.URL(i))
		if err != nil {
			return "", err
		}
		defer conn.Close(context.Background())
		rs, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return "", err
		}
		defer rs.Close()
		var sb strings.Builder
		for rs.Next() {
			vals, err := rs.Values()
			if err != nil {
				return "", err
			}
			fmt.Fprintln(&sb, vals...)
		}
		return sb.String(), rs.Err()
	}
	agree := func(nodes ...int) {
		t.Helper()
		for _, i := range nodes {
			c.WaitFor(30*time.Second, func() (bool, string) {
				got, err := dump(i, "SELECT * FROM chained")
				want, err2 := dump(i, recompute)
				return err == nil && err2 == nil && got == want && got != "",
					fmt.Sprintf("n%d: view %q (%v), recomputed %q (%v)", i+1, got, err, want, err2)
			})
		}
	}
	insert := func(i, from, n int) {
		t.Helper()
		var vals []string
		for k := from; k < from+n; k++ {
			vals = append(vals, fmt.Sprintf("(%d, %d)", k%5, k%60-5))
		}
		c.WaitFor(20*time.Second, func() (bool, string) {
			err := c.Exec(i, "INSERT INTO s VALUES "+strings.Join(vals, ", "))
			return err == nil, fmt.Sprintf("insert on n%d: %v", i+1, err)
		})
	}
	insert(0, 0, 100)
	agree(0, 1, 2)
	leader := -1
	c.WaitFor(20*time.Second, func() (bool, string) {
		for i := 0; i < 3; i++ {
			var name string
			if err := c.QueryRow(i, "SELECT node_id FROM cairn_cluster.shards WHERE object = 'chained' AND role = 'leader'").Scan(&name); err == nil && name == c.Name(i) {
				leader = i
				return true, ""
			}
		}
		return false, "no leader of chained"
	})
	c.Stop(leader)
	a, b := (leader+1)%3, (leader+2)%3
	for k := 0; k < 5; k++ {
		insert(a, 100+20*k, 20)
	}
	agree(a, b)
}
