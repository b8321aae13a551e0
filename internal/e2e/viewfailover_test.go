package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// wfBase is the event time of id 0; event id has time wfBase + id*7ms, so
// ids spread over many one-minute windows.
var wfBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func wfEvent(id int64) (ts time.Time, device int32, value int64) {
	return wfBase.Add(time.Duration(id) * 7 * time.Millisecond), int32(id % 13), id % 100
}

// wfViews are the views the failover test checks, each with the query
// that recomputes it over the stream (rows as text, sorted).
var wfViews = []struct {
	name, create, read string
	recompute          func(ids []int64) []string
}{
	{
		name: "per_min",
		create: `CREATE VIEW per_min WITH (shards = 2, lateness = '1 day') AS
			SELECT window_start, device, count(*) AS n, sum(value) AS total, max(value) AS peak
			FROM tumble(ev, ts, interval '1 minute') GROUP BY window_start, device`,
		read: `SELECT window_start, device, n, total, peak FROM per_min`,
		recompute: func(ids []int64) []string {
			type agg struct{ n, total, peak int64 }
			m := map[string]*agg{}
			for _, id := range ids {
				ts, d, v := wfEvent(id)
				k := fmt.Sprintf("%s|%d", pgTime(ts.Truncate(time.Minute)), d)
				a := m[k]
				if a == nil {
					a = &agg{peak: v}
					m[k] = a
				}
				a.n++
				a.total += v
				a.peak = max(a.peak, v)
			}
			var out []string
			for k, a := range m {
				out = append(out, fmt.Sprintf("%s|%d|%d|%d", k, a.n, a.total, a.peak))
			}
			return out
		},
	},
	{
		name: "hop3",
		create: `CREATE VIEW hop3 WITH (lateness = '1 day') AS
			SELECT window_start, count(*) AS n FROM hop(ev, ts, interval '1 minute', interval '3 minutes') GROUP BY window_start`,
		read: `SELECT window_start, n FROM hop3`,
		recompute: func(ids []int64) []string {
			m := map[time.Time]int64{}
			for _, id := range ids {
				ts, _, _ := wfEvent(id)
				for j := 0; j < 3; j++ {
					m[ts.Truncate(time.Minute).Add(-time.Duration(j)*time.Minute)]++
				}
			}
			var out []string
			for k, n := range m {
				out = append(out, fmt.Sprintf("%s|%d", pgTime(k), n))
			}
			return out
		},
	},
	{
		// A sliding window long enough that nothing leaves it during the
		// test: its buckets must still add up to every event.
		name: "recent",
		create: `CREATE VIEW recent WITH (shards = 2) AS
			SELECT device, count(*) AS n, sum(value) AS total FROM ev
			WHERE arrival_timestamp > clock_timestamp() - interval '1 hour' GROUP BY device`,
		read: `SELECT device, n, total FROM recent`,
		recompute: func(ids []int64) []string {
			type agg struct{ n, total int64 }
			m := map[int32]*agg{}
			for _, id := range ids {
				_, d, v := wfEvent(id)
				if m[d] == nil {
					m[d] = &agg{}
				}
				m[d].n++
				m[d].total += v
			}
			var out []string
			for d, a := range m {
				out = append(out, fmt.Sprintf("%d|%d|%d", d, a.n, a.total))
			}
			return out
		},
	},
}

func pgTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") + "+00" }

// TestViewFailover runs three real nodes, ingests from writers on all of
// them, SIGKILLs the node leading the windowed view's first shard, keeps
// ingesting, restarts it, and checks that every view equals its
// recomputation from the events in the stream.
func TestViewFailover(t *testing.T) {
	p1 := NewProc(t)
	p1.Start()
	p2, p3 := NewProc(t), NewProc(t)
	p2.Start("--node-id", "n2", "--join", p1.Cluster)
	p3.Start("--node-id", "n3", "--join", p1.Cluster)
	byName := map[string]*Proc{"n1": p1, "n2": p2, "n3": p3}
	for name, p := range byName {
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT role FROM cairn_cluster.shards WHERE object = 'meta' AND node_id = '"+name+"'")
			return err == nil && (out == "leader" || out == "follower"), name + " meta role: " + out + errString(err)
		})
	}
	stmts := []string{`CREATE STREAM ev (id int8, ts timestamptz, device int, value int8) WITH (shards = 2, replicas = 3, shard_key = 'id')`}
	for _, v := range wfViews {
		stmts = append(stmts, v.create)
	}
	for _, q := range stmts {
		if _, err := queryText(p1, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var victim string
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := queryText(p1, "SELECT node_id FROM cairn_cluster.shards WHERE object = 'per_min' AND shard = 0 AND role = 'leader'")
		victim = out
		return err == nil && byName[out] != nil, "leader of per_min shard 0: " + out + errString(err)
	})

	// Writers: one per node, each COPYing batches of its own ids, retrying
	// through another node when theirs is down. A batch whose outcome is
	// unknown may or may not be in the stream; the check reads the stream.
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	procs := []*Proc{p1, p2, p3}
	for w := range procs {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			next := int64(w) * 10_000_000
			for i := 0; i < 10_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rows := make([][]any, 200)
				for j := range rows {
					id := next + int64(j)
					ts, d, v := wfEvent(id % 1_000_000)
					rows[j] = []any{id, ts, d, v}
				}
				next += int64(len(rows))
				p := procs[(w+i)%len(procs)]
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				c, err := pgx.Connect(cctx, p.URL())
				if err == nil {
					_, err = c.CopyFrom(cctx, pgx.Identifier{"ev"}, []string{"id", "ts", "device", "value"}, pgx.CopyFromRows(rows))
					c.Close(context.Background())
				}
				cancel()
				if err == nil {
					mu.Lock()
					acked++
					mu.Unlock()
				} else {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	byName[victim].Kill()
	killed := time.Now()
	time.Sleep(2 * time.Second)
	byName[victim].Start()
	time.Sleep(1 * time.Second)
	close(stop)
	wg.Wait()
	mu.Lock()
	t.Logf("killed %s (leader of per_min shard 0); %d batches acknowledged; restarted after %s", victim, acked, time.Since(killed).Round(time.Millisecond))
	mu.Unlock()
	if acked < 20 {
		t.Fatalf("only %d batches acknowledged", acked)
	}

	c := p1.Connect(t)
	var ids []int64
	rows, err := c.Query(ctx, `SELECT id FROM ev`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("event %d is in the stream twice", id)
		}
		seen[id] = true
		ids = append(ids, id%1_000_000)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, v := range wfViews {
		want := v.recompute(ids)
		sort.Strings(want)
		var got []string
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p1, v.read)
			if err != nil {
				return false, err.Error()
			}
			got = strings.Split(out, "\n")
			if out == "" {
				got = nil
			}
			sort.Strings(got)
			return strings.Join(got, "\n") == strings.Join(want, "\n"), fmt.Sprintf("%s: %d rows, recomputed %d", v.name, len(got), len(want))
		})
		t.Logf("%s: %d rows equal their recomputation from %d events", v.name, len(got), len(ids))
	}
	out, err := queryText(p1, "SELECT late_events FROM cairn_cluster.views WHERE name = 'per_min'")
	if err != nil || out != "0" {
		t.Fatalf("per_min late_events = %q (%v), want 0 with a day of lateness", out, err)
	}
}
