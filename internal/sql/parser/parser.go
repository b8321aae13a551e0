package parser

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// maxDepth bounds the depth of expression trees (nesting and operator
// chains alike) so hostile input cannot exhaust the stack here or in code
// that walks the tree (PostgreSQL: "stack depth limit exceeded").
const maxDepth = 4000

// Parse parses one or more semicolon-separated statements. texts[i] is the
// source text of stmts[i], from its first to its last token (no
// terminating semicolon, no surrounding comments). Empty statements
// (`;;`, comments only) are dropped, so an empty query string yields no
// statements and no error.
//
// Positions in the AST are 1-based character offsets into texts[i] (the
// statement's own text); positions in a returned *Error are offsets into
// sql as a whole, which is what the client that sent sql expects.
func Parse(sql string) (stmts []Statement, texts []string, err error) {
	toks, lerr := lex(sql)
	if lerr != nil {
		return nil, nil, lerr
	}
	p := &parser{src: sql, toks: toks}
	for {
		for p.isOp(";") {
			p.i++
		}
		if p.peek().kind == tEOF {
			return stmts, texts, nil
		}
		// A top-level ';' token always ends a statement (strings and
		// comments are already single tokens), so the statement's tokens
		// are known up front; rebase their positions on its first token.
		first, end := p.i, p.i
		for toks[end].kind != tEOF && !isOpTok(toks[end], ";") {
			end++
		}
		p.base = toks[first].pos - 1
		for k := first; k <= end; k++ {
			toks[k].pos -= p.base
		}
		s, perr := p.parseStatement()
		if perr != nil {
			return nil, nil, perr
		}
		if p.i != end {
			return nil, nil, p.syntaxErr(p.peek())
		}
		stmts = append(stmts, s)
		texts = append(texts, sql[toks[first].start:toks[end-1].end])
	}
}

// ParseOne parses exactly one statement (the extended query protocol's
// Parse message allows only one). Empty text gives (nil, nil).
func ParseOne(sql string) (Statement, error) {
	stmts, _, err := Parse(sql)
	if err != nil {
		return nil, err
	}
	switch len(stmts) {
	case 0:
		return nil, nil
	case 1:
		return stmts[0], nil
	}
	return nil, &Error{Code: pgerr.SyntaxError, Msg: "cannot insert multiple commands into a prepared statement"}
}

// ParseExpr parses a single scalar expression.
func ParseExpr(s string) (Expr, error) {
	toks, lerr := lex(s)
	if lerr != nil {
		return nil, lerr
	}
	p := &parser{src: s, toks: toks}
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.syntaxErr(t)
	}
	return e, nil
}

// SQLState returns the error's SQLSTATE (so pgerr.From keeps it).
func (e *Error) SQLState() string { return e.Code }

// PGError converts e into the client-facing error type, position included.
func (e *Error) PGError() *pgerr.Error {
	pe := pgerr.New(e.Code, "%s", e.Msg).WithPos(e.Pos)
	if e.Hint != "" {
		pe = pe.WithHint("%s", e.Hint)
	}
	return pe
}

