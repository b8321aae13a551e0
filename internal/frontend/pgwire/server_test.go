package pgwire

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cairndb/cairn/internal/types"
)

func connString(s *Server) string {
	return fmt.Sprintf("postgres://cairn@%s/cairn?sslmode=disable&connect_timeout=5", s.Addr())
}

func connect(t testing.TB, s *Server, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(connString(s))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var modes = []struct {
	name string
	mode pgx.QueryExecMode
}{
	{"extended", pgx.QueryExecModeCacheStatement}, // pgx's default: binary results
	{"describe", pgx.QueryExecModeDescribeExec},
	{"exec", pgx.QueryExecModeExec}, // text parameters
	{"simple", pgx.QueryExecModeSimpleProtocol},
}

func TestStartupParams(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{ServerVersion: "16.4"})
	c := connect(t, s, pgx.QueryExecModeCacheStatement)
	pc := c.PgConn()
	if got := pc.ParameterStatus("server_version"); got != "16.4" {
		t.Errorf("server_version = %q", got)
	}
	if got := pc.ParameterStatus("cairn_node"); got != "n1" {
		t.Errorf("session setting cairn_node = %q", got)
	}
	if got := pc.ParameterStatus("client_encoding"); got != "UTF8" {
		t.Errorf("client_encoding = %q", got)
	}
	if pc.PID() == 0 {
		t.Errorf("no BackendKeyData pid")
	}
	h.mu.Lock()
	p := h.params[0]
	h.mu.Unlock()
	if p["user"] != "cairn" || p["database"] != "cairn" {
		t.Errorf("startup params = %v", p)
	}

	// A session refused by the handler is a FATAL error for the client.
	cfg, _ := pgx.ParseConfig(strings.Replace(connString(s), "cairn@", "nobody@", 1))
	_, err := pgx.ConnectConfig(testCtx(t), cfg)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28000" || pgErr.Severity != "FATAL" {
		t.Errorf("connect as nobody: %v", err)
	}
}

func TestAllTypesEveryMode(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := connect(t, s, m.mode)
			rows, err := c.Query(testCtx(t), "ALLTYPES")
			if err != nil {
				t.Fatal(err)
			}
			var (
				b    bool
				i2   int16
				i4   int32
				i8   int64
				f4   float32
				f8   float64
				num  pgtype.Numeric
				txt  string
				tsv  time.Time
				tstz time.Time
				date time.Time
				iv   pgtype.Interval
			)
			if !rows.Next() {
				t.Fatalf("no row: %v", rows.Err())
			}
			if err := rows.Scan(&b, &i2, &i4, &i8, &f4, &f8, &num, &txt, &tsv, &tstz, &date, &iv); err != nil {
				t.Fatal(err)
			}
			if !b || i2 != -12 || i4 != 123456 || i8 != math.MaxInt64 || f4 != 1.5 || f8 != 1e20 || txt != "héllo, wörld" {
				t.Errorf("scalars: %v %v %v %v %v %v %q", b, i2, i4, i8, f4, f8, txt)
			}
			nf, _ := num.Float64Value()
			if nf.Float64 != 1234.5678 {
				t.Errorf("numeric = %+v", num)
			}
			if want := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC); !tsv.Equal(want) {
				t.Errorf("timestamp = %v, want %v", tsv, want)
			}
			if want := time.Date(1999, 12, 31, 23, 59, 59, 500000000, time.UTC); !tstz.Equal(want) {
				t.Errorf("timestamptz = %v, want %v", tstz, want)
			}
			if y, mo, d := date.Date(); y != 2024 || mo != 2 || d != 29 {
				t.Errorf("date = %v", date)
			}
			if iv.Months != 14 || iv.Days != 3 || iv.Microseconds != 4*3600e6+30e6 {
				t.Errorf("interval = %+v", iv)
			}
			// The second row is all NULL.
			if !rows.Next() {
				t.Fatalf("no second row: %v", rows.Err())
			}
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if v != nil {
					t.Errorf("column %d of the NULL row = %v", i, v)
				}
			}
			if rows.Next() {
				t.Errorf("unexpected third row")
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if tag := rows.CommandTag().String(); tag != "SELECT 2" {
				t.Errorf("tag = %q", tag)
			}
			// Field descriptions carry OIDs and sizes.
			fds := rows.FieldDescriptions()
			for i, fd := range fds {
				if fd.DataTypeOID != allTypes[i].OID() || fd.DataTypeSize != allTypes[i].Size() {
					t.Errorf("field %d: oid %d size %d", i, fd.DataTypeOID, fd.DataTypeSize)
				}
			}
		})
	}
}

