package parser

import (
	"strconv"
	"strings"
)

// Statements drivers send beyond plain queries: cursors (DECLARE, FETCH,
// MOVE, CLOSE), SQL-level prepared statements (PREPARE, EXECUTE,
// DEALLOCATE) and COPY ... TO STDOUT.

// Declare is `DECLARE name [BINARY] [NO SCROLL] CURSOR [WITH[OUT] HOLD]
// FOR query`.
type Declare struct {
	P      int
	Name   string
	Binary bool
	Hold   bool
	Query  Statement
}

// Fetch is `FETCH|MOVE [FORWARD] [n|ALL|NEXT] [FROM|IN] name`. Count is
// the rows to fetch (1 by default); All fetches the rest.
type Fetch struct {
	P     int
	Move  bool
	Name  string
	Count int64
	All   bool
}

// CloseCursor is `CLOSE name` or `CLOSE ALL`.
type CloseCursor struct {
	P    int
	Name string
	All  bool
}

// Prepare is `PREPARE name [(type, ...)] AS statement`.
type Prepare struct {
	P     int
	Name  string
	Types []TypeName
	Stmt  Statement
}

// Execute is `EXECUTE name [(arg, ...)]`.
type Execute struct {
	P    int
	Name string
	Args []Expr
}

// Deallocate is `DEALLOCATE [PREPARE] name` or `DEALLOCATE [PREPARE] ALL`.
type Deallocate struct {
	P    int
	Name string
	All  bool
}

// CopyTo is `COPY name [(cols)] TO STDOUT [[WITH] (options)]` or
// `COPY (query) TO STDOUT ...`: exactly one of Table and Query is set.
// Legacy option words are normalized into Options as for Copy.
type CopyTo struct {
	P       int
	Table   string
	Cols    []string
	Query   Statement
	Options []Option
}

func (*Declare) stmt()     {}
func (*Fetch) stmt()       {}
func (*CloseCursor) stmt() {}
func (*Prepare) stmt()     {}
func (*Execute) stmt()     {}
func (*Deallocate) stmt()  {}
func (*CopyTo) stmt()      {}

// parseProtoStatement parses the statements above; ok is false when the
// current word starts none of them.
func (p *parser) parseProtoStatement() (Statement, bool, error) {
	t := p.peek()
	var s Statement
	var err error
	switch t.val {
	case "declare":
		s, err = p.parseDeclare()
	case "fetch", "move":
		s, err = p.parseFetch()
	case "close":
		s, err = p.parseClose()
	case "prepare":
		s, err = p.parsePrepare()
	case "execute":
		s, err = p.parseExecute()
	case "deallocate":
		s, err = p.parseDeallocate()
	default:
		return nil, false, nil
	}
	return s, true, err
}

// parseInnerQuery parses the query of DECLARE, COPY (query) and PREPARE:
// any statement the grammar knows; the session decides whether it may
// stand there.
func (p *parser) parseInnerQuery() (Statement, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.parseStatement()
}

func (p *parser) parseDeclare() (Statement, error) {
	start := p.next()
	d := &Declare{P: start.pos}
	var err error
	if d.Name, err = p.name(); err != nil {
		return nil, err
	}
	for n := 0; n < 8; n++ {
		switch t := p.peek(); {
		case p.acceptKw("binary"):
			d.Binary = true
		case p.acceptKw("insensitive"), p.acceptKw("asensitive"):
		case p.acceptKws("no", "scroll"):
		case p.isKw("scroll"):
			return nil, p.unsupported(t, "SCROLL cursors are not supported").withHint("Cursors read forward only; declare it NO SCROLL.")
		default:
			n = 8
		}
	}
	if err := p.expectKw("cursor"); err != nil {
		return nil, err
	}
	switch {
	case p.acceptKws("with", "hold"):
		d.Hold = true
	case p.acceptKws("without", "hold"):
	}
	if err := p.expectKw("for"); err != nil {
		return nil, err
	}
	if d.Query, err = p.parseInnerQuery(); err != nil {
		return nil, err
	}
	return d, nil
}

func (p *parser) parseFetch() (Statement, error) {
	start := p.next()
	f := &Fetch{P: start.pos, Move: start.val == "move", Count: 1}
	backward := func(t token) error {
		return p.unsupported(t, "cursor can only scan forward").withHint("Cairn cursors are NO SCROLL: FETCH NEXT, FORWARD n or ALL.")
	}
	count := func() (bool, error) {
		t := p.peek()
		neg := false
		if isOpTok(t, "-") || isOpTok(t, "+") {
			if n := p.peekN(1); n.kind == tInt {
				neg = t.val == "-"
				p.i++
			}
		}
		n := p.peek()
		if n.kind != tInt {
			return false, nil
		}
		p.i++
		v, err := strconv.ParseInt(n.val, 10, 64)
		if err != nil {
			return false, p.syntaxErr(n)
		}
		if neg && v != 0 {
			return false, backward(t)
		}
		f.Count = v
		return true, nil
	}
	t := p.peek()
	switch {
	case p.acceptKw("next"):
	case p.acceptKw("all"):
		f.All = true
	case p.acceptKw("forward"):
		if p.acceptKw("all") {
			f.All = true
		} else if _, err := count(); err != nil {
			return nil, err
		}
	case p.isKw("prior"), p.isKw("first"), p.isKw("last"), p.isKw("backward"), p.isKw("absolute"), p.isKw("relative"):
		return nil, backward(t)
	default:
		if _, err := count(); err != nil {
			return nil, err
		}
	}
	_ = p.acceptKw("from") || p.acceptKw("in")
	var err error
	if f.Name, err = p.name(); err != nil {
		return nil, err
	}
	return f, nil
}