type parser struct {
	src   string
	toks  []token // always ends with tEOF
	i     int
	depth int
	// base is the character offset of the current statement in src:
	// token positions are relative to the statement, errors add base back.
	base int
	// match[i] is the index of the ')' closing the '(' at toks[i] (-1 if
	// none); built on first use by closeOf.
	match []int32
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekN(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// isKw reports whether the current token is the unquoted word w.
func (p *parser) isKw(w string) bool { return isKwTok(p.peek(), w) }

func isKwTok(t token, w string) bool { return t.kind == tIdent && t.val == w }

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tOp && t.val == op
}

func (p *parser) acceptKw(w string) bool {
	if p.isKw(w) {
		p.i++
		return true
	}
	return false
}

// acceptKws accepts the sequence of words ws, all or nothing.
func (p *parser) acceptKws(ws ...string) bool {
	if !p.isKws(ws...) {
		return false
	}
	p.i += len(ws)
	return true
}

// isKws reports whether the words ws come next.
func (p *parser) isKws(ws ...string) bool {
	for k, w := range ws {
		if !isKwTok(p.peekN(k), w) {
			return false
		}
	}
	return true
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKw(w string) error {
	if !p.acceptKw(w) {
		return p.syntaxErr(p.peek())
	}
	return nil
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.syntaxErr(p.peek())
	}
	return nil
}

// syntaxErr is PostgreSQL's generic `syntax error at or near "tok"`.
func (p *parser) syntaxErr(t token) *Error {
	if t.kind == tEOF {
		return &Error{Pos: t.pos + p.base, Code: pgerr.SyntaxError, Msg: "syntax error at end of input"}
	}
	return &Error{Pos: t.pos + p.base, Code: pgerr.SyntaxError, Msg: fmt.Sprintf("syntax error at or near \"%s\"", p.src[t.start:t.end])}
}

func (p *parser) unsupported(t token, format string, args ...any) *Error {
	return &Error{Pos: t.pos + p.base, Code: pgerr.FeatureNotSupported, Msg: fmt.Sprintf(format, args...)}
}

// name parses an identifier usable as a column, table or option name:
// quoted, or unquoted and not reserved.
func (p *parser) name() (string, error) {
	t := p.peek()
	switch {
	case t.kind == tQIdent:
		p.i++
		return t.val, nil
	case t.kind == tIdent && !reservedWords[t.val]:
		p.i++
		return t.val, nil
	}
	return "", p.syntaxErr(t)
}

// anyWord parses any identifier, reserved or not (option keys, setting
// names).
func (p *parser) anyWord() (string, error) {
	t := p.peek()
	if t.kind == tQIdent || t.kind == tIdent {
		p.i++
		return t.val, nil
	}
	return "", p.syntaxErr(t)
}

// objectNameList parses `objectName [, objectName ...]`.
func (p *parser) objectNameList() ([]string, error) {
	var out []string
	for {
		n, err := p.objectName()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

// nameList parses `name [, name ...]`.
func (p *parser) nameList() ([]string, error) {
	var out []string
	for {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

// parenNames parses `(name, ...)`.
func (p *parser) parenNames() ([]string, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	ns, err := p.nameList()
	if err != nil {
		return nil, err
	}
	return ns, p.expectOp(")")
}

func (p *parser) parseStatement() (Statement, error) {
	t := p.peek()
	if s, ok, err := p.parseRoleStatement(); ok { // roles.go
		return s, err
	}
	if s, ok, err := p.parseDiskStatement(); ok { // disk.go
		return s, err
	}
	if s, ok, err := p.parseBackupStatement(); ok { // backup.go
		return s, err
	}
	if s, ok, err := p.parseAlertStatement(); ok { // alert.go
		return s, err
	}
	if t.kind != tIdent {
		if isOpTok(t, "(") {
			return p.parseQuery()
		}
		return nil, p.syntaxErr(t)
	}
	switch t.val {
	case "select", "with":
		return p.parseQuery()
	case "values":
		if isOpTok(p.peekN(1), "(") {
			return p.parseQuery()
		}
	case "explain":
		return p.parseExplain()
	case "create":
		return p.parseCreate()
	case "drop":
		return p.parseDrop()
	case "insert":
		return p.parseInsert()
	case "copy":
		return p.parseCopy()
	case "set":
		return p.parseSet()
	case "show":
		return p.parseShow()
	case "cancel":
		return p.parseCancel()
	case "reset":
		return p.parseReset()
	case "begin", "start":
		return p.parseBegin()
	case "commit", "end":
		p.i++
		_ = p.acceptKw("work") || p.acceptKw("transaction")
		if p.acceptKw("and") {
			if !p.acceptKws("no", "chain") {
				if p.isKw("chain") {
					return nil, p.unsupported(p.peek(), "COMMIT AND CHAIN is not supported")
				}
				return nil, p.syntaxErr(p.peek())
			}
		}
		return &Commit{P: t.pos}, nil
	case "rollback", "abort":
		p.i++
		_ = p.acceptKw("work") || p.acceptKw("transaction")
		if p.isKw("to") {
			return nil, p.unsupported(p.peek(), "savepoints are not supported")
		}
		if p.acceptKw("and") {
			if !p.acceptKws("no", "chain") {
				return nil, p.syntaxErr(p.peek())
			}
		}
		return &Rollback{P: t.pos}, nil
	case "alter":
		return p.parseAlter()
	case "update":
		return p.parseUpdate()
	case "delete":
		return p.parseDelete()
	case "truncate":
		return p.parseTruncate()
	}
	if s, ok, err := p.parseProtoStatement(); ok {
		return s, err
	}
	if unsupportedStatements[t.val] {
		return nil, p.unsupported(t, "statement %s is not supported", strings.ToUpper(t.val))
	}
	return nil, p.syntaxErr(t)
}

// ---- CREATE ----

func (p *parser) parseCreate() (Statement, error) {
	start := p.next()
	orReplace := p.acceptKws("or", "replace")
	switch {
	case !orReplace && p.acceptKw("schema"):
		return p.parseCreateSchema(start)
	case !orReplace && p.acceptKw("stream"):
		return p.parseCreateStream(start, false)
	case !orReplace && p.acceptKws("foreign", "table"):
		return p.parseCreateStream(start, true)
	case !orReplace && p.acceptKw("table"):
		return p.parseCreateTable(start)
	case p.acceptKws("materialized", "view"):
		return p.parseCreateView(start, ViewMaterialized, orReplace)
	case p.acceptKws("continuous", "view"):
		return p.parseCreateView(start, ViewContinuous, orReplace)
	case p.acceptKw("view"):
		return p.parseCreateView(start, ViewPlain, orReplace)
	}
	t := p.peek()
	if t.kind == tIdent && unsupportedObjects[t.val] {
		return nil, p.unsupported(start, "statement CREATE %s is not supported", strings.ToUpper(t.val))
	}
	return nil, p.syntaxErr(t)
}

func (p *parser) ifNotExists() bool { return p.acceptKws("if", "not", "exists") }

func (p *parser) parseCreateStream(start token, foreign bool) (Statement, error) {
	cs := &CreateStream{P: start.pos, Foreign: foreign}
	cs.IfNotExists = p.ifNotExists()
	var err error
	if cs.Name, err = p.objectName(); err != nil {
		return nil, err
	}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for {
		pos := p.peek().pos
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		tn, err := p.parseTypeName()
		if err != nil {
			return nil, err
		}
		// Column constraints are accepted by PostgreSQL but mean nothing
		// for an append-only stream.
		if t := p.peek(); isKwTok(t, "not") || isKwTok(t, "null") || isKwTok(t, "primary") || isKwTok(t, "default") {
			return nil, p.unsupported(t, "column constraints are not supported on streams")
		}
		cs.Cols = append(cs.Cols, ColumnDef{P: pos, Name: n, Type: tn})
		if !p.acceptOp(",") {
			break
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if foreign {
		if err := p.expectKw("server"); err != nil {
			return nil, err
		}
		if cs.Server, err = p.name(); err != nil {
			return nil, err
		}
		if p.acceptKw("options") {
			if cs.With, err = p.parseOptionList(true); err != nil {
				return nil, err
			}
		}
		return cs, nil
	}
	if p.acceptKw("with") {
		if cs.With, err = p.parseOptionList(false); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// parseOptionList parses `(key = value, ...)`; with optEq the `=` may be
// left out (`OPTIONS (key 'value')`, SQL/MED style).
func (p *parser) parseOptionList(optEq bool) ([]Option, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var opts []Option
	for {
		pos := p.peek().pos
		k, err := p.anyWord()
		if err != nil {
			return nil, err
		}
		if !p.acceptOp("=") && !optEq {
			return nil, p.syntaxErr(p.peek())
		}
		v, err := p.parseOptionValue()
		if err != nil {
			return nil, err
		}
		opts = append(opts, Option{P: pos, Key: k, Value: v})
		if !p.acceptOp(",") {
			break
		}
	}
	return opts, p.expectOp(")")
}

// parseOptionValue parses a literal (number, string, true/false, possibly
// signed) or a bare word (returned as a ColumnRef).
func (p *parser) parseOptionValue() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tString:
		p.i++
		return &Literal{P: t.pos, Kind: LitString, Val: t.val}, nil
	case tInt, tFloat:
		p.i++
		return numLit(t), nil
	case tIdent:
		p.i++
		if t.val == "true" || t.val == "false" {
			return &Literal{P: t.pos, Kind: LitBool, Val: t.val}, nil
		}
		return &ColumnRef{P: t.pos, Name: t.val}, nil
	case tQIdent:
		p.i++
		return &ColumnRef{P: t.pos, Name: t.val}, nil
	case tOp:
		if t.val == "-" || t.val == "+" {
			n := p.peekN(1)
			if n.kind == tInt || n.kind == tFloat {
				p.i += 2
				l := numLit(n)
				l.P = t.pos
				if t.val == "-" {
					l.Val = "-" + l.Val
				}
				return l, nil
			}
		}
	}
	return nil, p.syntaxErr(t)
}

func numLit(t token) *Literal {
	k := LitInt
	if t.kind == tFloat {
		k = LitFloat
	}
	return &Literal{P: t.pos, Kind: k, Val: t.val}
}

func (p *parser) parseCreateView(start token, kind ViewKind, orReplace bool) (Statement, error) {
	cv := &CreateView{P: start.pos, Kind: kind, OrReplace: orReplace}
	cv.IfNotExists = p.ifNotExists()
	var err error
	if cv.Name, err = p.objectName(); err != nil {
		return nil, err
	}
	if p.isOp("(") {
		return nil, p.unsupported(p.peek(), "view column lists are not supported; use aliases in the SELECT")
	}
	if p.acceptKw("with") {
		if cv.With, err = p.parseOptionList(false); err != nil {
			return nil, err
		}
	}
	if err := p.expectKw("as"); err != nil {
		return nil, err
	}
	if !p.isKw("select") {
		return nil, p.syntaxErr(p.peek())
	}
	first := p.i
	sel, err := p.parseSelect()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); isSetOpWord(t) {
		return nil, p.unsupported(t, "%s in a view is not supported", strings.ToUpper(t.val))
	}
	cv.Query = sel
	cv.QueryText = p.src[p.toks[first].start:p.toks[p.i-1].end]
	if p.acceptKw("settings") {
		for {
			pos := p.peek().pos
			k, err := p.anyWord()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp("="); err != nil {
				return nil, err
			}
			v, err := p.parseOptionValue()
			if err != nil {
				return nil, err
			}
			cv.Settings = append(cv.Settings, Option{P: pos, Key: k, Value: v})
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.isKw("with") && (isKwTok(p.peekN(1), "data") || isKwTok(p.peekN(1), "no")) {
		if p.acceptKws("with", "data") {
			return cv, nil
		}
		return nil, p.unsupported(p.peek(), "WITH NO DATA is not supported")
	}
	return cv, nil
}

// ---- types ----

// parseTypeName parses a type: a word, the multiword SQL types, and
// optional (n[, m]) modifiers.
func (p *parser) parseTypeName() (TypeName, error) {
	t := p.peek()
	if t.kind != tIdent && t.kind != tQIdent {
		return TypeName{}, p.syntaxErr(t)
	}
	p.i++
	if t.val == "pg_catalog" && isOpTok(p.peek(), ".") {
		// pg_catalog.text: every type lives in pg_catalog.
		p.i++
		if t = p.peek(); t.kind != tIdent && t.kind != tQIdent {
			return TypeName{}, p.syntaxErr(t)
		}
		p.i++
	}
	tn := TypeName{P: t.pos, Name: t.val}
	if t.kind == tIdent {
		switch t.val {
		case "double":
			if err := p.expectKw("precision"); err != nil {
				return tn, err
			}
			tn.Name = "double precision"
		case "character", "char", "national":
			if t.val == "national" {
				if !p.acceptKw("character") && !p.acceptKw("char") {
					return tn, p.syntaxErr(p.peek())
				}
				tn.Name = "character"
			}
			if p.acceptKw("varying") {
				tn.Name = "character varying"
			}
		case "timestamp", "time":
			// Modifiers come before the zone clause: timestamp(3) with time zone.
			if err := p.typeMods(&tn); err != nil {
				return tn, err
			}
			if p.acceptKws("with", "time", "zone") {
				tn.Name += " with time zone"
			} else if p.acceptKws("without", "time", "zone") {
				tn.Name += " without time zone"
			}
			return tn, p.arrayBounds(&tn)
		case "interval":
			if t := p.peek(); t.kind == tIdent && intervalUnits[t.val] {
				return tn, p.unsupported(t, "interval field qualifiers are not supported")
			}
		}
	}
	if err := p.typeMods(&tn); err != nil {
		return tn, err
	}
	return tn, p.arrayBounds(&tn)
}

// arrayBounds reads `[]` or `[n]` after a type name (any number, as
// PostgreSQL ignores them): the type becomes an array, Name + "[]".
func (p *parser) arrayBounds(tn *TypeName) error {
	for p.isOp("[") {
		p.i++
		if t := p.peek(); t.kind == tInt {
			p.i++
		}
		if err := p.expectOp("]"); err != nil {
			return err
		}
		if !strings.HasSuffix(tn.Name, "[]") {
			tn.Name += "[]"
		}
	}
	return nil
}

func (p *parser) typeMods(tn *TypeName) error {
	if !p.isOp("(") {
		return nil
	}
	p.i++
	for {
		t := p.peek()
		if t.kind != tInt {
			return p.syntaxErr(t)
		}
		n, err := strconv.Atoi(t.val)
		if err != nil || n > 1<<30 {
			return &Error{Pos: t.pos + p.base, Code: pgerr.InvalidParameterValue, Msg: fmt.Sprintf("type modifier %s is out of range", t.val)}
		}
		p.i++
		tn.Mods = append(tn.Mods, n)
		if !p.acceptOp(",") {
			break
		}
	}
	return p.expectOp(")")
}

var intervalUnits = setOf("year", "month", "day", "hour", "minute", "second")

// ---- DROP ----

func (p *parser) parseDrop() (Statement, error) {
	start := p.next()
	if p.acceptKw("schema") {
		return p.parseDropSchema(start)
	}
	d := &Drop{P: start.pos}
	switch {
	case p.acceptKw("stream"), p.acceptKws("foreign", "table"):
		d.Kind = ObjStream
	case p.acceptKws("materialized", "view"), p.acceptKws("continuous", "view"), p.acceptKw("view"):
		d.Kind = ObjView
	case p.acceptKw("table"):
		d.Kind = ObjTable
	default:
		t := p.peek()
		if t.kind == tIdent && unsupportedObjects[t.val] {
			return nil, p.unsupported(start, "statement DROP %s is not supported", strings.ToUpper(t.val))
		}
		return nil, p.syntaxErr(t)
	}
	d.IfExists = p.acceptKws("if", "exists")
	var err error
	if d.Names, err = p.objectNameList(); err != nil {
		return nil, err
	}
	if p.acceptKw("cascade") {
		d.Cascade = true
	} else {
		p.acceptKw("restrict")
	}
	return d, nil
}

// ---- INSERT ----

func (p *parser) parseInsert() (Statement, error) {
	start := p.next()
	if err := p.expectKw("into"); err != nil {
		return nil, err
	}
	ins := &Insert{P: start.pos}
	var err error
	if ins.Table, err = p.objectName(); err != nil {
		return nil, err
	}
	if p.isKw("as") {
		return nil, p.unsupported(p.peek(), "INSERT target aliases are not supported")
	}
	if p.isOp("(") {
		if ins.Cols, err = p.parenNames(); err != nil {
			return nil, err
		}
	}
	switch {
	case p.isKw("select"):
		if ins.Select, err = p.parseSelect(); err != nil {
			return nil, err
		}
		return ins, p.insertTail(ins)
	case p.isKw("default"):
		p.next()
		if err := p.expectKw("values"); err != nil {
			return nil, err
		}
		ins.Rows = [][]Expr{{}}
		return ins, p.insertTail(ins)
	}
	if err := p.expectKw("values"); err != nil {
		return nil, err
	}
	for {
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var row []Expr
		for {
			e, err := p.insertValue()
			if err != nil {
				return nil, err
			}
			row = append(row, e)
			if !p.acceptOp(",") {
				break
			}
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		ins.Rows = append(ins.Rows, row)
		if !p.acceptOp(",") {
			break
		}
	}
	return ins, p.insertTail(ins)
}

// insertTail parses INSERT's ON CONFLICT and refuses RETURNING.
func (p *parser) insertTail(ins *Insert) error {
	if t := p.peek(); isKwTok(t, "on") {
		p.i++
		oc, err := p.parseOnConflict(t.pos)
		if err != nil {
			return err
		}
		ins.OnConflict = oc
	}
	if t := p.peek(); isKwTok(t, "returning") {
		return p.unsupported(t, "INSERT ... RETURNING is not supported")
	}
	return nil
}

// ---- COPY ----

var copyOptionNames = setOf("format", "delimiter", "null", "header", "quote", "escape",
	"encoding", "freeze", "force_quote", "force_not_null", "force_null", "default")

func (p *parser) parseCopy() (Statement, error) {
	start := p.next()
	c := &Copy{P: start.pos}
	if p.isOp("(") {
		return p.parseCopyTo(start, "", nil)
	}
	legacyBinary := p.acceptKw("binary")
	var err error
	if c.Table, err = p.objectName(); err != nil {
		return nil, err
	}
	if p.isOp("(") {
		if c.Cols, err = p.parenNames(); err != nil {
			return nil, err
		}
	}
	if p.isKw("to") {
		st, err := p.parseCopyTo(start, c.Table, c.Cols)
		if ct, ok := st.(*CopyTo); ok && legacyBinary {
			ct.Options = append([]Option{{P: start.pos, Key: "format", Value: &ColumnRef{P: start.pos, Name: "binary"}}}, ct.Options...)
		}
		return st, err
	}
	if err := p.expectKw("from"); err != nil {
		return nil, err
	}
	if !p.acceptKw("stdin") {
		t := p.peek()
		if t.kind == tString || isKwTok(t, "program") || isKwTok(t, "stdout") {
			return nil, p.unsupported(t, "COPY FROM a file or program is not supported; COPY supports only FROM STDIN")
		}
		return nil, p.syntaxErr(t)
	}
	if legacyBinary {
		c.Options = append(c.Options, Option{P: start.pos, Key: "format", Value: &ColumnRef{P: start.pos, Name: "binary"}})
	}
	hasWith := p.acceptKw("with")
	if p.isOp("(") {
		opts, err := p.parseCopyOptions()
		if err != nil {
			return nil, err
		}
		c.Options = append(c.Options, opts...)
	} else if err := p.parseLegacyCopyOptions(c); err != nil {
		return nil, err
	} else if hasWith && len(c.Options) == 0 {
		return nil, p.syntaxErr(p.peek())
	}
	if t := p.peek(); isKwTok(t, "where") {
		return nil, p.unsupported(t, "COPY ... WHERE is not supported")
	}
	return c, nil
}

// parseCopyOptions parses the modern `(name [value], ...)` list.
func (p *parser) parseCopyOptions() ([]Option, error) {
	p.i++ // (
	var opts []Option
	for {
		t := p.peek()
		k, err := p.anyWord()
		if err != nil {
			return nil, err
		}
		if !copyOptionNames[k] {
			return nil, &Error{Pos: t.pos + p.base, Code: pgerr.SyntaxError, Msg: fmt.Sprintf("option \"%s\" not recognized", k)}
		}
		o := Option{P: t.pos, Key: k}
		if !p.isOp(",") && !p.isOp(")") {
			if p.isOp("(") {
				return nil, p.unsupported(p.peek(), "COPY option %s with a column list is not supported", strings.ToUpper(k))
			}
			if p.isOp("*") {
				return nil, p.unsupported(p.peek(), "COPY option %s is not supported", strings.ToUpper(k))
			}
			if o.Value, err = p.parseOptionValue(); err != nil {
				return nil, err
			}
		}
		opts = append(opts, o)
		if !p.acceptOp(",") {
			break
		}
	}
	return opts, p.expectOp(")")
}

// parseLegacyCopyOptions parses the pre-9.0 option words: BINARY, CSV,
// HEADER, DELIMITER [AS] 'x', NULL [AS] 'x', QUOTE [AS] 'x', ESCAPE [AS] 'x'.
func (p *parser) parseLegacyCopyOptions(c *Copy) error {
	for n := 0; n < 32; n++ {
		t := p.peek()
		if t.kind != tIdent {
			return nil
		}
		switch t.val {
		case "binary", "csv", "text":
			p.i++
			c.Options = append(c.Options, Option{P: t.pos, Key: "format", Value: &ColumnRef{P: t.pos, Name: t.val}})
		case "header":
			p.i++
			c.Options = append(c.Options, Option{P: t.pos, Key: "header", Value: &Literal{P: t.pos, Kind: LitBool, Val: "true"}})
		case "delimiter", "null", "quote", "escape", "encoding":
			p.i++
			p.acceptKw("as")
			v := p.peek()
			if v.kind != tString {
				return p.syntaxErr(v)
			}
			p.i++
			c.Options = append(c.Options, Option{P: t.pos, Key: t.val, Value: &Literal{P: v.pos, Kind: LitString, Val: v.val}})
		case "force":
			return p.unsupported(t, "COPY FORCE options are not supported")
		default:
			return nil
		}
	}
	return nil
}

// ---- SET / SHOW / RESET / transactions / ALTER SYSTEM ----

// settingName parses a possibly dotted setting name (`cairn.read_policy`).
func (p *parser) settingName() (string, error) {
	n, err := p.anyWord()
	if err != nil {
		return "", err
	}
	for p.isOp(".") {
		p.i++
		m, err := p.anyWord()
		if err != nil {
			return "", err
		}
		n += "." + m
	}
	return n, nil
}

// settingValue parses one SET value: a word, string or signed number.
// Words are lower-cased (as PostgreSQL does), strings keep their text.
func (p *parser) settingValue() (string, error) {
	t := p.peek()
	switch t.kind {
	case tIdent, tQIdent, tString, tInt, tFloat:
		p.i++
		return t.val, nil
	case tOp:
		if t.val == "-" || t.val == "+" {
			if n := p.peekN(1); n.kind == tInt || n.kind == tFloat {
				p.i += 2
				if t.val == "-" {
					return "-" + n.val, nil
				}
				return n.val, nil
			}
		}
	}
	return "", p.syntaxErr(t)
}

func (p *parser) parseSet() (Statement, error) {
	start := p.next()
	s := &Set{P: start.pos}
	if p.acceptKw("local") {
		s.Local = true
	} else if p.acceptKw("session") {
		if p.acceptKws("characteristics", "as", "transaction") {
			s.Name = "default_transaction_isolation"
			return p.setTransactionModes(s)
		}
	}
	switch {
	case p.acceptKws("time", "zone"):
		s.Name = "timezone"
		if p.acceptKw("local") || p.acceptKw("default") {
			s.Default = true
			return s, nil
		}
		if p.isKw("interval") {
			return nil, p.unsupported(p.peek(), "SET TIME ZONE INTERVAL is not supported")
		}
		v, err := p.settingValue()
		if err != nil {
			return nil, err
		}
		s.Values = []string{v}
		return s, nil
	case p.acceptKw("names"):
		s.Name = "client_encoding"
	case p.acceptKw("schema"):
		s.Name = "search_path"
	case p.acceptKw("transaction"):
		if p.isKw("snapshot") {
			return nil, p.unsupported(p.peek(), "SET TRANSACTION SNAPSHOT is not supported")
		}
		s.Name = "transaction_isolation"
		return p.setTransactionModes(s)
	default:
		n, err := p.settingName()
		if err != nil {
			return nil, err
		}
		s.Name = n
		if !p.acceptKw("to") && !p.acceptOp("=") {
			return nil, p.syntaxErr(p.peek())
		}
	}
	if p.acceptKw("default") {
		s.Default = true
		return s, nil
	}
	for {
		v, err := p.settingValue()
		if err != nil {
			return nil, err
		}
		s.Values = append(s.Values, v)
		if !p.acceptOp(",") {
			return s, nil
		}
	}
}

// setTransactionModes handles SET TRANSACTION / SET SESSION
// CHARACTERISTICS AS TRANSACTION: the isolation level becomes the value
// of s's setting; READ ONLY / READ WRITE alone sets
// transaction_read_only (or default_transaction_read_only for the
// session form). Both at once are refused: one SET names one setting.
// [NOT] DEFERRABLE changes nothing in Cairn (no transaction waits for a
// safe snapshot) and is accepted.
func (p *parser) setTransactionModes(s *Set) (Statement, error) {
	at := p.peek()
	lvl, ro, err := p.transactionModes()
	if err != nil {
		return nil, err
	}
	switch {
	case lvl != "" && ro != 0:
		return nil, p.unsupported(at, "set the isolation level and READ ONLY / READ WRITE in two SET TRANSACTION statements")
	case ro != 0:
		if s.Name == "transaction_isolation" {
			s.Name = "transaction_read_only"
		} else {
			s.Name = "default_transaction_read_only"
		}
		s.Values = []string{map[int]string{1: "on", 2: "off"}[ro]}
	case lvl == "":
		return nil, p.unsupported(p.peek(), "SET TRANSACTION takes ISOLATION LEVEL …, READ ONLY or READ WRITE")
	default:
		s.Values = []string{lvl}
	}
	return s, nil
}

// transactionModes parses [ISOLATION LEVEL x] [READ ONLY|WRITE]
// [[NOT] DEFERRABLE] in any order, optionally comma-separated, and returns
// the isolation level ("" when not given) and the access mode: 0 not
// given, 1 READ ONLY, 2 READ WRITE.
func (p *parser) transactionModes() (string, int, error) {
	lvl, ro := "", 0
	for n := 0; n < 16; n++ {
		switch {
		case p.acceptKws("isolation", "level"):
			switch {
			case p.acceptKw("serializable"):
				lvl = "serializable"
			case p.acceptKws("repeatable", "read"):
				lvl = "repeatable read"
			case p.acceptKws("read", "committed"):
				lvl = "read committed"
			case p.acceptKws("read", "uncommitted"):
				lvl = "read uncommitted"
			default:
				return "", 0, p.syntaxErr(p.peek())
			}
		case p.acceptKws("read", "only"):
			ro = 1
		case p.acceptKws("read", "write"):
			ro = 2
		case p.acceptKw("deferrable"), p.acceptKws("not", "deferrable"):
		default:
			return lvl, ro, nil
		}
		p.acceptOp(",")
	}
	return lvl, ro, nil
}

func (p *parser) parseShow() (Statement, error) {
	start := p.next()
	switch {
	case p.acceptKws("time", "zone"):
		return &Show{P: start.pos, Name: "timezone"}, nil
	case p.acceptKws("transaction", "isolation", "level"):
		return &Show{P: start.pos, Name: "transaction_isolation"}, nil
	case p.acceptKws("session", "authorization"):
		return &Show{P: start.pos, Name: "session_authorization"}, nil
	case p.acceptKw("all"):
		return &Show{P: start.pos, Name: "all"}, nil
	case p.acceptKws("materialized", "views"):
		return &ShowObjects{P: start.pos, Kind: "views"}, nil
	}
	if t := p.peek(); t.kind == tIdent && showObjectKinds[t.val] && !isOpTok(p.peekN(1), ".") {
		p.i++
		return &ShowObjects{P: start.pos, Kind: t.val}, nil
	}
	n, err := p.settingName()
	if err != nil {
		return nil, err
	}
	return &Show{P: start.pos, Name: n}, nil
}

var showObjectKinds = setOf("streams", "views", "nodes", "shards", "operations", "tables")

func isOpTok(t token, op string) bool { return t.kind == tOp && t.val == op }

func (p *parser) parseReset() (Statement, error) {
	start := p.next()
	if p.acceptKw("all") {
		return &Reset{P: start.pos, Name: "all", All: true}, nil
	}
	if p.acceptKws("time", "zone") {
		return &Reset{P: start.pos, Name: "timezone"}, nil
	}
	n, err := p.settingName()
	if err != nil {
		return nil, err
	}
	return &Reset{P: start.pos, Name: n}, nil
}

func (p *parser) parseBegin() (Statement, error) {
	start := p.next()
	if start.val == "start" {
		if err := p.expectKw("transaction"); err != nil {
			return nil, err
		}
	} else {
		_ = p.acceptKw("work") || p.acceptKw("transaction")
	}
	_, ro, err := p.transactionModes()
	if err != nil {
		return nil, err
	}
	return &Begin{P: start.pos, ReadOnly: ro == 1}, nil
}

func (p *parser) parseAlter() (Statement, error) {
	start := p.next()
	switch {
	case p.acceptKw("node"):
		return p.parseAlterNode(start)
	case p.acceptKw("shard"):
		return p.parseAlterShard(start)
	case p.acceptKw("table"):
		return p.parseAlterTable(start)
	}
	if !p.acceptKw("system") {
		t := p.peek()
		if t.kind == tIdent {
			return nil, p.unsupported(start, "statement ALTER %s is not supported", strings.ToUpper(t.val))
		}
		return nil, p.syntaxErr(t)
	}
	a := &AlterSystemSet{P: start.pos}
	switch {
	case p.acceptKw("set"):
		n, err := p.settingName()
		if err != nil {
			return nil, err
		}
		a.Name = n
		if !p.acceptKw("to") && !p.acceptOp("=") {
			return nil, p.syntaxErr(p.peek())
		}
		if p.acceptKw("default") {
			a.Reset = true
			return a, nil
		}
		var vals []string
		for {
			v, err := p.settingValue()
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			if !p.acceptOp(",") {
				break
			}
		}
		a.Value = strings.Join(vals, ", ")
		return a, nil
	case p.acceptKw("failover"):
		if p.acceptKw("region") {
			return p.parseFailoverRegion(start.pos) // regions.go
		}
		if err := p.expectKw("to"); err != nil {
			return nil, err
		}
		n, err := p.nodeName()
		if err != nil {
			return nil, err
		}
		return &Failover{P: start.pos, Node: n}, nil
	case p.acceptKw("rebalance"):
		return &Rebalance{P: start.pos}, nil
	case p.acceptKw("reset"):
		if p.acceptKw("all") {
			a.Name, a.Reset = "all", true
			return a, nil
		}
		n, err := p.settingName()
		if err != nil {
			return nil, err
		}
		a.Name, a.Reset = n, true
		return a, nil
	}
	t := p.peek()
	if t.kind == tIdent {
		return nil, p.unsupported(start, "statement ALTER SYSTEM %s is not supported", strings.ToUpper(t.val))
	}
	return nil, p.syntaxErr(t)
}

// nodeName parses a node id written as a string or a bare word.
func (p *parser) nodeName() (string, error) {
	t := p.peek()
	switch t.kind {
	case tString, tQIdent, tIdent:
		p.i++
		return t.val, nil
	}
	return "", p.syntaxErr(t)
}

var nodeActions = setOf("offline", "online", "recover", "drain", "decommission", "remove")

func (p *parser) parseAlterNode(start token) (Statement, error) {
	n, err := p.nodeName()
	if err != nil {
		return nil, err
	}
	if p.acceptKw("set") {
		return p.parseNodeSetWeight(start, n) // weight.go
	}
	t := p.peek()
	if t.kind != tIdent || !nodeActions[t.val] {
		return nil, p.syntaxErr(t)
	}
	p.i++
	return &AlterNode{P: start.pos, Node: n, Action: t.val}, nil
}

func (p *parser) parseAlterShard(start token) (Statement, error) {
	t := p.peek()
	if t.kind != tInt {
		return nil, p.syntaxErr(t)
	}
	id, err := strconv.ParseInt(t.val, 10, 64)
	if err != nil {
		return nil, &Error{Pos: t.pos + p.base, Code: pgerr.NumericOutOfRange, Msg: fmt.Sprintf("shard id %s is out of range", t.val)}
	}
	p.i++
	a := &AlterShard{P: start.pos, Shard: id}
	switch {
	case p.acceptKws("transfer", "leader", "to"):
		a.Action = "transfer_leader"
	case p.acceptKws("recover", "replica", "on"):
		a.Action = "recover_replica"
	case p.acceptKws("force", "recover"):
		a.Action = "force_recover"
		if p.acceptKw("confirm") {
			if !p.acceptKws("data", "loss") {
				return nil, p.syntaxErr(p.peek())
			}
			a.Confirm = true
		}
		return a, nil
	default:
		return nil, p.syntaxErr(p.peek())
	}
	n, err := p.nodeName()
	if err != nil {
		return nil, err
	}
	a.Node = n
	return a, nil
}

// parseCancel parses `CANCEL OPERATION n`.
func (p *parser) parseCancel() (Statement, error) {
	start := p.next()
	if err := p.expectKw("operation"); err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tInt {
		return nil, p.syntaxErr(t)
	}
	id, err := strconv.ParseInt(t.val, 10, 64)
	if err != nil {
		return nil, &Error{Pos: t.pos + p.base, Code: pgerr.NumericOutOfRange, Msg: fmt.Sprintf("operation id %s is out of range", t.val)}
	}
	p.i++
	return &CancelOperation{P: start.pos, ID: id}, nil
}
