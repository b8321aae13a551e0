package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Transaction states, as ReadyForQuery reports them.
const (
	txIdle   = 'I'
	txOpen   = 'T'
	txFailed = 'E'
)

// Session is one client connection.
type Session struct {
	b      Backend
	user   string
	values map[string]string // settings changed from their defaults
	tx     byte
	// txReadOnly: the open transaction block is READ ONLY (BEGIN READ
	// ONLY, SET TRANSACTION READ ONLY): statements that write are refused
	// with 25006 until it ends (readonly.go).
	txReadOnly bool
	// pending holds stream inserts buffered by an open transaction block,
	// one batch per stream, applied at COMMIT.
	pending     map[string]*types.Batch
	order       []string
	pendingRows int
	// deferred holds the table statements of an open transaction block,
	// run at COMMIT after the stream batches.
	deferred []deferredWrite
	w        pgwire.ResultWriter // the running statement's, for NOTICEs from sources
	views    map[uint64]viewPlan // plans of the views read, by view ID
	proto    protoState          // SQL-level prepared statements and cursors (prepare.go)
	reads    []need              // what the statement being prepared needs (authz.go)
	source   string              // the client's address, for audit events (audit.go)
}

// notice sends a NOTICE to the client of the running statement.
func (s *Session) notice(msg string) {
	if s.w != nil {
		s.w.Notice(msg)
	}
}

// partial returns the function sources call when a shard cannot be read:
// with skip_unavailable on it records the shard and reading goes on (a
// NOTICE names the missing shards at the end); off, the read fails.
func (s *Session) partial() func(what string, err error) error {
	if v, _ := s.get("skip_unavailable"); v != "on" {
		return nil
	}
	return func(what string, err error) error {
		s.notice(fmt.Sprintf("skip_unavailable: %s is unavailable and left out of this result (%v)", what, err))
		return nil
	}
}

// maxTxRows bounds the events one transaction block may buffer.
const maxTxRows = 1 << 20

// get returns a setting's current value.
func (s *Session) get(name string) (string, bool) {
	name = strings.ToLower(name)
	if v, ok := s.values[name]; ok {
		return v, true
	}
	if name == "session_authorization" || name == "user" { // "user": current_user, session_user
		return s.currentUser(), true
	}
	if name == "transaction_read_only" { // readonly.go
		return onOff(s.tx == txOpen && s.txReadOnly), true
	}
	if name == "cairn.node" && s.b != nil { // settings.go: issue 15
		return s.b.NodeName(), true
	}
	if name == "is_superuser" { // rolsuper of the session's role: only cairn
		if c := s.b.Catalog(); c != nil && c.IsSuperuser(s.currentUser()) {
			return "on", true
		}
		return "off", true
	}
	if st, ok := settings[name]; ok {
		return st.def, true
	}
	if strings.Contains(name, ".") {
		return "", false
	}
	return "", false
}

// Settings implements pgwire.Session.
func (s *Session) Settings() map[string]string {
	m := map[string]string{}
	for name, st := range settings {
		if st.reported != "" {
			v, _ := s.get(name)
			m[st.reported] = v
		}
	}
	return m
}

// AbortTx implements pgwire.TxAborter: an error fails an open transaction.
func (s *Session) AbortTx() {
	if s.tx == txOpen {
		s.tx = txFailed
	}
}

// TxStatus implements pgwire.Session.
func (s *Session) TxStatus() byte { return s.tx }

// Close implements pgwire.Session.
func (s *Session) Close() {
	s.pending = nil
	s.closeProto()
}

// prepared is a planned statement.
type prepared struct {
	params []types.T
	cols   []pgwire.Column
	run    func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error)
	s      *Session
	txCtl  bool // BEGIN/COMMIT/ROLLBACK: manage tx state themselves
	// audit is the statement's audit kind ("": not audited); stmt and
	// text are what its audit events record (audit.go).
	audit string
	stmt  parser.Statement
	text  string
}

func (p *prepared) ParamTypes() []types.T    { return p.params }
func (p *prepared) Columns() []pgwire.Column { return p.cols }