func TestParamsEveryType(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	tsv := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	tstz := time.Date(2023, 6, 7, 8, 9, 10, 0, time.FixedZone("x", 2*3600))
	date := time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC)
	num := pgtype.Numeric{Int: big.NewInt(-123456), Exp: -3, Valid: true}
	iv := pgtype.Interval{Months: 1, Days: 2, Microseconds: 3_000_000, Valid: true}
	for _, m := range modes[:3] { // the simple protocol inlines parameters client-side
		t.Run(m.name, func(t *testing.T) {
			c := connect(t, s, m.mode)
			q := "ECHO bool, int2, int4, int8, float4, float8, numeric, text, timestamp, timestamptz, date, interval"
			var (
				b                   bool
				i2                  int16
				i4                  int32
				i8                  int64
				f4                  float32
				f8                  float64
				gotNum              float64
				txt                 string
				gotTS, gotTZ, gotDt time.Time
				gotIv               pgtype.Interval
			)
			err := c.QueryRow(testCtx(t), q, true, int16(-7), int32(-70000), int64(1)<<40, float32(2.25), 3.5,
				num, "tëxt 'quoted'", tsv, tstz, pgtype.Date{Time: date, Valid: true}, iv).
				Scan(&b, &i2, &i4, &i8, &f4, &f8, &gotNum, &txt, &gotTS, &gotTZ, &gotDt, &gotIv)
			if err != nil {
				t.Fatal(err)
			}
			if !b || i2 != -7 || i4 != -70000 || i8 != 1<<40 || f4 != 2.25 || f8 != 3.5 || gotNum != -123.456 || txt != "tëxt 'quoted'" {
				t.Errorf("scalars: %v %v %v %v %v %v %v %q", b, i2, i4, i8, f4, f8, gotNum, txt)
			}
			if !gotTS.Equal(tsv) || !gotTZ.Equal(tstz) || !gotDt.Equal(date) {
				t.Errorf("times: %v %v %v", gotTS, gotTZ, gotDt)
			}
			if gotIv != iv {
				t.Errorf("interval: %+v", gotIv)
			}
			// NULL parameters.
			var np *int32
			var ns *string
			if err := c.QueryRow(testCtx(t), "ECHO int4, text", nil, nil).Scan(&np, &ns); err != nil || np != nil || ns != nil {
				t.Errorf("NULL params: %v %v %v", np, ns, err)
			}
			// A value out of range for the declared type.
			var x int16
			err = c.QueryRow(testCtx(t), "ECHO int2", "40000").Scan(&x)
			var pgErr *pgconn.PgError
			if m.mode == pgx.QueryExecModeExec {
				if !errors.As(err, &pgErr) || pgErr.Code != "22003" {
					t.Errorf("out of range text param: %v", err)
				}
			} else if err == nil {
				t.Errorf("out of range param accepted")
			}
		})
	}
}

func TestPreparedStatementReuse(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	c := connect(t, s, pgx.QueryExecModeCacheStatement)
	ctx := testCtx(t)
	for i := range 5 {
		var v int64
		if err := c.QueryRow(ctx, "ECHO int8", int64(i)).Scan(&v); err != nil || v != int64(i) {
			t.Fatalf("run %d: %v %v", i, v, err)
		}
	}
	if _, err := c.Prepare(ctx, "named", "ECHO text"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		var v string
		if err := c.QueryRow(ctx, "named", fmt.Sprint(i)).Scan(&v); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("named run %d: %q %v", i, v, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.prepares["ECHO int8"]; n != 1 {
		t.Errorf("ECHO int8 prepared %d times, want 1", n)
	}
	if n := h.prepares["ECHO text"]; n != 1 {
		t.Errorf("ECHO text prepared %d times, want 1", n)
	}
}

func TestManyRows(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := connect(t, s, m.mode)
			rows, err := c.Query(testCtx(t), "GEN 50000")
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var i int64
				var str string
				if err := rows.Scan(&i, &str); err != nil {
					t.Fatal(err)
				}
				if i != int64(n) || str != fmt.Sprintf("row %d", n) {
					t.Fatalf("row %d = %d %q", n, i, str)
				}
				n++
			}
			if err := rows.Err(); err != nil || n != 50000 {
				t.Fatalf("rows: %d, %v", n, err)
			}
		})
	}
}

