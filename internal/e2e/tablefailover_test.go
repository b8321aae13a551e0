package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestTableFailover runs three real nodes with a table replicated three
// times, has one writer per node run single-row INSERTs and UPDATEs
// (n = n + 1) and multi-row INSERTs with parameters, SIGKILLs the table
// shard's leader twice (restarting it), and then checks: every
// acknowledged insert is there; a row's n is at least its acknowledged
// increments and at most those plus the increments whose outcome the
// writer could not know (no write is applied twice); every multi-row
// INSERT is there whole or not at all.
func TestTableFailover(t *testing.T) {
	p1 := NewProc(t)
	p1.Start()
	p2, p3 := NewProc(t), NewProc(t)
	args := map[string][]string{"n1": nil, "n2": {"--node-id", "n2", "--join", p1.Cluster}, "n3": {"--node-id", "n3", "--join", p1.Cluster}}
	p2.Start(args["n2"]...)
	p3.Start(args["n3"]...)
	byName := map[string]*Proc{"n1": p1, "n2": p2, "n3": p3}
	procs := []*Proc{p1, p2, p3}
	for name, p := range byName {
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT role FROM cairn_cluster.shards WHERE object = 'meta' AND node_id = '"+name+"'")
			return err == nil && (out == "leader" || out == "follower"), name + " meta role: " + out + errString(err)
		})
	}
	if _, err := queryText(p1, `CREATE TABLE acct (id int8 PRIMARY KEY, batch int8, n int8 NOT NULL DEFAULT 0) WITH (shards = 1, replication = 3)`); err != nil {
		t.Fatal(err)
	}

	type ledger struct {
		insertAcked, insertUnknown map[int64]bool
		incAcked, incUnknown       map[int64]int
		batchAcked, batchUnknown   map[int64][]int64 // batch id -> its row ids
	}
	ledgers := make([]*ledger, len(procs))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range procs {
		l := &ledger{insertAcked: map[int64]bool{}, insertUnknown: map[int64]bool{}, incAcked: map[int64]int{}, incUnknown: map[int64]int{},
			batchAcked: map[int64][]int64{}, batchUnknown: map[int64][]int64{}}
		ledgers[w] = l
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var conn *pgx.Conn
			defer func() {
				if conn != nil {
					conn.Close(context.Background())
				}
			}()
			node := w
			next := int64(w+1) * 1_000_000
			var mine []int64
			for i := 0; i < 100_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if conn == nil {
					c, err := pgx.Connect(ctx, procs[node%len(procs)].URL())
					if err != nil {
						cancel()
						node++
						time.Sleep(50 * time.Millisecond)
						continue
					}
					conn = c
				}
				var err error
				var kind string
				var id int64
				var ids []int64
				switch {
				case i%10 == 9:
					// A multi-row INSERT: all of it or none.
					kind = "batch"
					id = next
					sql := "INSERT INTO acct (id, batch) VALUES "
					var vals []any
					for j := 0; j < 20; j++ {
						ids = append(ids, next)
						if j > 0 {
							sql += ", "
						}
						sql += fmt.Sprintf("($%d, $%d)", 2*j+1, 2*j+2)
						vals = append(vals, next, id)
						next++
					}
					_, err = conn.Exec(ctx, sql, vals...)
				case len(mine) > 0 && i%2 == 1:
					kind = "inc"
					id = mine[i%len(mine)]
					_, err = conn.Exec(ctx, "UPDATE acct SET n = n + 1 WHERE id = $1", id)
				default:
					kind = "insert"
					id = next
					next++
					_, err = conn.Exec(ctx, "INSERT INTO acct (id) VALUES ($1)", id)
				}
				cancel()
				var pe *pgconn.PgError
				if err != nil && errors.As(err, &pe) && pe.Code == "23505" {
					t.Errorf("writer %d: %s of %d: a fresh key was reported duplicate: %v", w, kind, id, err)
				}
				switch kind {
				case "insert":
					if err == nil {
						l.insertAcked[id] = true
						mine = append(mine, id)
					} else {
						l.insertUnknown[id] = true
					}
				case "inc":
					if err == nil {
						l.incAcked[id]++
					} else {
						l.incUnknown[id]++
					}
				case "batch":
					if err == nil {
						l.batchAcked[id] = ids
					} else {
						l.batchUnknown[id] = ids
					}
				}
				if err != nil {
					conn.Close(context.Background())
					conn = nil
					node++
					time.Sleep(20 * time.Millisecond)
				}
			}
		}(w)
	}
	leaderOf := func() string {
		var victim string
		waitUntil(t, 30*time.Second, func() (bool, string) {
			for _, p := range procs {
				out, err := queryText(p, "SELECT node_id FROM cairn_cluster.shards WHERE object = 'acct' AND role = 'leader'")
				if err == nil && byName[out] != nil {
					victim = out
					return true, ""
				}
			}
			return false, "no leader of acct"
		})
		return victim
	}
	time.Sleep(1500 * time.Millisecond)
	for round := 0; round < 2; round++ {
		victim := leaderOf()
		byName[victim].Kill()
		time.Sleep(1500 * time.Millisecond)
		byName[victim].Start(args[victim]...)
		t.Logf("killed %s (leader of table acct), restarted it", victim)
		time.Sleep(1500 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	// Read back through a linearizable read on a node that stayed up.
	c := p1.Connect(t)
	defer c.Close(context.Background())
	ctx := context.Background()
	got := map[int64]int64{}
	var rows pgx.Rows
	waitUntil(t, 30*time.Second, func() (bool, string) {
		var err error
		rows, err = c.Query(ctx, "SELECT id, n FROM acct")
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		got[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	inserts, incs, batches, unknown := 0, 0, 0, 0
	for w, l := range ledgers {
		for id := range l.insertAcked {
			n, ok := got[id]
			if !ok {
				t.Errorf("writer %d: acknowledged insert of %d is missing", w, id)
				continue
			}
			if lo, hi := int64(l.incAcked[id]), int64(l.incAcked[id]+l.incUnknown[id]); n < lo || n > hi {
				t.Errorf("writer %d: row %d has n = %d; %d increments were acknowledged and %d failed", w, id, n, lo, hi-lo)
			}
			inserts++
			incs += l.incAcked[id]
		}
		for id := range l.insertUnknown {
			if _, ok := got[id]; ok {
				unknown++
			}
		}
		for b, ids := range l.batchAcked {
			for _, id := range ids {
				if _, ok := got[id]; !ok {
					t.Errorf("writer %d: row %d of acknowledged batch %d is missing", w, id, b)
				}
			}
			batches++
		}
		for b, ids := range l.batchUnknown {
			present := 0
			for _, id := range ids {
				if _, ok := got[id]; ok {
					present++
				}
			}
			if present != 0 && present != len(ids) {
				t.Errorf("writer %d: failed batch %d is in the table in part: %d of %d rows", w, b, present, len(ids))
			}
		}
	}
	if inserts < 50 || incs < 20 || batches < 5 {
		t.Fatalf("too little acknowledged: %d inserts, %d increments, %d batches", inserts, incs, batches)
	}
	t.Logf("%d rows: %d acknowledged inserts, %d acknowledged increments, %d acknowledged batches; %d inserts whose outcome was unknown were applied",
		len(got), inserts, incs, batches, unknown)

	// A multi-row statement that fails is all-or-nothing.
	if _, err := c.Exec(ctx, "INSERT INTO acct (id) VALUES (1), (2), ($1)", firstKey(got)); err == nil {
		t.Fatal("a duplicate key was accepted")
	}
	if out, err := queryText(p1, "SELECT count(*) FROM acct WHERE id IN (1, 2)"); err != nil || out != "0" {
		t.Fatalf("a failed multi-row insert left rows: %q %v", out, err)
	}
}

func firstKey(m map[int64]int64) int64 {
	for k := range m {
		return k
	}
	return 0
}
