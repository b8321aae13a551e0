package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestRegions runs five real nodes in three regions (us-west: n1, n4;
// us-east: n2, n5; us-central: n3), with 15 ms of simulated latency on
// every link between regions (the transport's delay fault). Two streams
// get written while the whole us-west region is SIGKILLed:
//
//   - tri, replicas = 3: its voters spread one per region, so losing
//     us-west loses nothing and it keeps taking writes;
//   - ev (and the view ev_n over it), regions = 'us-west,us-east',
//     primary_region = 'us-west': voters in us-west, a learner in
//     us-east. After the kill, reads on n2 (us-east, read_from = any)
//     go on from the learners; ALTER SYSTEM FAILOVER REGION TO 'us-east'
//     promotes them and writes resume; every acknowledged event the
//     learner lacked was acknowledged after the learner's last applied
//     entry, as the statement reported.
func TestRegions(t *testing.T) {
	type spec struct{ name, region, zone string }
	start := time.Now()
	specs := []spec{{"n1", "us-west", "w-a"}, {"n2", "us-east", "e-a"}, {"n3", "us-central", "c-a"}, {"n4", "us-west", "w-b"}, {"n5", "us-east", "e-b"}}
	procs := map[string]*Proc{}
	region := map[string]string{}
	var first *Proc
	for _, s := range specs {
		p := NewProc(t)
		args := []string{"--node-id", s.name, "--region", s.region, "--zone", s.zone, "--unsafe-test-faults"}
		if first != nil {
			args = append(args, "--join", first.Cluster)
		} else {
			first = p
		}
		procs[s.name], region[s.name] = p, s.region
		if s.name == "n4" || s.name == "n5" {
			p.Launch(args...) // together, once the meta voters are placed
			continue
		}
		p.Start(args...)
		t.Logf("%s: %s started", time.Since(start).Round(time.Millisecond), s.name)
		if s.name == "n3" {
			// The first three (one per region) become the meta voters.
			waitUntil(t, 30*time.Second, func() (bool, string) {
				out, err := queryText(first, "SELECT count(*) FROM cairn_cluster.shards WHERE object = 'meta' AND role IN ('leader', 'follower')")
				return err == nil && out == "3", "meta voters: " + out + errString(err)
			})
		}
	}
	procs["n4"].WaitReady()
	procs["n5"].WaitReady()
	n1, n2 := procs["n1"], procs["n2"]
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(n2, "SELECT count(*) FROM cairn_cluster.nodes WHERE state = 'live'")
		return err == nil && out == "5", "live nodes: " + out + errString(err)
	})
	t.Logf("%s: five nodes live", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	for a, pa := range procs {
		for b := range procs {
			if region[a] != region[b] {
				ms := 15
				if region[a] == "us-west" && region[b] == "us-east" {
					ms = 100 // the learners lag
				}
				if err := pa.PostFault(ctx, fmt.Sprintf(`{"delay":%q,"ms":%d}`, b, ms)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	regionsExec(t, n1, "ALTER SYSTEM SET suspect_after = '1s'; ALTER SYSTEM SET dead_after = '3s'; ALTER SYSTEM SET auto_failover = off")
	regionsExec(t, n1, `CREATE STREAM tri (id int8) WITH (shards = 2, replicas = 3);
		CREATE STREAM ev (id int8) WITH (shards = 2, regions = 'us-west,us-east', primary_region = 'us-west');
		CREATE VIEW ev_n WITH (shards = 2, regions = 'us-west,us-east', primary_region = 'us-west') AS SELECT count(*) AS n FROM ev`)
	t.Logf("%s: created the streams and the view", time.Since(start).Round(time.Millisecond))

	// Bad input, and the statements' errors while all is well
	// (testdata/regions/errors).
	runRegionsScript(t, n1, "testdata/regions/errors")

	// Placement: tri's voters one per region; ev's voters in us-west and
	// one learner per shard in us-east (once each shard's leader added it).
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := queryText(n1, "SELECT count(*) FROM cairn_cluster.shards WHERE object IN ('ev', 'ev_n') AND role = 'learner'")
		return err == nil && out == "4", "learners of ev and ev_n: " + out + errString(err)
	})
	rows := regionsRows(t, n1, "SELECT s.object, s.shard, s.node_id, s.role, n.region FROM cairn_cluster.shards s JOIN cairn_cluster.nodes n ON n.node_id = s.node_id WHERE s.object IN ('tri', 'ev', 'ev_n') ORDER BY 1, 2, 3")
	perShard := map[string][]string{}
	for _, r := range rows {
		key := r[0] + "/" + r[1]
		perShard[key] = append(perShard[key], r[4]+":"+r[3])
	}
	for key, reps := range perShard {
		slices.Sort(reps)
		var voters, learners []string
		for _, rep := range reps {
			reg, role, _ := strings.Cut(rep, ":")
			if role == "learner" {
				learners = append(learners, reg)
			} else {
				voters = append(voters, reg)
			}
		}
		switch {
		case strings.HasPrefix(key, "tri/"):
			if !slices.Equal(voters, []string{"us-central", "us-east", "us-west"}) || len(learners) != 0 {
				t.Errorf("%s: voters in %v, learners in %v; want one voter per region", key, voters, learners)
			}
		default:
			if !slices.Equal(voters, []string{"us-west", "us-west"}) || !slices.Equal(learners, []string{"us-east"}) {
				t.Errorf("%s: voters in %v, learners in %v; want two in us-west and a learner in us-east", key, voters, learners)
			}
		}
	}

	// Writers: one per stream, through n1 and n4 (ev) and n3 (tri).
	type ack struct {
		id int64
		at time.Time
	}
	var mu sync.Mutex
	acked := map[string][]ack{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	write := func(stream string, via []*Proc, base int64) {
		defer wg.Done()
		id := base
		for i := 0; i < 200_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := via[i%len(via)]
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			conn, err := pgx.Connect(cctx, p.URL())
			if err != nil {
				cancel()
				time.Sleep(50 * time.Millisecond)
				continue
			}
			for j := 0; j < 50; j++ {
				id++
				_, err = conn.Exec(cctx, fmt.Sprintf("INSERT INTO %s (id) VALUES (%d)", stream, id))
				if err != nil {
					break
				}
				mu.Lock()
				acked[stream] = append(acked[stream], ack{id, time.Now()})
				mu.Unlock()
			}
			conn.Close(context.Background())
			cancel()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	wg.Add(2)
	go write("ev", []*Proc{n1, procs["n4"]}, 0)
	go write("tri", []*Proc{procs["n3"]}, 0)

	// The learners catch up and serve reads in us-east.
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(n2, "SELECT count(*) FROM ev")
		n, _ := strconv.Atoi(out)
		return err == nil && n > 50, "ev on n2: " + out + errString(err)
	})
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(n2, "SELECT n FROM ev_n")
		n, _ := strconv.Atoi(out)
		return err == nil && n > 50, "ev_n on n2: " + out + errString(err)
	})
	out, err := queryText(n2, "SELECT max(lag) FROM cairn_cluster.shards WHERE object IN ('ev', 'ev_n') AND role = 'learner'")
	t.Logf("learner lag before the loss: %s entries %s", out, errString(err))

	// Lose us-west.
	time.Sleep(500 * time.Millisecond)
	procs["n1"].Kill()
	procs["n4"].Kill()
	lostAt := time.Now()
	t.Logf("%s: killed n1 and n4 (us-west)", time.Since(start).Round(time.Millisecond))

	// Reads go on in us-east (learners, read_from = any), a little stale.
	var before int
	waitUntil(t, 15*time.Second, func() (bool, string) {
		out, err := queryText(n2, "SET read_from = any; SELECT count(*) FROM ev")
		before, _ = strconv.Atoi(out)
		return err == nil && before > 0, "ev on n2 after the loss: " + out + errString(err)
	})
	if out, err := queryText(n2, "SELECT n FROM ev_n"); err != nil {
		t.Errorf("ev_n on n2 after the loss: %v", err)
	} else {
		t.Logf("ev_n on n2 after the loss: %s", out)
	}
	t.Logf("reads from us-east %s after the loss: %d events", time.Since(lostAt).Round(time.Millisecond), before)

	// Refused while us-west is not known lost yet? After dead_after it is.
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := queryText(n2, "SELECT count(*) FROM cairn_cluster.nodes WHERE state = 'dead'")
		return err == nil && out == "2", "dead nodes: " + out + errString(err)
	})

	t.Logf("%s: us-west is dead; failing over", time.Since(start).Round(time.Millisecond))
	frows := regionsRows(t, n2, "ALTER SYSTEM FAILOVER REGION TO 'us-east'")
	if len(frows) != 4 {
		t.Fatalf("FAILOVER REGION rows: %v, want 4 (2 shards of ev, 2 of ev_n)", frows)
	}
	var oldest time.Time // the earliest newest event of an ev learner
	for _, r := range frows {
		t.Logf("failover: %s", strings.Join(r, " | "))
		if r[4] != "n2" && r[4] != "n5" {
			t.Errorf("promoted %q, want a us-east node", r[4])
		}
		if strings.HasPrefix(r[0], "stream ") {
			at, err := time.Parse("2006-01-02 15:04:05.999999-07", r[10])
			if err != nil {
				t.Fatalf("newest_event %q: %v", r[10], err)
			}
			if oldest.IsZero() || at.Before(oldest) {
				oldest = at
			}
		}
	}
	if out, err := queryText(n2, "SELECT op_type, status FROM cairn_cluster.operations WHERE op_type = 'failover_region'"); err != nil || out != "failover_region|done" {
		t.Errorf("operations: %q %v", out, err)
	}

	// Writes resume in us-east.
	waitUntil(t, 20*time.Second, func() (bool, string) {
		_, err := queryText(n2, "INSERT INTO ev (id) VALUES (-1)")
		return err == nil, "insert after failover" + errString(err)
	})
	close(stop)
	wg.Wait()
	t.Logf("%s: writes resumed in us-east", time.Since(start).Round(time.Millisecond))

	// What was lost is what the learners lagged: every acknowledged id
	// missing now was acknowledged after the newest event a learner held
	// was ingested (50 ms of slack: concurrent appends are stamped in
	// about, not exactly, log order).
	present := map[int64]bool{}
	for _, r := range regionsRows(t, n2, "SET read_from = leader; SELECT id FROM ev") {
		id, _ := strconv.ParseInt(r[0], 10, 64)
		present[id] = true
	}
	var lost []ack
	for _, a := range acked["ev"] {
		if !present[a.id] {
			lost = append(lost, a)
		}
	}
	for _, a := range lost {
		if a.at.Before(oldest.Add(-50 * time.Millisecond)) {
			t.Errorf("event %d acknowledged at %s is lost, though the learners held every event ingested up to %s", a.id, a.at.Format(time.StampMilli), oldest.Format(time.StampMilli))
		}
	}
	t.Logf("ev: %d acknowledged, %d lost; the learners held the events ingested up to %s before the loss", len(acked["ev"]), len(lost), lostAt.Sub(oldest).Round(time.Millisecond))

	// tri lost nothing.
	present = map[int64]bool{}
	for _, r := range regionsRows(t, n2, "SET read_from = leader; SELECT id FROM tri") {
		id, _ := strconv.ParseInt(r[0], 10, 64)
		present[id] = true
	}
	missing, after := 0, 0
	for _, a := range acked["tri"] {
		if !present[a.id] {
			missing++
		}
		if a.at.After(lostAt) {
			after++
		}
	}
	if after == 0 {
		t.Errorf("tri took no write after us-west was lost")
	}
	if missing > 0 || len(acked["tri"]) == 0 {
		t.Errorf("tri: %d of %d acknowledged events missing after losing us-west", missing, len(acked["tri"]))
	}
	t.Logf("tri: %d acknowledged (%d after the loss), none lost", len(acked["tri"]), after)
}