func TestErrorPosition(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := connect(t, s, m.mode)
			_, err := c.Exec(testCtx(t), "  FAIL")
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				t.Fatalf("err = %v", err)
			}
			// Position 3 within "FAIL", which starts after two spaces.
			if pgErr.Code != "22012" || pgErr.Message != "division by zero" || pgErr.Position != 5 ||
				pgErr.Detail != "some detail" || pgErr.Hint != "some hint" || pgErr.Severity != "ERROR" {
				t.Errorf("PgError = %+v", pgErr)
			}
			// The connection is usable afterwards.
			var v int32
			if err := c.QueryRow(testCtx(t), "SELECT 7").Scan(&v); err != nil || v != 7 {
				t.Errorf("after error: %v %v", v, err)
			}
		})
	}
	// In a multi-statement simple query the position counts from the
	// start of the whole string (in characters), and statements after the
	// failing one do not run.
	c := connect(t, s, pgx.QueryExecModeSimpleProtocol)
	rr := c.PgConn().Exec(testCtx(t), "SELECT 1; /* é */ FAIL; SELECT 2")
	res, err := rr.ReadAll()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Position != int32(len([]rune("SELECT 1; /* é */ "))+3) {
		t.Errorf("multi-statement error: %v %+v", err, pgErr)
	}
	if len(res) == 0 || len(res) > 2 || string(res[0].Rows[0][0]) != "1" {
		t.Errorf("results: %+v", res)
	}
	// Syntax errors from the parser keep their position.
	_, err = c.Exec(testCtx(t), "SELECT 1; SYNTAXERR")
	if !errors.As(err, &pgErr) || pgErr.Code != "42601" || pgErr.Position != 11 {
		t.Errorf("syntax error: %v", err)
	}
	// Prepare errors too.
	_, err = c.Exec(testCtx(t), "SELECT 1;SELECT x")
	if !errors.As(err, &pgErr) || pgErr.Code != "42601" || pgErr.Position != 9+8 {
		t.Errorf("prepare error: %v", err)
	}
}

func TestMultiStatementAndEmpty(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	c := connect(t, s, pgx.QueryExecModeSimpleProtocol)
	res, err := c.PgConn().Exec(testCtx(t), "SELECT 1; GEN 3; NOTICE;").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || len(res[1].Rows) != 3 || res[2].CommandTag.String() != "NOTICE" {
		t.Errorf("results: %+v", res)
	}
	res, err = c.PgConn().Exec(testCtx(t), "  ;  ").ReadAll()
	if err != nil || len(res) != 1 || len(res[0].Rows) != 0 {
		t.Errorf("empty query: %+v %v", res, err)
	}
	// Extended protocol with an empty statement.
	rr := c.PgConn().ExecParams(testCtx(t), "", nil, nil, nil, nil).Read()
	if rr.Err != nil {
		t.Errorf("empty extended query: %v", rr.Err)
	}
	// Parse of several statements is refused.
	rr = c.PgConn().ExecParams(testCtx(t), "SELECT 1; SELECT 2", nil, nil, nil, nil).Read()
	var pgErr *pgconn.PgError
	if !errors.As(rr.Err, &pgErr) || pgErr.Code != "42601" {
		t.Errorf("multi-statement Parse: %v", rr.Err)
	}
}

func TestNoticeAndParameterStatus(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	var notices []string
	cfg, _ := pgx.ParseConfig(connString(s))
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Severity+": "+n.Message) }
	c, err := pgx.ConnectConfig(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(testCtx(t), "NOTICE"); err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 || notices[0] != "NOTICE: hello from the server" {
		t.Errorf("notices = %q", notices)
	}
	if _, err := c.Exec(testCtx(t), "SET TimeZone = 'Europe/Paris'"); err != nil {
		t.Fatal(err)
	}
	if got := c.PgConn().ParameterStatus("TimeZone"); got != "Europe/Paris" {
		t.Errorf("TimeZone after SET = %q", got)
	}
}

func TestTxStatus(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := connect(t, s, m.mode)
			ctx := testCtx(t)
			pc := c.PgConn()
			if pc.TxStatus() != 'I' {
				t.Errorf("initial status %c", pc.TxStatus())
			}
			if _, err := c.Exec(ctx, "BEGIN"); err != nil {
				t.Fatal(err)
			}
			if pc.TxStatus() != 'T' {
				t.Errorf("after BEGIN %c", pc.TxStatus())
			}
			if _, err := c.Exec(ctx, "FAILTX"); err == nil {
				t.Errorf("FAILTX succeeded")
			}
			if pc.TxStatus() != 'E' {
				t.Errorf("after failure %c", pc.TxStatus())
			}
			if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
			if pc.TxStatus() != 'I' {
				t.Errorf("after ROLLBACK %c", pc.TxStatus())
			}
		})
	}
}