func (p *parser) parseClose() (Statement, error) {
	start := p.next()
	c := &CloseCursor{P: start.pos}
	if p.acceptKw("all") {
		c.All = true
		return c, nil
	}
	var err error
	c.Name, err = p.name()
	return c, err
}

func (p *parser) parsePrepare() (Statement, error) {
	start := p.next()
	if p.isKw("transaction") {
		return nil, p.unsupported(p.peek(), "PREPARE TRANSACTION is not supported")
	}
	pr := &Prepare{P: start.pos}
	var err error
	if pr.Name, err = p.name(); err != nil {
		return nil, err
	}
	if p.acceptOp("(") {
		for {
			tn, err := p.parseTypeName()
			if err != nil {
				return nil, err
			}
			pr.Types = append(pr.Types, tn)
			if !p.acceptOp(",") {
				break
			}
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	if err := p.expectKw("as"); err != nil {
		return nil, err
	}
	if pr.Stmt, err = p.parseInnerQuery(); err != nil {
		return nil, err
	}
	return pr, nil
}

func (p *parser) parseExecute() (Statement, error) {
	start := p.next()
	e := &Execute{P: start.pos}
	var err error
	if e.Name, err = p.name(); err != nil {
		return nil, err
	}
	if p.acceptOp("(") {
		for {
			x, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			e.Args = append(e.Args, x)
			if !p.acceptOp(",") {
				break
			}
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (p *parser) parseDeallocate() (Statement, error) {
	start := p.next()
	d := &Deallocate{P: start.pos}
	p.acceptKw("prepare")
	if p.acceptKw("all") {
		d.All = true
		return d, nil
	}
	var err error
	d.Name, err = p.name()
	return d, err
}

// parseCopyTo parses the rest of `COPY name [(cols)] TO ...` (table set)
// or `COPY (query) TO ...` (at the "(").
func (p *parser) parseCopyTo(start token, table string, cols []string) (Statement, error) {
	c := &CopyTo{P: start.pos, Table: table, Cols: cols}
	if table == "" {
		p.i++ // (
		var err error
		if c.Query, err = p.parseInnerQuery(); err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	if err := p.expectKw("to"); err != nil {
		return nil, err
	}
	if !p.acceptKw("stdout") {
		t := p.peek()
		if t.kind == tString || isKwTok(t, "program") {
			return nil, p.unsupported(t, "COPY TO a file or program is not supported; COPY supports only TO STDOUT").
				withHint("Use psql's \\copy ... TO 'file', which reads COPY TO STDOUT.")
		}
		return nil, p.syntaxErr(t)
	}
	hasWith := p.acceptKw("with")
	if p.isOp("(") {
		opts, err := p.parseCopyOptions()
		if err != nil {
			return nil, err
		}
		c.Options = opts
	} else {
		var legacy Copy
		if err := p.parseLegacyCopyOptions(&legacy); err != nil {
			return nil, err
		}
		if hasWith && len(legacy.Options) == 0 {
			return nil, p.syntaxErr(p.peek())
		}
		c.Options = legacy.Options
	}
	return c, nil
}

// withHint adds a hint to a parse error.
func (e *Error) withHint(h string) *Error {
	e.Hint = h
	return e
}

// formatProto formats the statements of this file; false if s is none.
func formatProto(b *strings.Builder, s Statement) bool {
	switch s := s.(type) {
	case *Declare:
		b.WriteString("DECLARE ")
		b.WriteString(QuoteIdent(s.Name))
		if s.Binary {
			b.WriteString(" BINARY")
		}
		b.WriteString(" NO SCROLL CURSOR")
		if s.Hold {
			b.WriteString(" WITH HOLD")
		}
		b.WriteString(" FOR ")
		formatStmt(b, s.Query)
	case *Fetch:
		if s.Move {
			b.WriteString("MOVE ")
		} else {
			b.WriteString("FETCH ")
		}
		if s.All {
			b.WriteString("FORWARD ALL")
		} else {
			b.WriteString("FORWARD " + strconv.FormatInt(s.Count, 10))
		}
		b.WriteString(" FROM ")
		b.WriteString(QuoteIdent(s.Name))
	case *CloseCursor:
		if s.All {
			b.WriteString("CLOSE ALL")
		} else {
			b.WriteString("CLOSE " + QuoteIdent(s.Name))
		}
	case *Prepare:
		b.WriteString("PREPARE ")
		b.WriteString(QuoteIdent(s.Name))
		if len(s.Types) > 0 {
			b.WriteString(" (")
			for i, t := range s.Types {
				if i > 0 {
					b.WriteString(", ")
				}
				formatType(b, t)
			}
			b.WriteByte(')')
		}
		b.WriteString(" AS ")
		formatStmt(b, s.Stmt)
	case *Execute:
		b.WriteString("EXECUTE ")
		b.WriteString(QuoteIdent(s.Name))
		if len(s.Args) > 0 {
			b.WriteString(" (")
			formatExprs(b, s.Args)
			b.WriteByte(')')
		}
	case *Deallocate:
		if s.All {
			b.WriteString("DEALLOCATE ALL")
		} else {
			b.WriteString("DEALLOCATE " + QuoteIdent(s.Name))
		}
	case *CopyTo:
		b.WriteString("COPY ")
		if s.Query != nil {
			b.WriteByte('(')
			formatStmt(b, s.Query)
			b.WriteByte(')')
		} else {
			b.WriteString(QuoteObject(s.Table))
			if len(s.Cols) > 0 {
				b.WriteString(" (")
				formatNames(b, s.Cols)
				b.WriteByte(')')
			}
		}
		b.WriteString(" TO STDOUT")
		if len(s.Options) > 0 {
			b.WriteString(" WITH ")
			formatOptions(b, s.Options, " ", true)
		}
	default:
		return false
	}
	return true
}