// regionsExec runs sql on p or fails the test.
func regionsExec(t *testing.T, p *Proc, sql string) {
	t.Helper()
	if _, err := queryText(p, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// regionsRows runs sql on p (up to 30 s) and returns the last result's rows.
func regionsRows(t *testing.T, p *Proc, sql string) [][]string {
	t.Helper()
	out, err := queryText(p, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var rows [][]string
	for l := range strings.SplitSeq(out, "\n") {
		if l != "" {
			rows = append(rows, strings.Split(l, "|"))
		}
	}
	return rows
}

// runRegionsScript runs a datadriven script of statements against p:
// "exec" prints each command tag, "query" the rows (| separated), "error"
// expects the last statement to fail and prints its SQLSTATE, message
// and hint. Rewrite with -rewrite.
func runRegionsScript(t *testing.T, p *Proc, path string) {
	t.Helper()
	datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgconn.Connect(ctx, p.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		results, err := conn.Exec(ctx, d.Input).ReadAll()
		var sb strings.Builder
		for _, r := range results {
			if r.Err != nil {
				break
			}
			if d.Cmd == "exec" {
				fmt.Fprintln(&sb, r.CommandTag.String())
				continue
			}
			for _, row := range r.Rows {
				vals := make([]string, len(row))
				for i, v := range row {
					vals[i] = string(v)
					if v == nil {
						vals[i] = "NULL"
					}
				}
				fmt.Fprintln(&sb, strings.Join(vals, "|"))
			}
		}
		var pe *pgconn.PgError
		switch {
		case err != nil && errors.As(err, &pe) && d.Cmd == "error":
			fmt.Fprintf(&sb, "ERROR %s: %s\n", pe.Code, pe.Message)
			if pe.Hint != "" {
				fmt.Fprintf(&sb, "HINT: %s\n", pe.Hint)
			}
		case err != nil:
			t.Fatalf("%s: %v", d.Pos, err)
		case d.Cmd == "error":
			t.Fatalf("%s: expected an error", d.Pos)
		}
		return sb.String()
	})
}
