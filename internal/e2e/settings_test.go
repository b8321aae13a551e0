package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestSettingsFromStartup: TimeZone and DateStyle given at connection
// start (as drivers and libpq's PGTZ/PGDATESTYLE send them) go through
// SET's checks, are reported back, and shape both output and the
// extended protocol's text parameters.
func TestSettingsFromStartup(t *testing.T) {
	p := NewProc(t)
	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cfg, err := pgconn.ParseConfig(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["TimeZone"] = "Europe/Berlin"
	cfg.RuntimeParams["DateStyle"] = "SQL, DMY"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if tz, ds := conn.ParameterStatus("TimeZone"), conn.ParameterStatus("DateStyle"); tz != "Europe/Berlin" || ds != "SQL, DMY" {
		t.Fatalf("reported TimeZone %q DateStyle %q", tz, ds)
	}
	// A text parameter typed date is read day first; output is SQL, DMY
	// in Berlin time.
	res := conn.ExecParams(ctx, "SELECT $1::date, $2::timestamptz, timestamptz '2024-07-15 12:00:00+00'",
		[][]byte{[]byte("15/01/2024"), []byte("2024-01-15 13:00")}, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	got := make([]string, len(res.Rows[0]))
	for i, v := range res.Rows[0] {
		got[i] = string(v)
	}
	want := "15/01/2024|15/01/2024 13:00:00 CET|15/07/2024 14:00:00 CEST"
	if strings.Join(got, "|") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, "|"), want)
	}

	// An invalid startup value is a FATAL error, as in PostgreSQL.
	bad, _ := pgconn.ParseConfig(p.URL())
	bad.RuntimeParams["TimeZone"] = "Mars/Olympus"
	if c, err := pgconn.ConnectConfig(ctx, bad); err == nil {
		c.Close(ctx)
		t.Fatal("TimeZone Mars/Olympus accepted at startup")
	} else if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "22023" {
		t.Fatalf("want 22023, got %v", err)
	}
}

// TestSettingsWithPsql: psql passes PGTZ and PGDATESTYLE (and PGOPTIONS)
// as startup parameters; a timestamptz comes out in that zone and style.
func TestSettingsWithPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is needed for this test (.ci/run installs postgresql-client): %v", err)
	}
	p := NewProc(t)
	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	host, port, _ := strings.Cut(p.PGAddr, ":")
	cmd := exec.CommandContext(ctx, psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "cairn",
		"-c", "SELECT timestamptz '2024-01-15 12:00:00+00', date '2024-01-15', interval '1 day 2 hours'")
	cmd.Env = append(os.Environ(), "PGTZ=Asia/Kolkata", "PGDATESTYLE=Postgres, DMY", "PGOPTIONS=-c IntervalStyle=iso_8601")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "Mon 15 Jan 17:30:00 2024 IST|15-01-2024|P1DT2H"; got != want {
		t.Fatalf("psql printed %q, want %q", got, want)
	}
}