func (p *prepared) Execute(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
	if p.s.tx == txFailed && !p.txCtl {
		return "", errInFailedTx()
	}
	if p.s.tx == txOpen && p.s.txReadOnly && !allowedInReadOnlyTx(p.stmt) { // readonly.go
		p.s.tx = txFailed
		return "", pgerr.ReadOnlyTransaction.New(stmtName(p.stmt))
	}
	p.s.w = w
	defer func() { p.s.w = nil }()
	timed := false
	if v, _ := p.s.get("statement_timeout"); v != "0" && v != "" {
		if d, err := parseDurationSetting(v); err == nil && d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
			timed = true
		}
	}
	tag, err := p.run(ctx, params, w)
	if err != nil && timed && errors.Is(ctx.Err(), context.DeadlineExceeded) && pgerr.Code(err) != pgerr.QueryCanceled {
		err = pgerr.StatementTimeout.New()
	}
	if err != nil && p.s.tx == txOpen {
		p.s.tx = txFailed
	}
	p.s.audit(ctx, p.audit, p.stmt, p.text, err)
	return tag, err
}

func errInFailedTx() error {
	return pgerr.TxAborted.New()
}

// Prepare implements pgwire.Session.
func (s *Session) Prepare(ctx context.Context, stmt parser.Statement, text string, paramOIDs []uint32) (pgwire.Stmt, error) {
	p, err := s.prepare(ctx, stmt, paramOIDs)
	if err != nil {
		if s.tx == txOpen {
			s.tx = txFailed
		}
		s.audit(ctx, auditKind(stmt), stmt, text, err)
		return nil, err
	}
	p.audit, p.stmt, p.text = auditKind(stmt), stmt, text
	if appliedAtOnce(stmt) {
		// DDL in a transaction block is applied when it runs (README).
		s.warnAppliedAtOnce(stmt, p)
	}
	p.s = s
	return p, nil
}

// paramTypes starts a statement's parameter types from the client's
// declared OIDs; constants are folded in the session's style.
func (s *Session) paramTypes(oids []uint32) *exec.ParamTypes {
	pt := &exec.ParamTypes{Style: s.style()}
	for _, oid := range oids {
		t, _ := types.FromOID(oid)
		pt.Types = append(pt.Types, t)
	}
	return pt
}

