package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// readmeSQL returns the psql session of README.md (the first ```sql block).
func readmeSQL(t *testing.T) string {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "```sql\n")
	if i < 0 {
		t.Fatal("README.md has no ```sql block")
	}
	s = s[i+len("```sql\n"):]
	return s[:strings.Index(s, "```")]
}

// TestReadmeWithPsql pastes the README's session into real psql.
func TestReadmeWithPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is needed for this test (.ci/run installs postgresql-client): %v", err)
	}
	p := NewProc(t)
	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	host, port, _ := strings.Cut(p.PGAddr, ":")
	cmd := exec.CommandContext(ctx, psql, "-X", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "cairn")
	cmd.Stdin = strings.NewReader(readmeSQL(t))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	t.Logf("psql took %s", time.Since(start))
	got := string(out)
	for _, want := range []string{
		"CREATE STREAM", "CREATE MATERIALIZED VIEW", "INSERT 0 3",
		" device_id | n | total | peak",
		"         7 | 1 |     2 |    2",
		"        42 | 2 |   4.5 |    3",
		"(2 rows)",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("psql output lacks %q:\n%s", want, got)
		}
	}
}

// TestHTTPIngest sends NDJSON over HTTP to a real node: a good request is
// counted in the view; a request with a bad line is refused whole.
func TestHTTPIngest(t *testing.T) {
	p := NewProc(t)
	p.Start()
	c := p.Connect(t)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE STREAM readings (ts timestamptz, sensor text, temp float8)`,
		`CREATE MATERIALIZED VIEW per_sensor AS SELECT sensor, count(*) AS n, max(temp) AS hottest FROM readings GROUP BY sensor`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	post := func(body string) (int, map[string]any) {
		resp, err := http.Post("http://"+p.HTTP+"/v1/streams/readings/events", "application/x-ndjson", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}
	code, m := post(`{"ts":"2026-03-01 10:00:00+00","sensor":"a","temp":20.5}
{"ts":"2026-03-01T10:00:01Z","sensor":"b","temp":19}

{"sensor":"a","temp":22.25,"ts":"2026-03-01 10:00:02+00"}
`)
	if code != 200 || m["accepted"] != float64(3) {
		t.Fatalf("good request: %d %v", code, m)
	}
	code, m = post(`{"ts":"2026-03-01 10:00:03+00","sensor":"a","temp":1}
{"ts":"2026-03-01 10:00:04+00","sensor":"a","temp":"hot"}
`)
	if code != 400 || m["line"] != float64(2) || m["code"] != "22P02" {
		t.Fatalf("bad line: %d %v", code, m)
	}
	code, m = post(`{"ts":"2026-03-01 10:00:03+00","sensor":"a","temp":1}`)
	_ = m
	if code != 200 {
		t.Fatalf("request after a bad one: %d", code)
	}
	if resp, err := http.Post("http://"+p.HTTP+"/v1/streams/nope/events", "application/x-ndjson", strings.NewReader(`{}`)); err != nil || resp.StatusCode != 404 {
		t.Fatalf("missing stream: %v %v", resp, err)
	}
	waitUntil(t, 10*time.Second, func() (bool, string) {
		var n int64
		var hottest float64
		if err := c.QueryRow(ctx, `SELECT n, hottest FROM per_sensor WHERE sensor = 'a'`).Scan(&n, &hottest); err != nil {
			return false, err.Error()
		}
		// 2 from the first request, none from the refused one, 1 after it.
		return n == 3 && hottest == 22.25, "per_sensor a not caught up"
	})
	var total int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM readings`).Scan(&total); err != nil || total != 4 {
		t.Fatalf("stream holds %d events (%v), want 4: the refused request must add nothing", total, err)
	}
	waitUntil(t, 10*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + p.HTTP + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := string(b)
		for _, want := range []string{
			`cairn_events_ingested_total{stream="readings"} 4`,
			`cairn_view_lag_events{view="per_sensor"} 0`,
			`cairn_view_lag_seconds{view="per_sensor"} 0`,
			"cairn_fsync_latency_seconds_count",
			"cairn_raft_commit_latency_seconds_count",
			"cairn_raft_proposals_total",
			"cairn_raft_groups ", "cairn_raft_quiesced_groups ",
		} {
			if !strings.Contains(m, want) {
				return false, "/metrics lacks " + want
			}
		}
		return true, ""
	})
	for _, path := range []string{"/health", "/ready", "/metrics"} {
		resp, err := http.Get("http://" + p.HTTP + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
}
