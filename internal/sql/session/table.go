package session

import (
	"context"
	"fmt"
	"slices"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/tablesm"
	"github.com/cairndb/cairn/internal/types"
)

// TableBackend is what tables need from the node.
type TableBackend interface {
	// TableSource reads a table (linearizable: a ReadIndex barrier on
	// every shard read); point lookups by primary key read one shard.
	TableSource(t *catalog.Table) exec.KeyedSource
	// TableWrite applies one command per shard (by shard number) through
	// each shard's leader and returns the rows changed, once committed on
	// a majority. Each shard's command is atomic; the shards are not
	// atomic with each other.
	TableWrite(ctx context.Context, t *catalog.Table, cmds map[int]*tablesm.Command) (int, error)
}

// prepareTable prepares the statements about tables (ok false for others).
func (s *Session) prepareTable(stmt parser.Statement, oids []uint32) (p *prepared, ok bool, err error) {
	cat := s.b.Catalog()
	switch st := stmt.(type) {
	case *parser.CreateTable:
		p, err := s.prepareCreateTable(st)
		return p, true, err
	case *parser.AlterTable:
		p, err := s.prepareAlterTable(st)
		return p, true, err
	case *parser.Drop:
		if st.Kind != parser.ObjTable {
			return nil, false, nil
		}
		return s.prepareDropTable(st), true, nil
	case *parser.Truncate:
		p, err := s.prepareTruncate(st)
		return p, true, err
	case *parser.Update:
		p, err := s.prepareUpdate(st.Table, st.Alias, st.Set, st.Where, st.P, oids)
		return p, true, err
	case *parser.Delete:
		p, err := s.prepareUpdate(st.Table, st.Alias, nil, st.Where, st.P, oids)
		return p, true, err
	case *parser.Insert:
		if t := cat.Tables[st.Table]; t != nil {
			p, err := s.prepareTableInsert(t, st, oids)
			return p, true, err
		}
		if st.OnConflict != nil {
			if _, err := s.stream(st.Table); err != nil {
				return nil, true, pgerr.From(err).WithPos(st.P)
			}
			return nil, true, pgerr.OnConflictStream.New(st.Table).WithPos(st.OnConflict.P)
		}
		if st.Select != nil {
			p, err := s.prepareStreamInsertSelect(st, oids)
			return p, true, err
		}
	case *parser.Copy:
		if t := cat.Tables[st.Table]; t != nil {
			p, err := s.prepareTableCopy(t, st)
			return p, true, err
		}
	}
	return nil, false, nil
}

// table returns the table called name, or an error that says what the
// name is instead.
func (s *Session) table(name string, pos int) (*catalog.Table, error) {
	cat := s.b.Catalog()
	if t := cat.Tables[name]; t != nil {
		return t, nil
	}
	if kind := cat.Exists(name); kind != "" {
		return nil, pgerr.NotATable.New(name, kind).WithPos(pos)
	}
	// UPDATE, DELETE and TRUNCATE: PostgreSQL calls the name a relation.
	return nil, pgerr.RelationNotFound.New(name).WithPos(pos)
}

var tableOptions = []string{"shards", "replicas", "replication", "regions", "primary_region", "learners_per_region"}

// tableColumn checks one column definition and its default.
func tableColumn(c *parser.TableColumn) (catalog.Column, error) {
	t, ok := types.FromName(c.Type.Name)
	if !ok {
		return catalog.Column{}, pgerr.TypeNotFound.New(c.Type.Name).WithPos(c.Type.P)
	}
	if len(c.Type.Mods) > 0 {
		return catalog.Column{}, pgerr.TableTypmod.New(c.Name, c.Type.Name).WithPos(c.Type.P)
	}
	col := catalog.Column{Name: c.Name, T: t, NotNull: c.NotNull || c.PrimaryKey}
	if c.Default != nil {
		n, err := (&scalar.Compiler{NoAgg: "DEFAULT expressions"}).Compile(c.Default)
		if err != nil {
			return col, err
		}
		if _, isConst := n.Const(); !isConst {
			return col, pgerr.DefaultNotConstant.New(c.Name).WithPos(c.Default.Pos())
		}
		x, err := scalar.CompileAssign(c.Default, nil, t, nil)
		if err != nil {
			return col, err
		}
		d, err := x.EvalRow(&exec.Ctx{}, nil)
		if err != nil {
			return col, pgerr.From(err).WithPos(c.Default.Pos())
		}
		if !d.Null { // DEFAULT NULL is no default
			// Stored as a literal of the column's type, so every node
			// reads the same value.
			col.Default = parser.FormatExpr(&parser.Cast{X: &parser.Literal{Kind: parser.LitString, Val: string(types.AppendText(nil, d))}, Type: parser.TypeName{Name: c.Type.Name}})
		}
	}
	return col, nil
}

