package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestDrivers runs real client libraries against one secure node: pgx,
// psycopg2, pgjdbc, node-postgres with pg-cursor, psql, and a
// Grafana-style time-series query. Every client connects over TLS with
// sslmode=verify-full (the node's certificate checked against the CA made
// by `cairn cert`) and logs in with a SCRAM-SHA-256 password as a role
// that is not an admin and owns what it creates. Each client gets its own
// streams and a bounded context; scripts/test-deps.sh installs the
// clients.
func TestDrivers(t *testing.T) {
	p := NewProc(t)
	p.CertsDir = testutil.MakeCerts(t, filepath.Join(t.TempDir(), "certs"))
	p.Start()
	d := newDriverLogin(t, p)
	t.Run("pgx", func(t *testing.T) { testPgx(t, d) })
	t.Run("grafana", func(t *testing.T) { testGrafana(t, d) })
	t.Run("psycopg2", func(t *testing.T) {
		out := runClient(t, 60*time.Second, "/usr/bin/python3", "testdata/drivers/psycopg2_client.py",
			d.DSN())
		expectLines(t, out, `notices ['NOTICE:  CREATE STREAM is applied at once, not at COMMIT: ROLLBACK will not undo it']
dev 1 (3, 6.0)
copy to csv 'dev,name,v\n7,"with, comma",1.25\n7,,\n'
copy to text lines 12
named ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9']
fetchmany [(0.0,), (0.5,), (1.0,)] [(1.5,), (2.0,), (2.5,)]
held [('n2',), ('n5',), ('n8',)]
after rollback (0,)
error 34000 ERROR:  cursor "nosuch" does not exist`)
	})
	t.Run("jdbc", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out := runJava(t, ctx, "testdata/drivers/JdbcClient.java", d.JDBC())
		expectLines(t, out, `batch 7 statements, first inserted 1
1 | name 1 | 1.5 | 2024-01-01T10:01:00Z
2 | name 2 | 3.0 | 2024-01-01T10:02:00Z
2 | name 5 | 7.5 | 2024-01-01T10:05:00Z
columns dev:int4 name:text v:float8 ts:timestamptz; rows 3
fetched in chunks 0123456
since 10:05 2`)
	})
	t.Run("node", func(t *testing.T) {
		if _, err := os.Stat("testdata/node/node_modules/pg-cursor"); err != nil {
			t.Fatalf("node-postgres is not installed: run scripts/test-deps.sh (npm install in internal/e2e/testdata/node): %v", err)
		}
		out := runClient(t, 60*time.Second, "node", "testdata/node/client.js", d.URL())
		expectLines(t, out, `notices ["CREATE STREAM is applied at once, not at COMMIT: ROLLBACK will not undo it"]
grouped [{"dev":0,"n":2},{"dev":1,"n":3},{"dev":2,"n":3}]
since [{"name":"n7","ts":"2024-01-01T10:07:00.000Z"},{"name":"n8","ts":"2024-01-01T10:08:00.000Z"}]
cursor chunks ["n0,n1,n3,n4","n6,n7"]
error 42P01 relation "node_nosuch" does not exist
still serving 9`)
	})
	t.Run("psql", func(t *testing.T) { testPsqlClient(t, d) })
	t.Run("copyto-as-pg15", func(t *testing.T) { testCopyToAsPG15(t, d) })
}

