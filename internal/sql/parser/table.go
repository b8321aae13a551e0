package parser

import "strings"

// Parsing of tables and their DML (issue 11): CREATE/ALTER TABLE,
// TRUNCATE, UPDATE, DELETE and INSERT's ON CONFLICT.

// parseCreateTable parses what follows CREATE TABLE.
func (p *parser) parseCreateTable(start token) (Statement, error) {
	ct := &CreateTable{P: start.pos}
	ct.IfNotExists = p.ifNotExists()
	var err error
	if ct.Name, err = p.objectName(); err != nil {
		return nil, err
	}
	if p.isKws("partition", "of") || p.isKw("of") {
		return nil, p.unsupported(p.peek(), "typed and partitioned tables are not supported")
	}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case isKwTok(t, "primary"):
			p.i++
			if err := p.expectKw("key"); err != nil {
				return nil, err
			}
			if ct.PrimaryKey != nil {
				return nil, pgerrAt(p, t, "42P16", "multiple primary keys for table %q are not allowed", ct.Name)
			}
			if ct.PrimaryKey, err = p.parenNames(); err != nil {
				return nil, err
			}
		case isKwTok(t, "constraint"), isKwTok(t, "unique"), isKwTok(t, "check"), isKwTok(t, "foreign"), isKwTok(t, "exclude"), isKwTok(t, "like"):
			return nil, p.unsupported(t, "table constraint %s is not supported; a table has only its PRIMARY KEY", strings.ToUpper(t.val))
		default:
			col, err := p.parseTableColumn()
			if err != nil {
				return nil, err
			}
			ct.Cols = append(ct.Cols, *col)
		}
		if !p.acceptOp(",") {
			break
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if t := p.peek(); isKwTok(t, "inherits") || isKwTok(t, "partition") || isKwTok(t, "using") || isKwTok(t, "tablespace") || isKwTok(t, "on") {
		return nil, p.unsupported(t, "CREATE TABLE ... %s is not supported", strings.ToUpper(t.val))
	}
	if p.acceptKw("with") {
		if ct.With, err = p.parseOptionList(false); err != nil {
			return nil, err
		}
	}
	return ct, nil
}

// parseTableColumn parses `name type [constraints]`.
func (p *parser) parseTableColumn() (*TableColumn, error) {
	pos := p.peek().pos
	n, err := p.name()
	if err != nil {
		return nil, err
	}
	tn, err := p.parseTypeName()
	if err != nil {
		return nil, err
	}
	c := &TableColumn{ColumnDef: ColumnDef{P: pos, Name: n, Type: tn}}
	for {
		t := p.peek()
		switch {
		case p.acceptKws("not", "null"):
			c.NotNull = true
		case p.acceptKw("null"):
			if c.NotNull {
				return nil, pgerrAt(p, t, "42601", "conflicting NULL/NOT NULL declarations for column %q", n)
			}
		case p.acceptKws("primary", "key"):
			c.PrimaryKey = true
		case p.acceptKw("default"):
			if c.Default != nil {
				return nil, pgerrAt(p, t, "42601", "multiple default values specified for column %q", n)
			}
			// b_expr in PostgreSQL: no comparison without parentheses;
			// the planner checks that it is a constant.
			if c.Default, err = p.parseExpr(); err != nil {
				return nil, err
			}
		case isKwTok(t, "constraint"), isKwTok(t, "unique"), isKwTok(t, "check"), isKwTok(t, "references"),
			isKwTok(t, "generated"), isKwTok(t, "collate"), isKwTok(t, "deferrable"):
			return nil, p.unsupported(t, "column constraint %s is not supported; columns take NOT NULL, DEFAULT and PRIMARY KEY", strings.ToUpper(t.val))
		default:
			return c, nil
		}
	}
}

// pgerrAt is an error with a given SQLSTATE at token t.
func pgerrAt(p *parser, t token, code, format string, args ...any) *Error {
	e := p.unsupported(t, format, args...)
	e.Code = code
	return e
}

