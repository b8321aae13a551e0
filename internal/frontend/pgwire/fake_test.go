package pgwire

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// The tests speak a tiny command language to a fake session so they
// depend on the protocol only, not on the SQL grammar (which another
// package owns). fakeParse splits on semicolons outside quotes.
//
//	ALLTYPES              one row of every type, then one row of NULLs
//	ECHO t1, t2, ...      $1..$n of those types, returned as one row
//	GEN n                 n rows (i int8, 'row i' text)
//	SELECT n              one int4 column "?column?" holding n
//	SLEEP                 blocks until its context ends
//	FAIL                  error 22012 at position 3 of the statement
//	BEGIN/COMMIT/ROLLBACK/FAILTX   transaction status
//	SET name = value      ParameterStatus if reported
//	NOTICE                sends a notice
//	COPY w1|all ...       COPY FROM STDIN; BINARY/CSV/HEADER/DELIMITER 'x'
func fakeParse(q string) ([]parser.Statement, []string, error) {
	var stmts []parser.Statement
	var texts []string
	start, inQuote := 0, false
	emit := func(end int) {
		piece := strings.TrimSpace(q[start:end])
		for strings.HasPrefix(piece, "/*") && strings.Contains(piece, "*/") {
			piece = strings.TrimSpace(piece[strings.Index(piece, "*/")+2:])
		}
		texts = append(texts, piece)
		up := strings.ToUpper(piece)
		switch {
		case piece == "":
			stmts = append(stmts, &parser.Empty{})
		case strings.HasPrefix(up, "COPY "):
			stmts = append(stmts, &parser.Copy{Table: strings.Trim(strings.Fields(piece)[1], `"`)})
		default:
			stmts = append(stmts, &parser.Select{})
		}
	}
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '\'':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				emit(i)
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(q[start:]) != "" || len(stmts) == 0 {
		emit(len(q))
	}
	for i, t := range texts {
		if strings.HasPrefix(strings.ToUpper(t), "SYNTAXERR") {
			return nil, nil, &parser.Error{Pos: strings.Index(q, texts[i]) + 1, Code: pgerr.SyntaxError, Msg: "syntax error at or near \"SYNTAXERR\""}
		}
	}
	return stmts, texts, nil
}

func TestMain(m *testing.M) {
	parseSQL = fakeParse
	os.Exit(m.Run())
}

// fakeHandler records what the server handed it.
type fakeHandler struct {
	mu       sync.Mutex
	params   []map[string]string
	prepares map[string]int // statement text -> Prepare calls
	copied   *types.Batch   // every row received by COPY
	cancels  int            // statements that saw their context end
	gen      int            // rows GEN produced (handed to the writer)
	sessions []*fakeSession
	sleeping chan struct{} // SLEEP signals when it starts

	discardCopy bool // benchmarks: count COPY rows but keep none
}

func newFakeHandler() *fakeHandler {
	return &fakeHandler{prepares: map[string]int{}, sleeping: make(chan struct{}, 16)}
}

func (h *fakeHandler) NewSession(ctx context.Context, params map[string]string) (Session, error) {
	if params["user"] == "nobody" {
		return nil, pgerr.New(pgerr.InvalidAuthorization, "role \"nobody\" does not exist")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.params = append(h.params, params)
	s := &fakeSession{h: h, tx: 'I'}
	h.sessions = append(h.sessions, s)
	return s, nil
}

type fakeSession struct {
	h      *fakeHandler
	tx     byte
	closed bool
}

func (s *fakeSession) TxStatus() byte { return s.tx }

func (s *fakeSession) Settings() map[string]string {
	return map[string]string{"TimeZone": "UTC", "cairn_node": "n1"}
}

func (s *fakeSession) Close() {
	s.h.mu.Lock()
	s.closed = true
	s.h.mu.Unlock()
}

type fakeStmt struct {
	s      *fakeSession
	text   string
	params []types.T
	cols   []Column
	exec   func(ctx context.Context, params []types.Datum, w ResultWriter) (string, error)
}

func (st *fakeStmt) ParamTypes() []types.T { return st.params }
func (st *fakeStmt) Columns() []Column     { return st.cols }
func (st *fakeStmt) Execute(ctx context.Context, params []types.Datum, w ResultWriter) (string, error) {
	return st.exec(ctx, params, w)
}

var allTypes = []types.T{types.Bool, types.Int2, types.Int4, types.Int8, types.Float4, types.Float8,
	types.Numeric, types.Text, types.Timestamp, types.TimestampTZ, types.Date, types.Interval}

// allTypesRow is the ALLTYPES row; the tests check clients decode it.
var allTypesRow = []types.Datum{
	types.NewBool(true),
	types.NewInt(types.Int2, -12),
	types.NewInt(types.Int4, 123456),
	types.NewInt(types.Int8, math.MaxInt64),
	types.NewFloat(types.Float4, 1.5),
	types.NewFloat(types.Float8, 1e20),
	types.NewNumeric("1234.5678"),
	types.NewText("héllo, wörld"),
	types.NewInt(types.Timestamp, time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC).UnixMicro()),
	types.NewInt(types.TimestampTZ, time.Date(1999, 12, 31, 23, 59, 59, 500000000, time.UTC).UnixMicro()),
	types.NewInt(types.Date, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).Unix()/86400),
	{T: types.Interval, Iv: types.IntervalValue{Months: 14, Days: 3, Micros: 4*3600e6 + 30e6}},
}