func TestCancelRequest(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			c := connect(t, s, m.mode)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Exec(context.Background(), "SLEEP")
				errc <- err
			}()
			select {
			case <-h.sleeping:
			case <-time.After(10 * time.Second):
				t.Fatal("SLEEP did not start")
			}
			if err := c.PgConn().CancelRequest(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				t.Fatal("statement not cancelled")
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "57014" || pgErr.Message != "canceling statement due to user request" {
				t.Fatalf("cancelled statement: %v", err)
			}
			// The statement's own detail is kept.
			if pgErr.Detail != "slept until cancelled" {
				t.Errorf("detail %q", pgErr.Detail)
			}
			var v int32
			if err := c.QueryRow(testCtx(t), "SELECT 3").Scan(&v); err != nil || v != 3 {
				t.Errorf("after cancel: %v %v", v, err)
			}
		})
	}
}

// A client that goes away mid-statement cancels the statement's context.
func TestDisconnectCancels(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	pc, err := pgconn.Connect(testCtx(t), connString(s))
	if err != nil {
		t.Fatal(err)
	}
	go pc.Exec(context.Background(), "SLEEP").ReadAll()
	select {
	case <-h.sleeping:
	case <-time.After(10 * time.Second):
		t.Fatal("SLEEP did not start")
	}
	pc.Conn().Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		n, closed := h.cancels, h.sessions[0].closed
		h.mu.Unlock()
		if n == 1 && closed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("statement not cancelled (cancels=%d, session closed=%v)", n, closed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestShutdownLetsStatementsFinish(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	busy := connect(t, s, pgx.QueryExecModeCacheStatement)
	idle := connect(t, s, pgx.QueryExecModeCacheStatement)
	_ = idle
	rows, err := busy.Query(testCtx(t), "GEN 10")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	// A long statement is running when Shutdown starts; it is allowed to
	// finish, then Shutdown returns.
	errc := make(chan error, 1)
	go func() {
		_, err := busy.Exec(context.Background(), "SLEEP")
		errc <- err
	}()
	<-h.sleeping
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want deadline (the SLEEP never ends)", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Shutdown took %v", time.Since(start))
	}
	if err := <-errc; err == nil {
		t.Errorf("SLEEP succeeded after forced close")
	}
}

func TestShutdownIdle(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	c := connect(t, s, pgx.QueryExecModeCacheStatement)
	if err := s.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(testCtx(t)); err == nil {
		t.Errorf("connection still usable after Shutdown")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.sessions[0].closed {
		t.Errorf("session not closed")
	}
}

func TestColumnsOfTypesDecodeFromText(t *testing.T) {
	// Values printed in text format parse back to the same datums.
	for _, d := range allTypesRow {
		txt := types.AppendText(nil, d)
		back, err := types.ParseText(d.T, string(txt))
		if err != nil || back != d {
			t.Errorf("%s: %q -> %+v, %v", d.T, txt, back, err)
		}
	}
}

// BenchmarkSelectRows measures result streaming: rows/s of (int8, text)
// read by pgx in binary (extended) and text (simple) format.
func BenchmarkSelectRows(b *testing.B) {
	h := newFakeHandler()
	s := startServer(b, h, Config{})
	for _, m := range []struct {
		name string
		mode pgx.QueryExecMode
	}{{"binary", pgx.QueryExecModeCacheStatement}, {"text", pgx.QueryExecModeSimpleProtocol}} {
		b.Run(m.name, func(b *testing.B) {
			c := connect(b, s, m.mode)
			const n = 100_000
			b.ResetTimer()
			for range b.N {
				rows, err := c.Query(testCtx(b), "GEN 100000")
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for rows.Next() {
					got++
				}
				if rows.Err() != nil || got != n {
					b.Fatal(got, rows.Err())
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// A panicking session drops its own connection only.
func TestSessionPanic(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	other := connect(t, s, pgx.QueryExecModeCacheStatement)
	c := connect(t, s, pgx.QueryExecModeSimpleProtocol)
	_, err := c.Exec(testCtx(t), "PANIC")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "XX000" || pgErr.Severity != "FATAL" {
		t.Errorf("panic: %v", err)
	}
	var v int32
	if err := other.QueryRow(testCtx(t), "SELECT 4").Scan(&v); err != nil || v != 4 {
		t.Errorf("other connection: %v %v", v, err)
	}
}

// Values are encoded as the described column types even when a session
// hands over datums of a neighbouring type.
func TestRowCoercedToColumnTypes(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	for _, m := range modes {
		c := connect(t, s, m.mode)
		var a int32
		var b float64
		var str string
		if err := c.QueryRow(testCtx(t), "MISMATCH").Scan(&a, &b, &str); err != nil || a != 7 || b != 2 || str != "3" {
			t.Errorf("%s: %v %v %q %v", m.name, a, b, str, err)
		}
	}
}