// parseAlterTable parses what follows ALTER TABLE.
func (p *parser) parseAlterTable(start token) (Statement, error) {
	at := &AlterTable{P: start.pos}
	at.IfExists = p.acceptKws("if", "exists")
	p.acceptKw("only")
	var err error
	if at.Name, err = p.objectName(); err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case p.acceptKw("add"):
		p.acceptKw("column")
		at.AddIfNotExists = p.ifNotExists()
		if c := p.peek(); isKwTok(c, "constraint") || isKwTok(c, "primary") || isKwTok(c, "unique") || isKwTok(c, "check") || isKwTok(c, "foreign") {
			return nil, p.unsupported(c, "ALTER TABLE ... ADD %s is not supported", strings.ToUpper(c.val))
		}
		if at.Add, err = p.parseTableColumn(); err != nil {
			return nil, err
		}
		if at.Add.PrimaryKey {
			return nil, p.unsupported(t, "ALTER TABLE cannot add a primary key column; a table's key is fixed when it is created")
		}
	case p.acceptKw("drop"):
		if c := p.peek(); isKwTok(c, "constraint") {
			return nil, p.unsupported(c, "ALTER TABLE ... DROP CONSTRAINT is not supported")
		}
		p.acceptKw("column")
		at.DropIfExists = p.acceptKws("if", "exists")
		if at.Drop, err = p.name(); err != nil {
			return nil, err
		}
		if c := p.peek(); isKwTok(c, "cascade") {
			return nil, p.unsupported(c, "DROP COLUMN ... CASCADE is not supported")
		}
		p.acceptKw("restrict")
	default:
		if t.kind == tIdent {
			return nil, p.unsupported(t, "ALTER TABLE ... %s is not supported; ALTER TABLE takes ADD COLUMN or DROP COLUMN", strings.ToUpper(t.val))
		}
		return nil, p.syntaxErr(t)
	}
	if p.isOp(",") {
		return nil, p.unsupported(p.peek(), "one ALTER TABLE action at a time is supported")
	}
	return at, nil
}

// parseTruncate parses `TRUNCATE [TABLE] [ONLY] name [, ...]
// [CONTINUE IDENTITY] [RESTRICT]`.
func (p *parser) parseTruncate() (Statement, error) {
	start := p.next()
	p.acceptKw("table")
	p.acceptKw("only")
	tr := &Truncate{P: start.pos}
	var err error
	if tr.Names, err = p.objectNameList(); err != nil {
		return nil, err
	}
	if p.acceptKws("continue", "identity") {
	} else if t := p.peek(); isKwTok(t, "restart") {
		return nil, p.unsupported(t, "TRUNCATE ... RESTART IDENTITY is not supported: tables have no sequences")
	}
	if t := p.peek(); isKwTok(t, "cascade") {
		return nil, p.unsupported(t, "TRUNCATE ... CASCADE is not supported: tables have no foreign keys")
	}
	p.acceptKw("restrict")
	return tr, nil
}