// prepareStmt prepares stmt; prepare (authz.go) wraps it with the
// privilege checks.
func (s *Session) prepareStmt(ctx context.Context, stmt parser.Statement, oids []uint32) (*prepared, error) {
	if err := s.qualifyNames(stmt); err != nil {
		return nil, err
	}
	switch stmt.(type) {
	case *parser.Rollback:
		return &prepared{txCtl: true, run: func(context.Context, []types.Datum, pgwire.ResultWriter) (string, error) {
			if s.tx == txIdle {
				return "ROLLBACK", nil // PostgreSQL warns; harmless
			}
			s.txEnded(false)
			s.tx, s.pending, s.order, s.pendingRows, s.deferred = txIdle, nil, nil, 0, nil
			return "ROLLBACK", nil
		}}, nil
	case *parser.Commit:
		return &prepared{txCtl: true, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
			switch s.tx {
			case txIdle:
				w.Notice("there is no transaction in progress")
				return "COMMIT", nil
			case txFailed:
				s.txEnded(false)
				s.tx, s.pending, s.order, s.pendingRows, s.deferred = txIdle, nil, nil, 0, nil
				return "ROLLBACK", nil
			}
			s.txEnded(true)
			pending, order, deferred := s.pending, s.order, s.deferred
			s.tx, s.pending, s.order, s.pendingRows, s.deferred = txIdle, nil, nil, 0, nil
			// Check every stream first, so a COMMIT that cannot succeed
			// appends nothing. Appends to several streams are not atomic
			// with each other (README).
			for _, name := range order {
				if err := s.b.CheckBatch(name, pending[name]); err != nil {
					return "", err
				}
			}
			for _, name := range order {
				b := pending[name]
				for start := 0; start < b.N; start += copyChunk {
					if err := s.insert(ctx, name, b.Slice(start, min(b.N, start+copyChunk))); err != nil {
						return "", err
					}
				}
			}
			if err := s.commitTableWrites(ctx, deferred); err != nil {
				return "", err
			}
			return "COMMIT", nil
		}}, nil
	}
	if s.tx == txFailed {
		return nil, errInFailedTx()
	}
	if p, ok, err := s.prepareTable(stmt, oids); ok {
		return p, err
	}
	switch st := stmt.(type) {
	case *parser.Empty:
		return &prepared{run: func(context.Context, []types.Datum, pgwire.ResultWriter) (string, error) { return "", nil }}, nil
	case *parser.Begin:
		return &prepared{run: func(_ context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
			if s.tx != txIdle {
				w.Notice("there is already a transaction in progress")
				return "BEGIN", nil
			}
			s.tx = txOpen
			s.txReadOnly = st.ReadOnly
			return "BEGIN", nil
		}}, nil
	case *parser.Select:
		return s.prepareSelect(st, oids)
	case *parser.Explain:
		return s.prepareExplain(st, oids)
	case *parser.Insert:
		return s.prepareInsert(st, oids)
	case *parser.Copy:
		return s.prepareCopy(st)
	}
	if p, ok, err := s.prepareProto(ctx, stmt, oids); ok {
		return p, err
	}
	if p, ok, err := s.prepareDiskStmt(stmt); ok { // disk.go
		return p, err
	}
	if p, ok, err := s.prepareAlertStmt(stmt); ok { // alert.go
		return p, err
	}
	switch st := stmt.(type) {
	case *parser.CreateSchema:
		return s.prepareCreateSchema(st)
	case *parser.DropSchema:
		return s.prepareDropSchema(st)
	case *parser.CreateStream:
		return s.prepareCreateStream(st)
	case *parser.CreateView:
		return s.prepareCreateView(st)
	case *parser.Drop:
		return s.prepareDrop(st)
	case *parser.Set:
		return s.prepareSet(st)
	case *parser.Reset:
		return s.prepareReset(st)
	case *parser.Show:
		return s.prepareShow(st)
	case *parser.ShowObjects:
		return s.prepareShowObjects(st)
	case *parser.AlterSystemSet:
		return s.prepareAlterSystem(st)
	case *parser.AlterNode:
		return s.prepareAlterNode(st)
	case *parser.AlterShard:
		return s.prepareAlterShard(st)
	case *parser.Failover:
		return s.prepareFailover(st)
	case *parser.FailoverRegion:
		return s.prepareFailoverRegion(st) // regions.go
	case *parser.Rebalance:
		return s.prepareRebalance(st)
	case *parser.CancelOperation:
		return s.prepareCancel(st)
	}
	if p, ok, err := s.prepareRoleStmt(stmt); ok { // roles.go
		return p, err
	}
	if p, ok, err := s.prepareBackupStmt(stmt); ok { // backup.go
		return p, err
	}
	return nil, pgerr.UnsupportedStmt.New(stmt)
}

// ---- SELECT ----

func (s *Session) execCtx(params []types.Datum) *exec.Ctx {
	return &exec.Ctx{
		Now:     time.Now().UTC(),
		Params:  params,
		Setting: s.get,
		Style:   s.styleOrDefault(),
		Version: fmt.Sprintf("PostgreSQL %s (Cairn %s) on x86_64-pc-linux-gnu, compiled by Go", ServerVersion, s.b.Version()),
		Catalog: s.pgCatalog(),
		Mem:     s.queryBudget(),
	}
}

func toPGColumns(cols []exec.Column) []pgwire.Column {
	out := make([]pgwire.Column, len(cols))
	for i, c := range cols {
		out[i] = pgwire.Column{Name: c.Name, T: c.T}
	}
	return out
}

func (s *Session) prepareSelect(sel *parser.Select, oids []uint32) (*prepared, error) {
	pt := s.paramTypes(oids)
	plan, err := exec.PlanSelect(sel, s.resolve, pt)
	if err != nil {
		return nil, err
	}
	return &prepared{params: pt.Types, cols: toPGColumns(plan.Columns()), run: func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
		n := 0
		err := plan.Run(ctx, s.execCtx(params), func(row []types.Datum) error {
			n++
			return w.Row(row)
		})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("SELECT %d", n), nil
	}}, nil
}

// ---- INSERT / COPY ----

// targetColumns maps a column list to stream column indexes.
func targetColumns(st *catalog.Stream, cols []string, pos int) ([]int, error) {
	return columnTargets(len(st.Cols), cols, pos, func(name string) int {
		for j, c := range st.Cols {
			if c.Name == name {
				return j
			}
		}
		return -1
	}, func(name string) *pgerr.Error { return pgerr.StreamColNotFound.New(name, st.Name) })
}

