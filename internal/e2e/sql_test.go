package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// TestSQL runs the scripts in testdata/sql against one real node per file.
//
// Commands:
//
//	exec            run statements (simple protocol); print each command tag
//	query           run one statement; print the rows as text, | separated
//	error           run statements; expect the last to fail; print SQLSTATE and message
//	copy            first line a COPY ... FROM STDIN, the rest its data
//	sleep <dur>     wait (e.g. for a view to catch up when not using sync_commit)
//	restart         SIGTERM the node and start it again on the same data dir
//	kill            SIGKILL the node and start it again on the same data dir
//	connect user=u  reconnect as user u (the node trusts loopback clients
//	                of an insecure node); later restarts reconnect as u
//	disk name=d     start a versitygw for this file (once) and CREATE DISK d
//	                on it (prefix: d); print the command tag
//
// Rewrite the expected output with: go test ./internal/e2e -run TestSQL -rewrite
func TestSQL(t *testing.T) {
	datadriven.Walk(t, "testdata/sql", func(t *testing.T, path string) {
		p := NewProc(t)
		p.Start()
		ctx := context.Background()
		user := "" // the URL's
		connect := func() *pgconn.PgConn {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			cfg, err := pgconn.ParseConfig(p.URL())
			if err != nil {
				t.Fatal(err)
			}
			if user != "" {
				cfg.User = user
			}
			c, err := pgconn.ConnectConfig(cctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		conn := connect()
		defer func() { conn.Close(ctx) }()
		var s3 *testutil.S3Server
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			switch d.Cmd {
			case "exec", "query", "error":
				results, err := conn.Exec(qctx, d.Input).ReadAll()
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
							if v == nil {
								vals[i] = "NULL"
							} else {
								vals[i] = string(v)
							}
						}
						fmt.Fprintln(&sb, strings.Join(vals, "|"))
					}
				}
				if err != nil {
					var pe *pgconn.PgError
					if errors.As(err, &pe) {
						msg := fmt.Sprintf("ERROR %s: %s", pe.Code, pe.Message)
						if pe.Position > 0 {
							msg += fmt.Sprintf(" (position %d)", pe.Position)
						}
						if d.Cmd != "error" {
							t.Fatalf("%s: unexpected error: %s", d.Pos, msg)
						}
						return sb.String() + msg + "\n"
					}
					t.Fatalf("%s: %v", d.Pos, err)
				}
				if d.Cmd == "error" {
					t.Fatalf("%s: expected an error", d.Pos)
				}
				return sb.String()
			case "sleep":
				var s string
				d.ScanArgs(t, "d", &s)
				dur, err := time.ParseDuration(s)
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(dur)
				return ""
			case "copy":
				stmt, data, _ := strings.Cut(d.Input, "\n")
				tag, err := conn.CopyFrom(qctx, strings.NewReader(data+"\n"), stmt)
				if err != nil {
					return "ERROR: " + err.Error() + "\n"
				}
				return tag.String() + "\n"
			case "disk":
				var name string
				d.ScanArgs(t, "name", &name)
				if s3 == nil {
					s3 = testutil.StartS3(t)
				}
				tag, err := conn.Exec(qctx, s3.CreateDiskSQL(name, name)).ReadAll()
				if err != nil {
					return "ERROR: " + err.Error() + "\n"
				}
				return tag[0].CommandTag.String() + "\n"
			case "connect":
				d.ScanArgs(t, "user", &user)
				conn.Close(ctx)
				conn = connect()
				return ""
			case "restart", "kill":
				conn.Close(ctx)
				if d.Cmd == "kill" {
					p.Kill()
				} else if err := p.Stop(); err != nil {
					t.Fatalf("stop: %v\n%s", err, p.Log())
				}
				p.Start()
				conn = connect()
				return ""
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}