// parseSetClauses parses `col = expr [, ...]` after SET.
func (p *parser) parseSetClauses() ([]SetClause, error) {
	var out []SetClause
	for {
		t := p.peek()
		if isOpTok(t, "(") {
			return nil, p.unsupported(t, "multiple-column SET (a, b) = (...) is not supported; write a = ..., b = ...")
		}
		col, err := p.name()
		if err != nil {
			return nil, err
		}
		if p.isOp(".") || p.isOp("[") {
			return nil, p.unsupported(p.peek(), "SET of a field or element of a column is not supported")
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		if d := p.peek(); isKwTok(d, "default") {
			return nil, p.unsupported(d, "SET col = DEFAULT is not supported; write the value")
		}
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		out = append(out, SetClause{P: t.pos, Col: col, Expr: e})
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

// refuseReturning refuses RETURNING (and a join list) after DML.
func (p *parser) refuseDMLTail(what string) error {
	t := p.peek()
	switch {
	case isKwTok(t, "returning"):
		return p.unsupported(t, "%s ... RETURNING is not supported", what)
	case isKwTok(t, "from"), isKwTok(t, "using"):
		return p.unsupported(t, "%s ... %s is not supported", what, strings.ToUpper(t.val))
	}
	return nil
}

// parseUpdate parses `UPDATE [ONLY] name [[AS] alias] SET ... [WHERE ...]`.
func (p *parser) parseUpdate() (Statement, error) {
	start := p.next()
	p.acceptKw("only")
	u := &Update{P: start.pos}
	var err error
	if u.Table, err = p.objectName(); err != nil {
		return nil, err
	}
	if !p.isKw("set") { // `UPDATE t SET` never reads SET as an alias, as in PostgreSQL
		if u.Alias, err = p.alias(); err != nil {
			return nil, err
		}
	}
	if err := p.expectKw("set"); err != nil {
		return nil, err
	}
	if u.Set, err = p.parseSetClauses(); err != nil {
		return nil, err
	}
	if err := p.refuseDMLTail("UPDATE"); err != nil {
		return nil, err
	}
	if p.acceptKw("where") {
		if t := p.peek(); isKwTok(t, "current") {
			return nil, p.unsupported(t, "WHERE CURRENT OF is not supported")
		}
		if u.Where, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	if err := p.refuseDMLTail("UPDATE"); err != nil {
		return nil, err
	}
	return u, nil
}

// parseDelete parses `DELETE FROM [ONLY] name [[AS] alias] [WHERE ...]`.
func (p *parser) parseDelete() (Statement, error) {
	start := p.next()
	if err := p.expectKw("from"); err != nil {
		return nil, err
	}
	p.acceptKw("only")
	d := &Delete{P: start.pos}
	var err error
	if d.Table, err = p.objectName(); err != nil {
		return nil, err
	}
	if d.Alias, err = p.alias(); err != nil {
		return nil, err
	}
	if err := p.refuseDMLTail("DELETE"); err != nil {
		return nil, err
	}
	if p.acceptKw("where") {
		if t := p.peek(); isKwTok(t, "current") {
			return nil, p.unsupported(t, "WHERE CURRENT OF is not supported")
		}
		if d.Where, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	if err := p.refuseDMLTail("DELETE"); err != nil {
		return nil, err
	}
	return d, nil
}

// parseOnConflict parses INSERT's `ON CONFLICT ...` (ON already seen).
func (p *parser) parseOnConflict(pos int) (*OnConflict, error) {
	if err := p.expectKw("conflict"); err != nil {
		return nil, err
	}
	oc := &OnConflict{P: pos}
	var err error
	if t := p.peek(); isKwTok(t, "on") {
		return nil, p.unsupported(t, "ON CONFLICT ON CONSTRAINT is not supported; name the key columns: ON CONFLICT (id)")
	}
	if p.isOp("(") {
		if oc.Target, err = p.parenNames(); err != nil {
			return nil, err
		}
		if t := p.peek(); isKwTok(t, "where") {
			return nil, p.unsupported(t, "ON CONFLICT (...) WHERE is not supported")
		}
	}
	if err := p.expectKw("do"); err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case p.acceptKw("nothing"):
		oc.Nothing = true
	case p.acceptKw("update"):
		if len(oc.Target) == 0 {
			return nil, pgerrAt(p, t, "42601", "ON CONFLICT DO UPDATE requires inference specification or constraint name")
		}
		if err := p.expectKw("set"); err != nil {
			return nil, err
		}
		if oc.Update, err = p.parseSetClauses(); err != nil {
			return nil, err
		}
		if p.acceptKw("where") {
			if oc.Where, err = p.parseExpr(); err != nil {
				return nil, err
			}
		}
	default:
		return nil, p.syntaxErr(t)
	}
	if t := p.peek(); isKwTok(t, "returning") {
		return nil, p.unsupported(t, "INSERT ... RETURNING is not supported")
	}
	return oc, nil
}

// formatTableStmt prints the statements of this file (ok false for others).
func formatTableStmt(b *strings.Builder, s Statement) bool {
	switch s := s.(type) {
	case *CreateTable:
		b.WriteString("CREATE TABLE ")
		if s.IfNotExists {
			b.WriteString("IF NOT EXISTS ")
		}
		b.WriteString(QuoteObject(s.Name))
		b.WriteString(" (")
		for i, c := range s.Cols {
			if i > 0 {
				b.WriteString(", ")
			}
			formatTableColumn(b, &c)
		}
		if s.PrimaryKey != nil {
			b.WriteString(", PRIMARY KEY (")
			formatNames(b, s.PrimaryKey)
			b.WriteByte(')')
		}
		b.WriteByte(')')
		if len(s.With) > 0 {
			b.WriteString(" WITH ")
			formatOptions(b, s.With, " = ", true)
		}
	case *AlterTable:
		b.WriteString("ALTER TABLE ")
		if s.IfExists {
			b.WriteString("IF EXISTS ")
		}
		b.WriteString(QuoteObject(s.Name))
		if s.Add != nil {
			b.WriteString(" ADD COLUMN ")
			if s.AddIfNotExists {
				b.WriteString("IF NOT EXISTS ")
			}
			formatTableColumn(b, s.Add)
		} else {
			b.WriteString(" DROP COLUMN ")
			if s.DropIfExists {
				b.WriteString("IF EXISTS ")
			}
			b.WriteString(QuoteIdent(s.Drop))
		}
	case *Truncate:
		b.WriteString("TRUNCATE TABLE ")
		formatObjects(b, s.Names)
	case *Update:
		b.WriteString("UPDATE ")
		b.WriteString(QuoteObject(s.Table))
		if s.Alias != "" {
			b.WriteString(" AS ")
			b.WriteString(QuoteIdent(s.Alias))
		}
		b.WriteString(" SET ")
		formatSetClauses(b, s.Set)
		if s.Where != nil {
			b.WriteString(" WHERE ")
			formatExpr(b, s.Where)
		}
	case *Delete:
		b.WriteString("DELETE FROM ")
		b.WriteString(QuoteObject(s.Table))
		if s.Alias != "" {
			b.WriteString(" AS ")
			b.WriteString(QuoteIdent(s.Alias))
		}
		if s.Where != nil {
			b.WriteString(" WHERE ")
			formatExpr(b, s.Where)
		}
	default:
		return false
	}
	return true
}

func formatTableColumn(b *strings.Builder, c *TableColumn) {
	b.WriteString(QuoteIdent(c.Name))
	b.WriteByte(' ')
	formatType(b, c.Type)
	if c.NotNull {
		b.WriteString(" NOT NULL")
	}
	if c.Default != nil {
		b.WriteString(" DEFAULT ")
		formatExpr(b, c.Default)
	}
	if c.PrimaryKey {
		b.WriteString(" PRIMARY KEY")
	}
}

func formatSetClauses(b *strings.Builder, set []SetClause) {
	for i, sc := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(sc.Col))
		b.WriteString(" = ")
		formatExpr(b, sc.Expr)
	}
}

// formatOnConflict prints INSERT's ON CONFLICT clause.
func formatOnConflict(b *strings.Builder, oc *OnConflict) {
	b.WriteString(" ON CONFLICT")
	if len(oc.Target) > 0 {
		b.WriteString(" (")
		formatNames(b, oc.Target)
		b.WriteByte(')')
	}
	if oc.Nothing {
		b.WriteString(" DO NOTHING")
		return
	}
	b.WriteString(" DO UPDATE SET ")
	formatSetClauses(b, oc.Update)
	if oc.Where != nil {
		b.WriteString(" WHERE ")
		formatExpr(b, oc.Where)
	}
}