// columnTargets maps INSERT's or COPY's column list to the indexes of a
// relation's n columns (all of them, in order, when the list is empty):
// find gives a name's index (-1: none, reported with missing).
func columnTargets(n int, cols []string, pos int, find func(string) int, missing func(string) *pgerr.Error) ([]int, error) {
	if len(cols) == 0 {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	idx := make([]int, len(cols))
	seen := map[int]bool{}
	for i, name := range cols {
		j := find(name)
		if j < 0 {
			return nil, missing(name).WithPos(pos)
		}
		if seen[j] {
			return nil, pgerr.ColumnRepeated.New(name).WithPos(pos)
		}
		seen[j] = true
		idx[i] = j
	}
	return idx, nil
}

func (s *Session) stream(name string) (*catalog.Stream, error) {
	cat := s.b.Catalog()
	if st := cat.Streams[name]; st != nil {
		return st, nil
	}
	if cat.Views[name] != nil {
		return nil, pgerr.InsertIntoView.New(name).
			WithHint("Views are maintained from their stream; insert into the stream instead.")
	}
	// Its callers (INSERT, COPY FROM) looked for a table first: the name
	// is neither, and PostgreSQL calls it a relation.
	return nil, pgerr.RelationNotFound.New(name)
}

func (s *Session) prepareInsert(ins *parser.Insert, oids []uint32) (*prepared, error) {
	st, err := s.stream(ins.Table)
	if err != nil {
		return nil, pgerr.From(err).WithPos(ins.P)
	}
	idx, err := targetColumns(st, ins.Cols, ins.P)
	if err != nil {
		return nil, err
	}
	pt := s.paramTypes(oids)
	// $n written directly as a value takes its column's type.
	for _, row := range ins.Rows {
		for i, e := range row {
			if p, ok := e.(*parser.Param); ok && i < len(idx) {
				for len(pt.Types) < p.N {
					pt.Types = append(pt.Types, types.Unknown)
				}
				if pt.Types[p.N-1] == types.Unknown {
					pt.Types[p.N-1] = st.Cols[idx[i]].T
				}
			}
		}
	}
	if len(ins.Cols) == 0 && len(ins.Rows) > 0 && len(ins.Rows[0]) < len(idx) {
		// As in PostgreSQL: without a column list, fewer values fill the
		// first columns and the rest are NULL.
		idx = idx[:len(ins.Rows[0])]
	}
	exprs := make([][]*exec.Expr, len(ins.Rows))
	for r, row := range ins.Rows {
		if len(row) != len(idx) {
			if r > 0 && len(ins.Cols) == 0 {
				return nil, pgerr.ValuesLength.New().WithPos(row[0].Pos())
			}
			return nil, arityErr(len(row), len(idx), row, ins.P)
		}
		exprs[r] = make([]*exec.Expr, len(row))
		for i, e := range row {
			if _, ok := e.(*parser.DefaultValue); ok {
				continue // nil: a stream column's default, NULL
			}
			ce, err := exec.Compile(e, nil, pt)
			if err != nil {
				return nil, err
			}
			exprs[r][i] = ce
		}
	}
	colTypes := make([]types.T, len(st.Cols))
	for i, c := range st.Cols {
		colTypes[i] = c.T
	}
	return &prepared{params: pt.Types, run: func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
		ec := s.execCtx(params)
		b := types.NewBatch(colTypes)
		row := make([]types.Datum, len(colTypes))
		for r := range exprs {
			for i := range row {
				row[i] = types.NullOf(colTypes[i])
			}
			for i, ce := range exprs[r] {
				if ce == nil {
					continue
				}
				d, err := ce.EvalRow(ec, nil)
				if err != nil {
					return "", err
				}
				c := idx[i]
				if d, err = exec.CoerceStyle(d, colTypes[c], ec.Style); err != nil {
					return "", pgerr.From(err).WithPos(ins.Rows[r][i].Pos())
				}
				row[c] = d
			}
			b.AppendRow(row)
		}
		if err := s.insert(ctx, st.Name, b); err != nil {
			return "", err
		}
		return fmt.Sprintf("INSERT 0 %d", b.N), nil
	}}, nil
}

