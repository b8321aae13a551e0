package catalog

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Table is a table: rows with a primary key, sharded by the hash of the
// key into Raft groups (one per shard) and replicated like a stream.
//
// Every column has an id (Column.ID) that the stored rows carry, so
// ALTER TABLE ADD/DROP COLUMN needs no rewrite of the rows: a row read
// back takes the values of the ids the table still has, and a column
// added later reads its default (or NULL) where the row lacks its id.
type Table struct {
	ID          uint64     `json:"id"`
	Name        string     `json:"name"`
	Columns     []Column   `json:"columns"`
	PrimaryKey  []int      `json:"primary_key"` // indexes into Columns, in key order
	Shards      int        `json:"shards"`
	Replication int        `json:"replication"`
	Nodes       [][]uint64 `json:"nodes"`  // per shard, the node ids holding a replica
	Groups      []uint64   `json:"groups"` // one Raft group per shard, by shard number
	// NextColumn is the id the next added column gets; ids are never reused.
	NextColumn uint32 `json:"next_column"`
	// Owner is the role that created the table ("": cairn).
	Owner string `json:"owner,omitempty"`
	// Regional: WITH (regions = …, primary_region = …) (regions.go); nil: none.
	Regional *Regional `json:"regional,omitempty"`
}

// ColumnIndex returns the index of column name, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// IsKey reports whether column i is part of the primary key.
func (t *Table) IsKey(i int) bool { return slices.Contains(t.PrimaryKey, i) }

// KeyNames returns the primary key's column names, in key order.
func (t *Table) KeyNames() []string {
	names := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		names[i] = t.Columns[k].Name
	}
	return names
}

// PKeyName is the name of the primary key constraint (PostgreSQL's
// default, "<table>_pkey").
func (t *Table) PKeyName() string { return t.Name + "_pkey" }

