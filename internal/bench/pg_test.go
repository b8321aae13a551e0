package bench

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// pgSetup builds W1 in plain PostgreSQL: a table and an ordinary view,
// which is always fresh. It lets the real pgx client code (binary COPY of
// the pre-built values, CSV COPY, INSERT text, numeric sums) be tested
// before a Cairn node exists.
var pgSetup = []string{
	"DROP VIEW IF EXISTS " + w1View,
	"DROP TABLE IF EXISTS " + w1Stream,
	"CREATE TABLE " + w1Stream + " (ts timestamptz, device_id int, region text, value float8)",
	"CREATE VIEW " + w1View + " AS SELECT device_id, count(*) AS n, sum(value) AS total, " +
		"max(value) AS peak FROM " + w1Stream + " GROUP BY device_id",
}

// TestRunPostgres runs the whole W1 driver against a PostgreSQL server
// named by CAIRN_TEST_PG_URL, e.g.
// postgres://postgres@127.0.0.1:5432/postgres.
func TestRunPostgres(t *testing.T) {
	url := os.Getenv("CAIRN_TEST_PG_URL")
	if url == "" {
		t.Skip("CAIRN_TEST_PG_URL is not set: no PostgreSQL server to test the pgx client against")
	}
	for _, mode := range []string{ModeBinary, ModeCopy, ModeCSV, ModeInsert} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r, err := Run(ctx, Options{
				Events: 20000, Batch: 1000, Clients: 2, Mode: mode, URL: url, Out: "-",
				ProbeInterval: 10 * time.Millisecond, CatchUpTimeout: 10 * time.Second,
				setup: pgSetup,
			})
			if err != nil {
				t.Fatal(err)
			}
			var buf strings.Builder
			r.Print(&buf)
			t.Logf("\n%s", buf.String())
			if !r.Verified || r.ViewTotal != int64(20000+r.ProbeEvents) || r.FreshSamples == 0 {
				t.Errorf("%+v", r)
			}
			// The values must arrive intact, not just the row count.
			c, err := dialPG(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			e := generate(1, 20000, w1Devices, r.Started)
			var want int64
			for _, v := range e.value {
				want += int64(math.Round(v * 100))
			}
			got, err := c.queryInt(ctx, "SELECT sum(round(value * 100))::int8 FROM "+w1Stream+" WHERE device_id >= 0")
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("sum of values ×100 = %d, want %d", got, want)
			}
			n, err := c.queryInt(ctx, "SELECT count(*) FROM "+w1Stream+" WHERE region NOT LIKE '%-%' OR ts < '2020-01-01'")
			if err != nil || n != 0 {
				t.Errorf("%d rows with a bad region or timestamp (err %v)", n, err)
			}
		})
	}
}