// insert appends b to a stream, or buffers it in an open transaction.
func (s *Session) insert(ctx context.Context, name string, b *types.Batch) error {
	if s.tx == txOpen {
		if s.pending == nil {
			s.pending = map[string]*types.Batch{}
		}
		p := s.pending[name]
		if p == nil {
			p = types.NewBatch(b.Types())
			s.pending[name] = p
			s.order = append(s.order, name)
		}
		p.AppendBatch(b)
		s.pendingRows += b.N
		if s.pendingRows > maxTxRows {
			return pgerr.TxTooManyEvents.New(maxTxRows, s.pendingRows).
				WithHint("COMMIT more often, or COPY outside a transaction block.")
		}
		return nil
	}
	targets, err := s.streamTargets(name)
	if err != nil {
		return err
	}
	lvl, _ := s.get("stream_insert_level")
	return s.b.Insert(ctx, name, b, InsertOptions{SyncViews: lvl == "sync_commit", Targets: targets})
}

// streamTargets resolves pipelinedb.stream_targets for an insert into
// stream: the ids of the named views, nil when unset (every view). Each
// name must be a view over that stream.
func (s *Session) streamTargets(stream string) ([]uint64, error) {
	v, _ := s.get("pipelinedb.stream_targets")
	if v == "" {
		return nil, nil
	}
	cat := s.b.Catalog()
	var ids []uint64
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		view := cat.Views[s.lookupKey(name)]
		if view == nil {
			return nil, pgerr.StreamTargetNotFound.New(name)
		}
		if view.Stream != stream && view.JoinStream != stream { // a join of two streams reads both
			return nil, pgerr.StreamTargetOtherStream.New(name, view.Stream, stream)
		}
		ids = append(ids, view.ID)
	}
	return ids, nil
}

func optString(o parser.Option) (string, bool) {
	switch v := o.Value.(type) {
	case *parser.Literal:
		return v.Val, true
	case *parser.ColumnRef:
		return v.Name, true
	case nil:
		return "", true
	}
	return "", false
}

func (s *Session) prepareCopy(c *parser.Copy) (*prepared, error) {
	st, err := s.stream(c.Table)
	if err != nil {
		return nil, pgerr.From(err).WithPos(c.P)
	}
	idx, err := targetColumns(st, c.Cols, c.P)
	if err != nil {
		return nil, err
	}
	opts, err := copyOptions(c.Options)
	if err != nil {
		return nil, err
	}
	colTypes := make([]types.T, len(st.Cols))
	for i, c := range st.Cols {
		colTypes[i] = c.T
	}
	inTypes := make([]types.T, len(idx))
	for i, c := range idx {
		inTypes[i] = colTypes[c]
	}
	full := len(idx) == len(st.Cols)
	for i, c := range idx {
		full = full && i == c
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		src, err := w.CopyIn(opts, inTypes)
		if err != nil {
			return "", err
		}
		return s.copyRows(ctx, st, src, inTypes, colTypes, idx, full)
	}}, nil
}

// copyChunk is how many rows one append proposal carries during COPY.
const copyChunk = 16384

// copyRows reads COPY data and appends it in chunks of copyChunk rows,
// keeping up to two appends in flight so decoding overlaps replication.
// A COPY is atomic only up to copyChunk rows: if it fails later, the
// chunks already appended stay, and the error's detail says how many.
func (s *Session) copyRows(ctx context.Context, st *catalog.Stream, src pgwire.CopySource, inTypes, colTypes []types.T, idx []int, full bool) (string, error) {
	const copyInflight = 2
	type chunk struct {
		rows int
		done chan error
	}
	var inflight []chunk
	appended := 0
	var failed error
	// reap collects finished appends; with block it waits for the oldest.
	reap := func(block bool) {
		for len(inflight) > 0 {
			c := inflight[0]
			var err error
			if block {
				err = <-c.done
			} else {
				select {
				case err = <-c.done:
				default:
					return
				}
			}
			inflight = inflight[1:]
			if err != nil && failed == nil {
				failed = err
			} else if err == nil {
				appended += c.rows
			}
			block = false
		}
	}
	fail := func(err error) (string, error) {
		for len(inflight) > 0 {
			reap(true)
		}
		e := pgerr.From(err)
		if appended > 0 {
			e = e.WithDetail("%d rows of this COPY were appended before the error, in chunks of %d.", appended, copyChunk)
		}
		return "", e
	}
	total := 0
	for {
		if reap(false); failed != nil {
			return fail(failed)
		}
		b := types.NewBatch(inTypes)
		n, err := src.Next(b, copyChunk)
		eof := err != nil && isEOF(err)
		if err != nil && !eof {
			return fail(err)
		}
		if n > 0 {
			total += n
			out := b
			if !full {
				out = widen(b, colTypes, idx)
			}
			if s.tx == txOpen {
				if err := s.insert(ctx, st.Name, out); err != nil {
					return fail(err)
				}
			} else {
				if len(inflight) == copyInflight {
					if reap(true); failed != nil {
						return fail(failed)
					}
				}
				c := chunk{rows: n, done: make(chan error, 1)}
				inflight = append(inflight, c)
				go func() {
					err := s.insert(ctx, st.Name, out)
					c.done <- err
				}()
			}
		}
		if eof {
			break
		}
	}
	for len(inflight) > 0 {
		reap(true)
	}
	if failed != nil {
		return fail(failed)
	}
	return fmt.Sprintf("COPY %d", total), nil
}

