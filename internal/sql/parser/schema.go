package parser

import (
	"strings"
)

// Schemas: CREATE SCHEMA and DROP SCHEMA, and schema-qualified object
// names. An object name in the AST (CreateStream.Name, Drop.Names,
// Insert.Table, ...) is the catalog's key: the bare name in schema
// public, "schema.name" in another schema. Names may therefore not hold
// a dot themselves.

// CreateSchema is `CREATE SCHEMA [IF NOT EXISTS] name`.
type CreateSchema struct {
	P           int
	Name        string
	IfNotExists bool
}

// DropSchema is `DROP SCHEMA [IF EXISTS] name [, ...] [CASCADE|RESTRICT]`.
type DropSchema struct {
	P        int
	Names    []string
	IfExists bool
	Cascade  bool
}

func (*CreateSchema) stmt() {}
func (*DropSchema) stmt()   {}

// QuoteObject quotes an object key (name or schema.name) for SQL.
func QuoteObject(key string) string {
	if s, n, ok := strings.Cut(key, "."); ok {
		return QuoteIdent(s) + "." + QuoteIdent(n)
	}
	return QuoteIdent(key)
}

// formatObjects writes object keys separated by commas.
func formatObjects(b *strings.Builder, keys []string) {
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteObject(k))
	}
}

// objectName parses the name of a stream or view: `name` or
// `schema.name`, returned as the catalog key (public.name is name).
func (p *parser) objectName() (string, error) {
	t := p.peek()
	n, err := p.name()
	if err != nil {
		return "", err
	}
	if strings.Contains(n, ".") {
		return "", p.unsupported(t, "names containing a dot are not supported")
	}
	if !p.isOp(".") {
		return n, nil
	}
	p.i++
	t = p.peek()
	obj, err := p.name()
	if err != nil {
		return "", err
	}
	if strings.Contains(obj, ".") {
		return "", p.unsupported(t, "names containing a dot are not supported")
	}
	if n == "public" {
		return obj, nil
	}
	return n + "." + obj, nil
}

// schemaName parses a schema name (no dot).
func (p *parser) schemaName() (string, error) {
	t := p.peek()
	n, err := p.name()
	if err == nil && strings.Contains(n, ".") {
		return "", p.unsupported(t, "names containing a dot are not supported")
	}
	return n, err
}

// parseCreateSchema parses the rest of CREATE SCHEMA; AUTHORIZATION
// (roles are not there yet) and schema elements are refused.
func (p *parser) parseCreateSchema(start token) (Statement, error) {
	cs := &CreateSchema{P: start.pos, IfNotExists: p.ifNotExists()}
	if p.isKw("authorization") {
		return nil, p.unsupported(p.peek(), "CREATE SCHEMA ... AUTHORIZATION is not supported")
	}
	var err error
	if cs.Name, err = p.schemaName(); err != nil {
		return nil, err
	}
	if p.isKw("authorization") {
		return nil, p.unsupported(p.peek(), "CREATE SCHEMA ... AUTHORIZATION is not supported")
	}
	if p.isKw("create") || p.isKw("grant") {
		return nil, p.unsupported(p.peek(), "schema elements in CREATE SCHEMA are not supported; create the objects as schema.name")
	}
	return cs, nil
}

// parseDropSchema parses the rest of DROP SCHEMA.
func (p *parser) parseDropSchema(start token) (Statement, error) {
	d := &DropSchema{P: start.pos, IfExists: p.acceptKws("if", "exists")}
	for {
		n, err := p.schemaName()
		if err != nil {
			return nil, err
		}
		d.Names = append(d.Names, n)
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKw("cascade") {
		d.Cascade = true
	} else {
		p.acceptKw("restrict")
	}
	return d, nil
}

func formatSchemaStmt(b *strings.Builder, s Statement) bool {
	switch s := s.(type) {
	case *CreateSchema:
		b.WriteString("CREATE SCHEMA ")
		if s.IfNotExists {
			b.WriteString("IF NOT EXISTS ")
		}
		b.WriteString(QuoteIdent(s.Name))
	case *DropSchema:
		b.WriteString("DROP SCHEMA ")
		if s.IfExists {
			b.WriteString("IF EXISTS ")
		}
		formatNames(b, s.Names)
		if s.Cascade {
			b.WriteString(" CASCADE")
		}
	default:
		return false
	}
	return true
}
