package parser

// ---- tables (issue 11) ----

// ObjTable is the kind of DROP TABLE. It has a value of its own, apart
// from the iota list in ast.go, so other object kinds can be added there.
const ObjTable ObjectKind = 16

// TableColumn is one column of CREATE TABLE or ALTER TABLE ADD COLUMN.
// Default is nil when not written.
type TableColumn struct {
	ColumnDef
	NotNull    bool
	PrimaryKey bool // a column constraint PRIMARY KEY
	Default    Expr
}

// CreateTable is `CREATE TABLE [IF NOT EXISTS] name (col type
// [constraints], ..., [PRIMARY KEY (a, b)]) [WITH (...)]`. PrimaryKey
// holds the names of a table constraint PRIMARY KEY (...); a column's
// PRIMARY KEY is on the column.
type CreateTable struct {
	P           int
	Name        string
	IfNotExists bool
	Cols        []TableColumn
	PrimaryKey  []string
	With        []Option
}

// AlterTable is `ALTER TABLE [IF EXISTS] name ADD [COLUMN] [IF NOT
// EXISTS] col type [DEFAULT c] [NOT NULL]` (Add set) or `... DROP
// [COLUMN] [IF EXISTS] col` (Drop set).
type AlterTable struct {
	P              int
	Name           string
	IfExists       bool
	Add            *TableColumn
	AddIfNotExists bool
	Drop           string
	DropIfExists   bool
}

// Truncate is `TRUNCATE [TABLE] name [, ...]`.
type Truncate struct {
	P     int
	Names []string
}

// SetClause is one `col = expr` of UPDATE ... SET or ON CONFLICT DO
// UPDATE SET.
type SetClause struct {
	P    int
	Col  string
	Expr Expr
}

// OnConflict is INSERT's `ON CONFLICT [(cols)] DO NOTHING | DO UPDATE
// SET ... [WHERE ...]` (Update nil for DO NOTHING).
type OnConflict struct {
	P       int
	Target  []string
	Update  []SetClause
	Where   Expr
	Nothing bool
}

// Update is `UPDATE name [[AS] alias] SET col = expr, ... [WHERE expr]`.
type Update struct {
	P     int
	Table string
	Alias string
	Set   []SetClause
	Where Expr
}

// Delete is `DELETE FROM name [[AS] alias] [WHERE expr]`.
type Delete struct {
	P     int
	Table string
	Alias string
	Where Expr
}

func (*CreateTable) stmt() {}
func (*AlterTable) stmt()  {}
func (*Truncate) stmt()    {}
func (*Update) stmt()      {}
func (*Delete) stmt()      {}