// widen maps a batch of some columns to a batch of all stream columns,
// the others NULL. Columns move; values are not copied.
func widen(b *types.Batch, colTypes []types.T, idx []int) *types.Batch {
	out := types.NewBatch(colTypes)
	out.N = b.N
	given := make([]bool, len(colTypes))
	for i, c := range idx {
		out.Cols[c] = b.Cols[i]
		given[c] = true
	}
	for c := range out.Cols {
		if !given[c] {
			for r := 0; r < b.N; r++ {
				out.Cols[c].AppendNull(r)
			}
		}
	}
	return out
}

// New returns a session for user on b. params are the startup
// parameters; the settings among them go through the same checks as SET
// (options=-c TimeZone=... and PGTZ/PGDATESTYLE included). An invalid or
// unknown one is reported by the returned error, which the caller sends
// as a FATAL error as PostgreSQL does; the session is usable anyway.
func New(b Backend, user string, params map[string]string) *Session {
	s, _ := NewChecked(b, user, params)
	return s
}

// NewChecked is New returning the first startup parameter that was
// refused, if any (the others are applied).
func NewChecked(b Backend, user string, params map[string]string) (*Session, error) {
	s := &Session{b: b, user: user, values: map[string]string{}, tx: txIdle, views: map[uint64]viewPlan{}}
	var first error
	if opts, ok := params["options"]; ok {
		// options '-c name=value --name=value' (PGOPTIONS) set settings too;
		// there an unknown name is an error, as in PostgreSQL.
		merged := map[string]string{}
		for k, v := range params {
			merged[k] = v
		}
		for _, kv := range startupOptions(opts) {
			name, v, _ := strings.Cut(kv, "=")
			lk := strings.ToLower(strings.ReplaceAll(name, "-", "_"))
			if _, known := settings[lk]; !known && first == nil {
				first = pgerr.UnknownParameter.New(name)
			}
			merged[lk] = v
		}
		params = merged
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		st, ok := settings[lk]
		switch {
		case startupFields[lk] || strings.HasPrefix(lk, "_pq_."):
			continue // startup fields and protocol options, not settings
		case !ok && strings.Contains(lk, "."):
			s.values[lk] = params[k] // a custom setting (a.b), as SET takes it
			continue
		case !ok:
			// PostgreSQL refuses an unknown startup parameter (FATAL
			// 42704); skipping it would let a client believe a setting
			// it sent (pgx passes load_balance_hosts on, for one) took
			// effect.
			if first == nil {
				first = pgerr.UnknownParameter.New(k)
			}
			continue
		case st.readOnly:
			continue // reported by the server, not set by a client
		}
		v := params[k]
		if st.check != nil {
			cur, _ := s.get(lk)
			nv, err := st.check(v, cur)
			if err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			v = nv
		}
		s.values[lk] = v
	}
	return s, first
}

// startupFields are startup packet keys that are not settings.
var startupFields = map[string]bool{"user": true, "database": true, "options": true, "replication": true}

// startupOptions splits a startup "options" value into name=value pairs:
// "-c a=b", "-ca=b" and "--a=b" forms, words separated by spaces, a
// backslash escaping the next character.
func startupOptions(opts string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(opts); i++ {
		c := opts[i]
		switch {
		case c == '\\' && i+1 < len(opts):
			i++
			cur.WriteByte(opts[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	var out []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-c" && i+1 < len(words):
			i++
			out = append(out, words[i])
		case strings.HasPrefix(w, "--"):
			out = append(out, w[2:])
		case strings.HasPrefix(w, "-c"):
			out = append(out, w[2:])
		}
	}
	return out
}