// testCopyToAsPG15 runs testdata/drivers/copyto.sql through psql against
// the node and against a PostgreSQL 15 this test starts, over the same
// rows (copyto_rows.sql), and compares the bytes: text escapes, csv
// quoting, HEADER, DELIMITER, NULL, QUOTE, ESCAPE and the binary format,
// over ints, text, floats (NaN, 1e300), bools, timestamptz, jsonb,
// numeric and dates.
func testCopyToAsPG15(t *testing.T, d driverLogin) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is needed (scripts/test-deps.sh installs postgresql-client): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := os.ReadFile("testdata/drivers/copyto_rows.sql")
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(b)), "\n")
	const cols = "(i int, s text, f float8, b bool, ts timestamptz, j jsonb, n numeric, d date)"
	pg := startPG15(t)
	pg.Exec(t, append([]string{"CREATE TABLE cx " + cols}, rows...)...)
	c := d.Connect(t)
	for _, q := range append([]string{"CREATE STREAM cx " + cols}, rows...) {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	copyTo := func(port, user, db string, env ...string) []byte {
		cmd := exec.CommandContext(ctx, psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", port, "-U", user, "-f", "testdata/drivers/copyto.sql", db)
		cmd.Env = append(append(os.Environ(), "PGTZ=UTC"), env...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("psql on port %s: %v\n%s", port, err, stderr.String())
		}
		return out
	}
	want := copyTo(strconv.Itoa(pg.Port), pg.User, "postgres")
	got := copyTo(d.port, d.user, "cairn", d.Env()...)
	if len(want) < 1000 || !bytes.Equal(got, want) {
		t.Fatalf("COPY TO output differs from PostgreSQL 15's:\ngot:\n%q\nwant:\n%q", got, want)
	}
}

func port(p *Proc) string {
	_, pt, _ := strings.Cut(p.PGAddr, ":")
	return pt
}

// driverLogin is how the driver tests log in to a secure node: TLS with
// the server verified against the test CA, and a SCRAM password.
type driverLogin struct {
	port, user, password, ca string
}

// newDriverLogin makes the drivers' role (LOGIN, a password, CREATE on
// schema public: no admin) as cairn, who logs in by client certificate.
func newDriverLogin(t *testing.T, p *Proc) driverLogin {
	t.Helper()
	d := driverLogin{port: port(p), user: "drivers", password: "Drv-pw-7q2x", ca: filepath.Join(p.CertsDir, "ca.crt")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := p.Connect(t)
	for _, q := range []string{
		"CREATE USER drivers WITH PASSWORD '" + d.password + "'",
		"GRANT CREATE ON SCHEMA public TO drivers",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return d
}

// URL is a postgres:// URL (pgx, node-postgres).
func (d driverLogin) URL() string {
	return "postgres://" + d.user + ":" + d.password + "@127.0.0.1:" + d.port + "/cairn?sslmode=verify-full&sslrootcert=" + d.ca
}

// DSN is a libpq keyword string (psycopg2).
func (d driverLogin) DSN() string {
	return "host=127.0.0.1 port=" + d.port + " user=" + d.user + " password=" + d.password + " dbname=cairn sslmode=verify-full sslrootcert=" + d.ca
}

// JDBC is a pgjdbc URL.
func (d driverLogin) JDBC() string {
	return "jdbc:postgresql://127.0.0.1:" + d.port + "/cairn?user=" + d.user + "&password=" + d.password + "&sslmode=verify-full&sslrootcert=" + d.ca
}

// Env is psql's environment for the login (with -h, -p and -U).
func (d driverLogin) Env() []string {
	return []string{"PGPASSWORD=" + d.password, "PGSSLMODE=verify-full", "PGSSLROOTCERT=" + d.ca}
}

// Connect opens a pgx connection, closed when the test ends; it checks
// the session is the drivers' role over TLS.
func (d driverLogin) Connect(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, d.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	var user string
	if err := c.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != d.user {
		t.Fatalf("current_user = %q, %v; want %q", user, err, d.user)
	}
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Fatalf("pgx connection is %T, not TLS", c.PgConn().Conn())
	}
	return c
}

// runClient runs a client program and returns its standard output; a
// failure ends the test with both outputs.
func runClient(t *testing.T, timeout time.Duration, bin string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("%s is needed (scripts/test-deps.sh installs it): %v", bin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", bin, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func expectLines(t *testing.T, got, want string) {
	t.Helper()
	if strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func testPgx(t *testing.T, d driverLogin) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := d.Connect(t)
	if _, err := c.Exec(ctx, "CREATE STREAM pgx_ev (ts timestamptz, dev int, name text, v float8)"); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	// CopyFrom (binary COPY FROM STDIN).
	var rows [][]any
	for i := range 6 {
		rows = append(rows, []any{base.Add(time.Duration(i) * time.Minute), int32(i % 2), "c" + string(rune('a'+i)), float64(i)})
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"pgx_ev"}, []string{"ts", "dev", "name", "v"}, pgx.CopyFromRows(rows))
	if err != nil || n != 6 {
		t.Fatalf("CopyFrom: %d, %v", n, err)
	}
	// A batch of typed, parameterized inserts (extended protocol, one sync).
	b := &pgx.Batch{}
	for i := range 3 {
		b.Queue("INSERT INTO pgx_ev (ts, dev, name, v) VALUES ($1, $2, $3, $4)", base.Add(time.Duration(10+i)*time.Minute), 7, "batch", 0.5*float64(i))
	}
	if err := c.SendBatch(ctx, b).Close(); err != nil {
		t.Fatalf("batch: %v", err)
	}
	var cnt int64
	var sum float64
	if err := c.QueryRow(ctx, "SELECT count(*), sum(v) FROM pgx_ev WHERE dev = $1 AND ts >= $2", 7, base).Scan(&cnt, &sum); err != nil || cnt != 3 || sum != 1.5 {
		t.Fatalf("typed params: %d %v %v", cnt, sum, err)
	}
	// Declared parameter types are described back as declared.
	desc, err := c.PgConn().Prepare(ctx, "decl", "SELECT count(*) FROM pgx_ev WHERE name = $1 AND dev = $2 AND ts < $3", []uint32{1043, 23, 1184})
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.ParamOIDs; len(got) != 3 || got[0] != 1043 || got[1] != 23 || got[2] != 1184 {
		t.Fatalf("described parameter OIDs %v, want [1043 23 1184]", got)
	}
	res := c.PgConn().ExecPrepared(ctx, "decl", [][]byte{[]byte("batch"), []byte("7"), []byte("2030-01-01 00:00:00+00")}, nil, nil).Read()
	if res.Err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != "3" {
		t.Fatalf("varchar parameter: %v %q", res.Err, res.Rows)
	}
	// A declared type other than the column's is kept in the description
	// and converted to the column's type on INSERT (varchar into int,
	// binary int4 into float8).
	desc, err = c.PgConn().Prepare(ctx, "ins", "INSERT INTO pgx_ev (dev, v, name) VALUES ($1, $2, $3)", []uint32{1043, 23, 1043})
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.ParamOIDs; len(got) != 3 || got[0] != 1043 || got[1] != 23 || got[2] != 1043 {
		t.Fatalf("described INSERT parameter OIDs %v, want [1043 23 1043]", got)
	}
	res = c.PgConn().ExecPrepared(ctx, "ins", [][]byte{[]byte("42"), binary.BigEndian.AppendUint32(nil, 3), []byte("conv")}, []int16{0, 1, 0}, nil).Read()
	if res.Err != nil || res.CommandTag.String() != "INSERT 0 1" {
		t.Fatalf("converting INSERT: %v %q", res.Err, res.CommandTag)
	}
	var dev int32
	var v float64
	if err := c.QueryRow(ctx, "SELECT dev, v FROM pgx_ev WHERE name = 'conv'").Scan(&dev, &v); err != nil || dev != 42 || v != 3 {
		t.Fatalf("converted row: %d %v %v", dev, v, err)
	}

	// CopyTo: csv of a query, and the binary format of the stream.
	var out bytes.Buffer
	tag, err := c.PgConn().CopyTo(ctx, &out, "COPY (SELECT name, v FROM pgx_ev WHERE dev = 1 ORDER BY ts) TO STDOUT WITH (FORMAT csv, HEADER)")
	if err != nil || tag.String() != "COPY 3" || out.String() != "name,v\ncb,1\ncd,3\ncf,5\n" {
		t.Fatalf("CopyTo csv: %q %q %v", tag, out.String(), err)
	}
	out.Reset()
	tag, err = c.PgConn().CopyTo(ctx, &out, "COPY pgx_ev (dev) TO STDOUT (FORMAT binary)")
	if err != nil || tag.String() != "COPY 10" {
		t.Fatalf("CopyTo binary: %q %v", tag, err)
	}
	// 19-byte header, 10 tuples of one int4 field (2+4+4 bytes), trailer.
	bin := out.Bytes()
	if len(bin) != 19+10*10+2 || !bytes.HasPrefix(bin, []byte("PGCOPY\n\xff\r\n\x00")) || binary.BigEndian.Uint16(bin[len(bin)-2:]) != 0xFFFF {
		t.Fatalf("binary COPY TO output: %q", bin)
	}
	// The connection is still usable after an error inside a COPY TO.
	if _, err := c.PgConn().CopyTo(ctx, &out, "COPY (SELECT 1 / (v - v) FROM pgx_ev) TO STDOUT"); err == nil {
		t.Fatal("COPY of a division by zero succeeded")
	} else if pe, ok := err.(*pgconn.PgError); !ok || pe.Code != "22012" {
		t.Fatalf("COPY error: %v", err)
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pgx_ev").Scan(&cnt); err != nil || cnt != 10 {
		t.Fatalf("after failed COPY: %d %v", cnt, err)
	}
}

// testGrafana runs the query Grafana's PostgreSQL data source sends for a
// time series panel, with timestamptz parameters, over a stream and over
// a view.
func testGrafana(t *testing.T, d driverLogin) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := d.Connect(t)
	for _, q := range []string{
		"CREATE STREAM graf (ts timestamptz, v int)",
		"CREATE VIEW graf_min AS SELECT date_trunc('minute', ts) AS minute, count(*) AS n, sum(v) AS total FROM graf GROUP BY 1",
		"SET stream_insert_level = sync_commit",
		`INSERT INTO graf VALUES ('2024-05-01 12:00:10Z', 1), ('2024-05-01 12:00:50Z', 2), ('2024-05-01 12:01:30Z', 3),
			('2024-05-01 12:03:00Z', 4), ('2024-05-01 12:09:00Z', 5), ('2024-05-01 11:59:59Z', 6)`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	from, to := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), time.Date(2024, 5, 1, 12, 5, 0, 0, time.UTC)
	for _, r := range []struct{ name, q string }{
		{"stream", "SELECT date_trunc('minute', ts) AS time, count(*) FROM graf WHERE ts BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1"},
		{"view", "SELECT date_trunc('minute', minute) AS time, sum(n) FROM graf_min WHERE minute BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1"},
	} {
		rows, err := c.Query(ctx, r.q, from, to)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		var got []string
		for rows.Next() {
			var ts time.Time
			var n int64
			if err := rows.Scan(&ts, &n); err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			got = append(got, ts.UTC().Format("15:04")+"="+string(rune('0'+n)))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		if strings.Join(got, " ") != "12:00=2 12:01=1 12:03=1" {
			t.Fatalf("%s: got %v", r.name, got)
		}
		if fd := rows.FieldDescriptions(); fd[0].Name != "time" || fd[0].DataTypeOID != 1184 {
			t.Fatalf("%s: first column %+v, want time timestamptz", r.name, fd[0])
		}
	}
}

// testPsqlClient drives real psql: PGTZ, PGAPPNAME and PGOPTIONS set the
// session's TimeZone, application_name, DateStyle and search_path; \copy writes a stream and a query
// to files and reads a file back in.
func testPsqlClient(t *testing.T, d driverLogin) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is needed (scripts/test-deps.sh installs postgresql-client): %v", err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("ts,name\n2024-03-01 08:00:00+00,\"a,b\"\n2024-03-01 09:30:00+00,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `CREATE STREAM psql_ev (ts timestamptz, name text);
\copy psql_ev FROM '` + in + `' WITH (FORMAT csv, HEADER)
\copy psql_ev TO '` + filepath.Join(dir, "out.txt") + `'
\copy (SELECT name, ts FROM psql_ev ORDER BY ts) TO '` + filepath.Join(dir, "q.csv") + `' WITH CSV HEADER
SHOW TimeZone;
SHOW DateStyle;
SHOW search_path;
SHOW application_name;
SELECT ts FROM psql_ev ORDER BY ts LIMIT 1;
`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", d.port, "-U", d.user, "cairn")
	cmd.Env = append(append(os.Environ(), d.Env()...), "PGTZ=America/New_York", "PGAPPNAME=drivers-test", "PGOPTIONS=-c DateStyle=SQL,DMY -c search_path=public,cairn_cluster")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	expectLines(t, string(out), `CREATE STREAM
COPY 2
COPY 2
COPY 2
America/New_York
SQL, DMY
public, cairn_cluster
drivers-test
01/03/2024 03:00:00 EST`)
	for file, want := range map[string]string{
		"out.txt": "01/03/2024 03:00:00 EST\ta,b\n01/03/2024 04:30:00 EST\t\\N\n",
		"q.csv":   "name,ts\n\"a,b\",01/03/2024 03:00:00 EST\n,01/03/2024 04:30:00 EST\n",
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", file, b, err, want)
		}
	}
}
