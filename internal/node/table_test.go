package node_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/testutil/testcluster"
)

// TestTableAcrossNodes: a table whose shards each live on one of three
// nodes is written and read from every node, so writes go to leaders on
// other nodes and reads (scans and point lookups) to remote replicas.
func TestTableAcrossNodes(t *testing.T) {
	c := testcluster.Start(t, 3)
	conn0 := connect(t, c, 0)
	mustExec(t, conn0, `CREATE TABLE kv (k text PRIMARY KEY, v int8 NOT NULL) WITH (shards = 3, replicas = 1)`)
	var vals []string
	for i := 0; i < 60; i++ {
		vals = append(vals, fmt.Sprintf("('k%d', %d)", i, i))
	}
	mustExec(t, conn0, "INSERT INTO kv VALUES "+strings.Join(vals, ", "))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		conn := connect(t, c, i)
		// A point update with a parameter (extended protocol), from every node.
		tag, err := conn.Exec(ctx, "UPDATE kv SET v = v + 100 WHERE k = $1", fmt.Sprintf("k%d", i))
		if err != nil || tag.String() != "UPDATE 1" {
			t.Fatalf("node %d: update: %v %v", i, tag, err)
		}
		var n, sum int64
		if err := conn.QueryRow(ctx, "SELECT count(*), sum(v) FROM kv").Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		want := int64(60*59/2 + 100*(i+1))
		if n != 60 || sum != want {
			t.Fatalf("node %d: count %d sum %d, want 60 and %d", i, n, sum, want)
		}
		var got []string
		rows, err := conn.Query(ctx, "SELECT k, v FROM kv WHERE k IN ('k0', 'k1', 'k2', 'k59', 'nope') ORDER BY k")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k string
			var v int64
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s=%d", k, v))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		wantRows := []string{"k0=100", "k1=101", "k2=102", "k59=59"}
		for j := i + 1; j < 3; j++ {
			wantRows[j] = fmt.Sprintf("k%d=%d", j, j)
		}
		if strings.Join(got, " ") != strings.Join(wantRows, " ") {
			t.Fatalf("node %d: point reads %v, want %v", i, got, wantRows)
		}
	}
	// A duplicate key is refused on whichever node holds the shard.
	if err := execIn(connect(t, c, 2), "INSERT INTO kv VALUES ('k5', 1)"); sqlState(err) != "23505" {
		t.Fatalf("duplicate: %v", err)
	}
	var shards, nodes int
	if err := c.QueryRow(1, "SELECT count(*), count(DISTINCT node_id) FROM cairn_cluster.shards WHERE object = 'kv'").Scan(&shards, &nodes); err != nil {
		t.Fatal(err)
	}
	if shards != 3 || nodes < 2 {
		t.Fatalf("cairn_cluster.shards lists %d shards of kv on %d nodes; want 3 shards spread over nodes", shards, nodes)
	}
	mustExec(t, conn0, "DELETE FROM kv WHERE v >= 100")
	mustExec(t, conn0, "DROP TABLE kv")
	// Another node learns of the DROP when its copy of the catalog
	// catches up; until then a read may still see the table or find its
	// shard gone (40001, retryable), and then it is gone for good.
	other := connect(t, c, 1)
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := execIn(other, "SELECT * FROM kv")
		if sqlState(err) == "42P01" {
			break
		}
		if err != nil && sqlState(err) != "40001" || time.Now().After(deadline) {
			t.Fatalf("after DROP: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