func (s *Session) prepareCreateTable(ct *parser.CreateTable) (*prepared, error) {
	cat := s.b.Catalog()
	t := &catalog.Table{Name: ct.Name, Shards: defaultShards(cat), Replication: defaultReplicas(cat), Owner: s.currentUser()}
	for i := range ct.Cols {
		c := &ct.Cols[i]
		if t.ColumnIndex(c.Name) >= 0 {
			return nil, pgerr.ColumnRepeated.New(c.Name).WithPos(c.P)
		}
		col, err := tableColumn(c)
		if err != nil {
			return nil, err
		}
		if c.PrimaryKey {
			if len(t.PrimaryKey) > 0 {
				return nil, pgerr.MultiplePrimaryKeys.New(ct.Name).WithPos(c.P)
			}
			t.PrimaryKey = []int{len(t.Columns)}
		}
		t.Columns = append(t.Columns, col)
	}
	if ct.PrimaryKey != nil {
		if len(t.PrimaryKey) > 0 {
			return nil, pgerr.MultiplePrimaryKeys.New(ct.Name).WithPos(ct.P)
		}
		for _, name := range ct.PrimaryKey {
			i := t.ColumnIndex(name)
			if i < 0 {
				return nil, pgerr.KeyColumnNotFound.New(name).WithPos(ct.P)
			}
			if slices.Contains(t.PrimaryKey, i) {
				return nil, pgerr.ColumnRepeated.New(name).WithPos(ct.P)
			}
			t.PrimaryKey = append(t.PrimaryKey, i)
			t.Columns[i].NotNull = true
		}
	}
	if len(t.Columns) == 0 || len(t.PrimaryKey) == 0 {
		return nil, pgerr.TableNoPrimaryKey.New(ct.Name).WithPos(ct.P)
	}
	if len(t.PrimaryKey) > MaxIndexKeys {
		return nil, pgerr.TooManyKeyColumns.New(MaxIndexKeys).WithPos(ct.P)
	}
	for _, k := range t.PrimaryKey {
		if kt := t.Columns[k].T; kt.IsFloat() || kt == types.Interval || kt.IsJSON() || kt.IsArray() {
			// Equal values would not have equal key encodings (or the
			// type has no equality the key could follow).
			return nil, pgerr.KeyColumnType.New(t.Columns[k].Name, kt).WithPos(ct.P)
		}
	}
	var rs regionSpec // regions.go
	for _, o := range ct.With {
		var err error
		switch o.Key {
		case "shards":
			t.Shards, err = optInt(o, 1, maxShards)
		case "replicas", "replication":
			rs.replicas = true
			if t.Replication, err = optInt(o, 1, 7); err == nil {
				err = checkReplicas(cat, t.Replication, o.P)
			}
		case "regions", "primary_region", "learners_per_region":
			err = rs.option(o)
		default:
			err = unknownOption(o, "table", tableOptions)
		}
		if err != nil {
			return nil, err
		}
	}
	if rs.set {
		if err := rs.check(cat); err != nil {
			return nil, err
		}
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		var err error
		if rs.set {
			t.Nodes, t.Regional, err = s.placeRegional("table "+t.Name, &rs, t.Shards, &t.Replication)
		} else {
			t.Nodes, err = s.b.Place(t.Shards, t.Replication)
		}
		if err != nil {
			return "", err
		}
		res, err := s.b.Propose(ctx, &catalog.CreateTable{Table: t, IfNotExists: ct.IfNotExists})
		if err != nil {
			return "", pgerr.From(err).WithPos(ct.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		s.b.Reconcile()
		if err := s.b.WaitGroups(ctx, res.Table.Groups); err != nil {
			return "", err
		}
		return "CREATE TABLE", nil
	}}, nil
}

func (s *Session) prepareAlterTable(at *parser.AlterTable) (*prepared, error) {
	cmd := &catalog.AlterTable{Name: at.Name, Drop: at.Drop, IfNotExists: at.AddIfNotExists, IfExists: at.DropIfExists}
	if at.Add != nil {
		col, err := tableColumn(at.Add)
		if err != nil {
			return nil, err
		}
		cmd.Add = &col
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		if at.IfExists && s.b.Catalog().Tables[at.Name] == nil && s.b.Catalog().Exists(at.Name) == "" {
			w.Notice(fmt.Sprintf("relation %q does not exist, skipping", at.Name))
			return "ALTER TABLE", nil
		}
		res, err := s.b.Propose(ctx, cmd)
		if err != nil {
			return "", pgerr.From(err).WithPos(at.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		return "ALTER TABLE", nil
	}}, nil
}

func (s *Session) prepareDropTable(d *parser.Drop) *prepared {
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		res, err := s.b.Propose(ctx, &catalog.DropTables{Names: d.Names, IfExists: d.IfExists, Cascade: d.Cascade})
		if err != nil {
			return "", pgerr.From(err).WithPos(d.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		if len(res.Dropped) > len(d.Names) {
			w.Notice(fmt.Sprintf("drop cascades to %d other objects", len(res.Dropped)-len(d.Names)))
		}
		s.b.Reconcile()
		return "DROP TABLE", nil
	}}
}

// prepareTruncate empties tables: one command per shard of each.
func (s *Session) prepareTruncate(tr *parser.Truncate) (*prepared, error) {
	var ts []*catalog.Table
	for _, name := range tr.Names {
		t, err := s.table(name, tr.P)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, _ pgwire.ResultWriter) (string, error) {
		for _, t := range ts {
			cmds := map[int]*tablesm.Command{}
			for i := range t.Groups {
				cmds[i] = &tablesm.Command{Op: tablesm.OpTruncate, Table: t.Name, Cols: t.Columns, Key: t.PrimaryKey}
			}
			if err := s.tableWrite(ctx, t, cmds, nil); err != nil {
				return "", err
			}
		}
		return "TRUNCATE TABLE", nil
	}}, nil
}

// tableWrite applies cmds to t now, or, inside a transaction block,
// checks them and defers them to COMMIT. n, if set, gets the rows
// changed (left as is when deferred).
func (s *Session) tableWrite(ctx context.Context, t *catalog.Table, cmds map[int]*tablesm.Command, n *int) error {
	if len(cmds) == 0 {
		return nil
	}
	for _, c := range cmds {
		size := 0
		for _, r := range c.Rows {
			size += len(r)
		}
		if size > maxTableCommand {
			return pgerr.TableWriteTooLarge.New(maxTableCommand>>20, t.Name)
		}
	}
	if s.tx == txOpen {
		s.deferred = append(s.deferred, deferredWrite{t: t, cmds: cmds})
		for _, c := range cmds {
			s.pendingRows += max(len(c.Rows), 1)
		}
		if s.pendingRows > maxTxRows {
			return pgerr.TxTooManyEvents.New(maxTxRows, s.pendingRows).
				WithHint("COMMIT more often, or COPY outside a transaction block.")
		}
		return nil
	}
	got, err := s.b.TableWrite(ctx, t, cmds)
	if n != nil {
		*n = got
	}
	return err
}

// maxTableCommand bounds the row bytes one statement sends to one shard
// (a Raft entry): a larger write would stall the shard's log.
const maxTableCommand = 32 << 20

// deferredWrite is a table statement of an open transaction block, run
// at COMMIT.
type deferredWrite struct {
	t    *catalog.Table
	cmds map[int]*tablesm.Command
}

// commitTableWrites runs a committed block's table statements in order;
// the first that fails ends it (the ones before it stay applied).
func (s *Session) commitTableWrites(ctx context.Context, ws []deferredWrite) error {
	for i, w := range ws {
		if _, err := s.b.TableWrite(ctx, w.t, w.cmds); err != nil {
			e := pgerr.From(err)
			if i > 0 {
				d := fmt.Sprintf("The block's %d table statements before this one were applied; the ones after it were not.", i)
				if e.Detail != "" {
					d = e.Detail + " " + d
				}
				e = e.WithDetail("%s", d)
			}
			return e
		}
	}
	return nil
}
