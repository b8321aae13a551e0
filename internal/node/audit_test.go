package node_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairndb/cairn/internal/testutil/testcluster"
)

// auditRows reads cairn_cluster.audit_log on node i as
// "node|user|kind|what|outcome" lines, oldest first, and whether every
// source is a loopback address.
func auditRows(c *testcluster.Cluster, i int) (string, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(i))
	if err != nil {
		return "", false, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT node, user_name, kind, what, outcome, source FROM cairn_cluster.audit_log ORDER BY id")
	if err != nil {
		return "", false, err
	}
	var lines []string
	loopback := true
	for rows.Next() {
		var f [6]string
		if err := rows.Scan(&f[0], &f[1], &f[2], &f[3], &f[4], &f[5]); err != nil {
			return "", false, err
		}
		lines = append(lines, strings.Join(f[:5], "|"))
		loopback = loopback && strings.HasPrefix(f[5], "127.0.0.1:")
	}
	return strings.Join(lines, "\n"), loopback && len(lines) > 0, rows.Err()
}

// TestAuditLog: DDL and admin statements, failed ones too, reach
// cairn_cluster.audit_log on every node with who, from where and the
// outcome; events a node queued right before it stopped are flushed by
// its Close; the log survives a restart and stays bounded by
// audit_log_max_events.
func TestAuditLog(t *testing.T) {
	c := testcluster.Start(t, 3)
	conn := connect(t, c, 1)
	mustExec(t, conn, "CREATE STREAM audited (k text)")
	if err := execIn(conn, "ALTER SYSTEM SET audit_log_max_events = 'lots'"); sqlState(err) != "22023" {
		t.Fatalf("bad setting: %v", err)
	}
	if err := execIn(conn, "ALTER NODE nope DRAIN"); err == nil {
		t.Fatal("ALTER NODE of a missing node succeeded")
	}
	mustExec(t, conn, "SELECT count(*) FROM audited") // not audited
	want := strings.Join([]string{
		"n2|cairn|sql|CREATE STREAM audited (k text)|ok",
		`n2|cairn|sql|ALTER SYSTEM SET audit_log_max_events = 'lots'|22023: audit_log_max_events must be an integer from 1 to 100000, got "lots"`,
	}, "\n")
	for i := range 3 {
		c.WaitFor(20*time.Second, func() (bool, string) {
			got, loopback, err := auditRows(c, i)
			return err == nil && strings.HasPrefix(got, want) && strings.Count(got, "\n") == 2 && strings.Contains(got, "|ALTER NODE nope DRAIN|") && loopback,
				fmt.Sprintf("n%d audit_log:\n%s\nwant it to start with\n%s\nthen ALTER NODE nope DRAIN, from 127.0.0.1 (%v)", i+1, got, want, err)
		})
	}

	// A statement right before Close: its event is flushed on the way out.
	conn3 := connect(t, c, 2)
	mustExec(t, conn3, "CREATE STREAM last_words (k text)")
	conn3.Close(t.Context())
	c.Stop(2)
	c.Restart(2)
	c.WaitFor(20*time.Second, func() (bool, string) {
		got, _, err := auditRows(c, 2)
		return err == nil && strings.HasPrefix(got, want) && strings.HasSuffix(got, "n3|cairn|sql|CREATE STREAM last_words (k text)|ok"),
			fmt.Sprintf("n3 after its restart:\n%s (%v)", got, err)
	})

	// A failed login is an event too (here: a user that does not exist,
	// on a loopback client of an insecure node).
	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
	if bad, err := pgx.Connect(lctx, strings.Replace(c.URL(0), "cairn@", "mallory@", 1)); err == nil {
		bad.Close(context.Background())
		t.Fatal("a login as a role that does not exist succeeded")
	}
	lcancel()
	c.WaitFor(20*time.Second, func() (bool, string) {
		got, _, err := auditRows(c, 1)
		return err == nil && strings.Contains(got, "\nn1|mallory|login|login ("),
			fmt.Sprintf("n2 shows no failed login of mallory on n1:\n%s (%v)", got, err)
	})

	// The bound applies at the next event.
	mustExec(t, conn, "ALTER SYSTEM SET audit_log_max_events = 2")
	c.WaitFor(20*time.Second, func() (bool, string) {
		got, _, err := auditRows(c, 0)
		lines := strings.Split(got, "\n")
		return err == nil && len(lines) == 2 && strings.HasPrefix(lines[0], "n1|mallory|login|login (") &&
				lines[1] == "n2|cairn|sql|ALTER SYSTEM SET audit_log_max_events = 2|ok",
			fmt.Sprintf("n1 after the bound shrank:\n%s (%v)", got, err)
	})
}