var copyTables = map[string][]types.T{
	"w1":  {types.TimestampTZ, types.Int4, types.Text, types.Float8},
	"all": allTypes,
}

func (s *fakeSession) Prepare(ctx context.Context, stmt parser.Statement, text string, oids []uint32) (Stmt, error) {
	s.h.mu.Lock()
	s.h.prepares[text]++
	s.h.mu.Unlock()
	up := strings.ToUpper(text)
	word := strings.Fields(up)[0]
	st := &fakeStmt{s: s, text: text}
	switch word {
	case "ALLTYPES":
		for i, t := range allTypes {
			st.cols = append(st.cols, Column{Name: "c" + strconv.Itoa(i), T: t})
		}
		st.exec = func(ctx context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			if err := w.Row(allTypesRow); err != nil {
				return "", err
			}
			nulls := make([]types.Datum, len(allTypes))
			for i, t := range allTypes {
				nulls[i] = types.NullOf(t)
			}
			if err := w.Row(nulls); err != nil {
				return "", err
			}
			return "SELECT 2", nil
		}
	case "ECHO":
		for i, name := range strings.Split(strings.TrimSpace(text[4:]), ",") {
			t, ok := types.FromName(strings.TrimSpace(name))
			if strings.TrimSpace(name) == "unknown" {
				t, ok = types.Unknown, true
			}
			if !ok {
				return nil, pgerr.New(pgerr.UndefinedObject, "type %q does not exist", name)
			}
			st.params = append(st.params, t)
			st.cols = append(st.cols, Column{Name: "p" + strconv.Itoa(i+1), T: t})
		}
		st.exec = func(ctx context.Context, params []types.Datum, w ResultWriter) (string, error) {
			for i, p := range params {
				if p.T != st.params[i] && !(st.params[i] == types.Unknown && p.T == types.Text) {
					return "", pgerr.New(pgerr.InternalError, "param %d has type %s, want %s", i+1, p.T, st.params[i])
				}
			}
			if err := w.Row(params); err != nil {
				return "", err
			}
			return "SELECT 1", nil
		}
	case "GEN":
		n, _ := strconv.Atoi(strings.Fields(text)[1])
		st.cols = []Column{{Name: "i", T: types.Int8}, {Name: "s", T: types.Text}}
		st.exec = func(ctx context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			row := make([]types.Datum, 2)
			for i := range n {
				row[0] = types.NewInt(types.Int8, int64(i))
				row[1] = types.NewText("row " + strconv.Itoa(i))
				s.h.mu.Lock()
				s.h.gen++
				s.h.mu.Unlock()
				if err := w.Row(row); err != nil {
					return "", err
				}
			}
			return "SELECT " + strconv.Itoa(n), nil
		}
	case "SELECT":
		if i := strings.Index(up, " FROM "); i >= 0 {
			// pgx's CopyFrom describes `select "cols" from "table"` to learn
			// the column types.
			table := strings.Trim(strings.TrimSpace(text[i+6:]), `"`)
			colTypes, ok := copyTables[table]
			if !ok {
				return nil, pgerr.UndefinedTableErr("stream", table)
			}
			for i, t := range colTypes {
				st.cols = append(st.cols, Column{Name: "c" + strconv.Itoa(i), T: t})
			}
			st.exec = func(context.Context, []types.Datum, ResultWriter) (string, error) { return "SELECT 0", nil }
			break
		}
		v, err := strconv.Atoi(strings.Fields(text)[1])
		if err != nil {
			return nil, pgerr.New(pgerr.SyntaxError, "bad select").WithPos(8)
		}
		st.cols = []Column{{Name: "?column?", T: types.Int4}}
		st.exec = func(ctx context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			return "SELECT 1", w.Row([]types.Datum{types.NewInt(types.Int4, int64(v))})
		}
	case "SLEEP":
		st.exec = func(ctx context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			s.h.sleeping <- struct{}{}
			select {
			case <-ctx.Done():
				s.h.mu.Lock()
				s.h.cancels++
				s.h.mu.Unlock()
				return "", pgerr.From(ctx.Err()).WithDetail("slept until cancelled")
			case <-time.After(20 * time.Second):
				return "SLEEP", nil
			}
		}
	case "FAIL":
		st.exec = func(context.Context, []types.Datum, ResultWriter) (string, error) {
			return "", pgerr.New(pgerr.DivisionByZero, "division by zero").WithPos(3).WithDetail("some detail").WithHint("some hint")
		}
	case "BEGIN", "COMMIT", "ROLLBACK", "FAILTX":
		st.exec = func(context.Context, []types.Datum, ResultWriter) (string, error) {
			switch word {
			case "BEGIN":
				s.tx = 'T'
			case "FAILTX":
				s.tx = 'E'
				return "", pgerr.New(pgerr.InFailedTx, "current transaction is aborted, commands ignored until end of transaction block")
			default:
				s.tx = 'I'
			}
			return word, nil
		}
	case "SET":
		f := strings.Fields(strings.ReplaceAll(text, "=", " "))
		st.exec = func(_ context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			w.ParameterStatus(f[1], strings.Trim(f[2], "'"))
			return "SET", nil
		}
	case "MISMATCH":
		// Datums of other types than the described columns.
		st.cols = []Column{{Name: "a", T: types.Int4}, {Name: "b", T: types.Float8}, {Name: "c", T: types.Text}}
		st.exec = func(_ context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			return "SELECT 1", w.Row([]types.Datum{types.NewInt(types.Int8, 7), types.NewInt(types.Int8, 2), types.NewInt(types.Int8, 3)})
		}
	case "BINCOL":
		// A column marked Binary, as FETCH from a BINARY cursor.
		st.cols = []Column{{Name: "b", T: types.Int4, Binary: true}, {Name: "t", T: types.Int4}}
		st.exec = func(_ context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			return "FETCH 1", w.Row([]types.Datum{types.NewInt(types.Int4, 7), types.NewInt(types.Int4, 8)})
		}
	case "COPYOUT":
		// COPYOUT text|csv|binary [header]: tricky values through COPY TO.
		st.exec = func(_ context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			return copyOutFake(w, strings.Fields(text)[1:])
		}
	case "PANIC":
		st.exec = func(context.Context, []types.Datum, ResultWriter) (string, error) { panic("fake session bug") }
	case "NOTICE":
		st.exec = func(_ context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			w.Notice("hello from the server")
			return "NOTICE", nil
		}
	case "COPY":
		cp, ok := stmt.(*parser.Copy)
		if !ok {
			return nil, errors.New("COPY did not parse as *parser.Copy")
		}
		cols, ok := copyTables[strings.ToLower(cp.Table)]
		if !ok {
			return nil, pgerr.UndefinedTableErr("stream", cp.Table)
		}
		opts := CopyOptions{}
		switch {
		case strings.Contains(up, "BINARY"):
			opts.Format = CopyBinary
		case strings.Contains(up, "CSV"):
			opts.Format = CopyCSV
		}
		opts.Header = strings.Contains(up, "HEADER")
		if i := strings.Index(up, "DELIMITER '"); i >= 0 {
			opts.Delimiter = text[i+len("DELIMITER '")]
		}
		st.exec = func(ctx context.Context, _ []types.Datum, w ResultWriter) (string, error) {
			src, err := w.CopyIn(opts, cols)
			if err != nil {
				return "", err
			}
			b := types.NewBatch(cols)
			total := 0
			for {
				b.Reset()
				n, err := src.Next(b, 1000)
				if n != b.N {
					return "", pgerr.New(pgerr.InternalError, "Next returned %d but batch has %d rows", n, b.N)
				}
				total += n
				if !s.h.discardCopy {
					s.h.mu.Lock()
					if s.h.copied == nil {
						s.h.copied = types.NewBatch(cols)
					}
					s.h.copied.AppendBatch(b)
					s.h.mu.Unlock()
				}
				if err == io.EOF {
					return "COPY " + strconv.Itoa(total), nil
				}
				if err != nil {
					return "", err
				}
			}
		}
	default:
		return nil, pgerr.New(pgerr.SyntaxError, "unknown fake command %q", word).WithPos(1)
	}
	return st, nil
}

func (h *fakeHandler) takeCopied() *types.Batch {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.copied
	h.copied = nil
	return b
}

// startServer runs a server for h on a loopback port; it is closed when
// the test ends.
func startServer(t testing.TB, h Handler, cfg Config) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := NewServer(cfg, h)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
	for deadline := time.Now().Add(5 * time.Second); s.Addr() == nil && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return s
}
