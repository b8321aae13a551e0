package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// TestBadInputKeepsServing sends a real node input it must refuse —
// invalid UTF-8, an oversized message, a garbage startup packet, a bad
// COPY row — and checks each gets an error, the node keeps serving, and
// nothing already acknowledged is lost or half applied.
func TestBadInputKeepsServing(t *testing.T) {
	p := NewProc(t)
	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	mustExec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	wantCode := func(err error, code string) {
		t.Helper()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != code {
			t.Fatalf("got %v, want SQLSTATE %s", err, code)
		}
	}
	count := func() string {
		t.Helper()
		res, err := conn.Exec(ctx, "SELECT count(*) FROM s").ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return string(res[0].Rows[0][0])
	}
	mustExec("CREATE STREAM s (k text, v int8); INSERT INTO s VALUES ('a', 1), ('b', 2)")

	// Invalid UTF-8 in a query string.
	_, err = conn.Exec(ctx, "INSERT INTO s VALUES ('\xff\xfe', 3)").ReadAll()
	wantCode(err, "22021")

	// Invalid UTF-8 in a parameter.
	rr := conn.ExecParams(ctx, "INSERT INTO s VALUES ($1, 4)", [][]byte{[]byte("ok\xc3")}, nil, nil, nil).Read()
	wantCode(rr.Err, "22021")

	// A COPY with a bad row applies nothing of that COPY.
	_, err = conn.CopyFrom(ctx, strings.NewReader("c\t5\nd\tnot-a-number\ne\t6\n"), "COPY s FROM STDIN")
	wantCode(err, "22P02")
	if got := count(); got != "2" {
		t.Fatalf("after refused input the stream has %s events, want 2", got)
	}

	// A COPY bigger than one chunk that fails part-way says what stayed.
	var big strings.Builder
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&big, "k%d\t%d\n", i, i)
	}
	big.WriteString("bad\tnot-a-number\n")
	_, err = conn.CopyFrom(ctx, strings.NewReader(big.String()), "COPY s FROM STDIN")
	wantCode(err, "22P02")
	var pe *pgconn.PgError
	errors.As(err, &pe)
	if !strings.Contains(pe.Detail, "16384 rows of this COPY were appended") {
		t.Fatalf("partial COPY detail = %q", pe.Detail)
	}
	if got := count(); got != "16386" {
		t.Fatalf("after a partial COPY the stream has %s events, want 16386", got)
	}

	// An oversized message (over the 64 MiB limit) ends that connection only.
	raw, err := net.Dial("tcp", p.PGAddr)
	if err != nil {
		t.Fatal(err)
	}
	fe := pgproto3.NewFrontend(raw, raw)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersionNumber, Parameters: map[string]string{"user": "cairn"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	// 'Q' with a length of 100 MiB; the body never follows.
	if _, err := raw.Write([]byte{'Q', 0x06, 0x40, 0x00, 0x00}); err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := fe.Receive()
	if er, ok := m.(*pgproto3.ErrorResponse); err != nil || !ok || (er.Code != "54000" && er.Code != "08P01") {
		t.Fatalf("oversized message: got %#v, %v; want an ErrorResponse 54000", m, err)
	}
	raw.Close()

	// A garbage startup packet.
	raw, err = net.Dial("tcp", p.PGAddr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = raw.Write([]byte{0, 0, 0, 8, 1, 2, 3, 4})
	_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	_, _ = raw.Read(buf) // an error response or a close; either way no hang
	raw.Close()

	// The node still serves and nothing was lost or half applied.
	mustExec("INSERT INTO s VALUES ('f', 7)")
	if got := count(); got != "16387" {
		t.Fatalf("the stream has %s events, want 16387", got)
	}
}

// TestStalePreparedInsert: a statement prepared against a stream that was
// then dropped and created again with other columns must fail, not store
// rows the new stream's views cannot read.
func TestStalePreparedInsert(t *testing.T) {
	p := NewProc(t)
	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := p.Connect(t)
	b := p.Connect(t)
	if _, err := a.Exec(ctx, "CREATE STREAM s (name text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Prepare(ctx, "ins", "INSERT INTO s VALUES ($1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "ins", "first"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DROP STREAM s CASCADE",
		"CREATE STREAM s (k int8, v int8)",
		"CREATE MATERIALIZED VIEW v AS SELECT k, sum(v) AS total FROM s GROUP BY k",
		"SET stream_insert_level = sync_commit",
		"INSERT INTO s VALUES (1, 10)",
	} {
		if _, err := b.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, err := a.Exec(ctx, "ins", "second")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "0A000" {
		t.Fatalf("stale prepared insert: %v, want 0A000", err)
	}
	var total int64
	if err := b.QueryRow(ctx, "SELECT total FROM v WHERE k = 1").Scan(&total); err != nil || total != 10 {
		t.Fatalf("view after the refused insert: %d, %v", total, err)
	}
	if _, err := b.Exec(ctx, "INSERT INTO s VALUES (1, 5)"); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, "SELECT total FROM v WHERE k = 1").Scan(&total); err != nil || total != 15 {
		t.Fatalf("view keeps working: %d, %v", total, err)
	}
}