// SortedTables returns the tables by name.
func (c *Catalog) SortedTables() []*Table {
	ts := make([]*Table, 0, len(c.Tables))
	for _, t := range c.Tables {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	return ts
}

// ViewsOnTable returns the views that read table name (View.Tables),
// sorted by name.
func (c *Catalog) ViewsOnTable(name string) []*View {
	var vs []*View
	for _, v := range c.Views {
		if slices.Contains(v.Tables, name) {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	return vs
}

// ErrNoTable reports a missing table.
func ErrNoTable(name string) *pgerr.Error {
	return pgerr.TableNotFound.New(name)
}

// The table commands.
type (
	// CreateTable creates a table (its ID, Groups and column ids are
	// assigned here).
	CreateTable struct {
		Table       *Table
		IfNotExists bool
	}
	// DropTables drops tables; with Cascade, the views reading them too.
	DropTables struct {
		Names    []string
		IfExists bool
		Cascade  bool
	}
	// AlterTable adds (Add) or drops (Drop, a column name) one column.
	AlterTable struct {
		Name string  `json:"name"`
		Add  *Column `json:"add,omitempty"`
		Drop string  `json:"drop,omitempty"`
		// IfNotExists (ADD COLUMN IF NOT EXISTS) / IfExists (DROP
		// COLUMN IF EXISTS) turn the error into a notice.
		IfNotExists bool `json:"if_not_exists,omitempty"`
		IfExists    bool `json:"if_exists,omitempty"`
	}
)

// Wire tags of the table commands.
const (
	opCreateTable = "create_table"
	opDropTable   = "drop_table"
	opAlterTable  = "alter_table"
)

func (c *CreateTable) envelope() *envelope {
	return &envelope{Op: opCreateTable, Table: c.Table, IfNotExists: c.IfNotExists}
}

func (c *DropTables) envelope() *envelope {
	return &envelope{Op: opDropTable, Names: c.Names, IfExists: c.IfExists, Cascade: c.Cascade}
}

func (c *AlterTable) envelope() *envelope { return &envelope{Op: opAlterTable, Alter: c} }

// tableCommand decodes the table commands of e (ok false for other tags).
func (e *envelope) tableCommand() (cmd Command, err *pgerr.Error, ok bool) {
	switch e.Op {
	case opCreateTable:
		if e.Table == nil {
			return nil, pgerr.CatalogIncomplete.New(e.Op, "table"), true
		}
		return &CreateTable{Table: e.Table, IfNotExists: e.IfNotExists}, nil, true
	case opDropTable:
		return &DropTables{Names: e.Names, IfExists: e.IfExists, Cascade: e.Cascade}, nil, true
	case opAlterTable:
		if e.Alter == nil {
			return nil, pgerr.CatalogIncomplete.New(e.Op, "alter"), true
		}
		return e.Alter, nil, true
	}
	return nil, nil, false
}

func (cmd *CreateTable) apply(c *Catalog) *Result {
	t := cmd.Table
	if err := c.checkSchemaOf(t.Name); err != nil {
		return &Result{Err: err}
	}
	if kind := c.Exists(t.Name); kind != "" {
		if cmd.IfNotExists && kind == "table" {
			return &Result{Table: c.Tables[t.Name], Notice: fmt.Sprintf("relation %q already exists, skipping", t.Name)}
		}
		return &Result{Err: pgerr.RelationExists.New(t.Name, kind)}
	}
	if len(t.PrimaryKey) == 0 {
		return &Result{Err: pgerr.TableNoPrimaryKey.New(t.Name)}
	}
	for _, k := range t.PrimaryKey {
		if k < 0 || k >= len(t.Columns) {
			return &Result{Err: pgerr.CatalogIncomplete.New(opCreateTable, "primary key column")}
		}
		t.Columns[k].NotNull = true
	}
	t.ID = c.NextID
	c.NextID++
	for i := range t.Columns {
		t.Columns[i].ID = uint32(i + 1)
	}
	t.NextColumn = uint32(len(t.Columns) + 1)
	t.Shards = max(t.Shards, 1)
	t.Replication = max(t.Replication, 1)
	t.Groups = make([]uint64, t.Shards)
	for i := range t.Groups {
		t.Groups[i] = c.NextGroupID
		c.NextGroupID++
	}
	c.Tables[t.Name] = t
	return &Result{Table: t}
}

func (cmd *DropTables) apply(c *Catalog) *Result {
	res := &Result{}
	for _, name := range cmd.Names {
		if _, ok := c.Tables[name]; !ok {
			if err := c.dropMissing("table", name, cmd.IfExists, res); err != nil {
				return &Result{Err: err}
			}
			continue
		}
		deps := c.ViewsOnTable(name)
		if len(deps) > 0 && !cmd.Cascade {
			names := make([]string, len(deps))
			for i, v := range deps {
				names[i] = strconv.Quote(v.Name)
			}
			return &Result{Err: pgerr.ViewsDependOnTable.New(name, strings.Join(names, ", "))}
		}
		for _, v := range deps {
			// A view over the table and a stream; views over it go too.
			for _, o := range c.ViewsOver(v.Name) {
				c.forgetGroups(o.Groups)
				delete(c.Views, o.Name)
				res.Dropped = append(res.Dropped, o.Name)
			}
			c.forgetGroups(v.Groups)
			delete(c.Views, v.Name)
			res.Dropped = append(res.Dropped, v.Name)
		}
		c.forgetGroups(c.Tables[name].Groups)
		delete(c.Tables, name)
		res.Dropped = append(res.Dropped, name)
	}
	return res
}

func (cmd *AlterTable) apply(c *Catalog) *Result {
	t, ok := c.Tables[cmd.Name]
	if !ok {
		if other := c.Exists(cmd.Name); other != "" {
			return &Result{Err: pgerr.NotATable.New(cmd.Name, other)}
		}
		return &Result{Err: ErrNoTable(cmd.Name)}
	}
	switch {
	case cmd.Add != nil:
		col := *cmd.Add
		if t.ColumnIndex(col.Name) >= 0 {
			if cmd.IfNotExists {
				return &Result{Table: t, Notice: fmt.Sprintf("column %q of relation %q already exists, skipping", col.Name, t.Name)}
			}
			return &Result{Err: pgerr.ColumnExists.New(col.Name, t.Name)}
		}
		if col.NotNull && col.Default == "" {
			// Existing rows would read NULL in it.
			return &Result{Err: pgerr.AddNotNullNoDefault.New(col.Name, t.Name)}
		}
		col.ID = t.NextColumn
		t.NextColumn++
		t.Columns = append(t.Columns, col)
	case cmd.Drop != "":
		i := t.ColumnIndex(cmd.Drop)
		if i < 0 {
			if cmd.IfExists {
				return &Result{Table: t, Notice: fmt.Sprintf("column %q of relation %q does not exist, skipping", cmd.Drop, t.Name)}
			}
			return &Result{Err: pgerr.TableColumnNotFound.New(cmd.Drop, t.Name)}
		}
		if t.IsKey(i) {
			return &Result{Err: pgerr.DropKeyColumn.New(cmd.Drop, t.Name)}
		}
		if deps := c.ViewsOnTable(t.Name); len(deps) > 0 {
			return &Result{Err: pgerr.ViewsDependOnTable.New(t.Name, strconv.Quote(deps[0].Name))}
		}
		t.Columns = slices.Delete(t.Columns, i, i+1)
		for k, pk := range t.PrimaryKey {
			if pk > i {
				t.PrimaryKey[k] = pk - 1
			}
		}
	default:
		return &Result{Err: pgerr.CatalogIncomplete.New(opAlterTable, "add or drop")}
	}
	return &Result{Table: t}
}
