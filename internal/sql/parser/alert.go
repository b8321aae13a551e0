package parser

import (
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Alerts (issue 15): CREATE ALERT (also ALTER SYSTEM CREATE ALERT), DROP
// ALERT and SHOW ALERTS. The parser reads the condition's parts (a dotted
// metric, an operator, a literal and its kind); which metrics exist and
// what each accepts is internal/alert's check, which the session runs.

// Kinds of CreateAlert.ValueKind.
const (
	AlertNumber   = "number"
	AlertString   = "string"
	AlertBool     = "bool"
	AlertInterval = "interval"
)

// CreateAlert is `CREATE ALERT [IF NOT EXISTS] name WHEN metric op value
// NOTIFY 'target'`; System: written as ALTER SYSTEM CREATE ALERT.
type CreateAlert struct {
	P           int
	Name        string
	IfNotExists bool
	System      bool
	Metric      string // dotted, lower-case: node.state
	Op          string
	Value       string // the literal's text (a string's content, an interval's text)
	ValueKind   string
	Target      string
}

// DropAlert is `DROP ALERT [IF EXISTS] name [, ...]`.
type DropAlert struct {
	P        int
	Names    []string
	IfExists bool
}

func (*CreateAlert) stmt() {}
func (*DropAlert) stmt()   {}

// AuditKind makes the alert statements audit events of kind "sql".
func (*CreateAlert) AuditKind() string { return "sql" }

// AuditKind: see CreateAlert.AuditKind.
func (*DropAlert) AuditKind() string { return "sql" }

// parseAlertStatement parses the alert statements; ok is false for any
// other. SHOW ALERTS is a ShowObjects of kind "alerts".
func (p *parser) parseAlertStatement() (Statement, bool, error) {
	switch {
	case p.isKws("create", "alert"):
		start := p.next()
		p.next()
		s, err := p.parseCreateAlert(start, false)
		return s, true, err
	case p.isKws("alter", "system", "create", "alert"):
		start := p.next()
		p.i += 3
		s, err := p.parseCreateAlert(start, true)
		return s, true, err
	case p.isKws("drop", "alert"):
		start := p.next()
		p.next()
		d := &DropAlert{P: start.pos, IfExists: p.acceptKws("if", "exists")}
		var err error
		if d.Names, err = p.nameList(); err != nil {
			return nil, true, err
		}
		return d, true, nil
	case p.isKws("show", "alerts"):
		start := p.next()
		p.next()
		return &ShowObjects{P: start.pos, Kind: "alerts"}, true, nil
	}
	return nil, false, nil
}

var alertOps = setOf("=", "<", ">", "<=", ">=", "<>", "!=")

func (p *parser) parseCreateAlert(start token, system bool) (Statement, error) {
	ca := &CreateAlert{P: start.pos, System: system, IfNotExists: p.ifNotExists()}
	var err error
	if ca.Name, err = p.name(); err != nil {
		return nil, err
	}
	if !p.acceptKw("when") {
		return nil, p.diskErr(p.peek(), pgerr.AlertNoCondition.New())
	}
	// metric: word [. word ...]
	mt := p.peek()
	parts := []string{}
	for {
		w, err := p.anyWord()
		if err != nil {
			return nil, p.diskErr(mt, pgerr.AlertNoCondition.New())
		}
		parts = append(parts, w)
		if !p.acceptOp(".") {
			break
		}
	}
	ca.Metric = strings.Join(parts, ".")
	ot := p.peek()
	if ot.kind != tOp || !alertOps[ot.val] {
		return nil, p.diskErr(ot, pgerr.AlertUnknownCond.New(ca.Metric+" "+p.tokText(ot)))
	}
	p.next()
	ca.Op = ot.val
	vt := p.next()
	switch {
	case vt.kind == tString:
		ca.Value, ca.ValueKind = vt.val, AlertString
	case vt.kind == tInt || vt.kind == tFloat:
		ca.Value, ca.ValueKind = vt.val, AlertNumber
	case vt.kind == tOp && vt.val == "-" && (p.peek().kind == tInt || p.peek().kind == tFloat):
		ca.Value, ca.ValueKind = "-"+p.next().val, AlertNumber
	case isKwTok(vt, "true") || isKwTok(vt, "false"):
		ca.Value, ca.ValueKind = vt.val, AlertBool
	case isKwTok(vt, "interval") && p.peek().kind == tString:
		ca.Value, ca.ValueKind = p.next().val, AlertInterval
	default:
		return nil, p.diskErr(vt, pgerr.AlertUnknownCond.New(ca.Metric+" "+ca.Op+" "+p.tokText(vt)))
	}
	if !p.acceptKw("notify") {
		return nil, p.diskErr(p.peek(), pgerr.AlertNoCondition.New())
	}
	tt := p.peek()
	if tt.kind != tString {
		return nil, p.diskErr(tt, pgerr.AlertTargetBad.New(p.tokText(tt)))
	}
	p.next()
	ca.Target = tt.val
	return ca, nil
}

// tokText is a token as written ("" at the end of input).
func (p *parser) tokText(t token) string {
	if t.kind == tEOF {
		return ""
	}
	return p.src[t.start:t.end]
}

// formatAlertStmt prints the alert statements; false for any other.
func formatAlertStmt(b *strings.Builder, s Statement) bool {
	switch s := s.(type) {
	case *CreateAlert:
		if s.System {
			b.WriteString("ALTER SYSTEM ")
		}
		b.WriteString("CREATE ALERT ")
		if s.IfNotExists {
			b.WriteString("IF NOT EXISTS ")
		}
		b.WriteString(QuoteIdent(s.Name))
		b.WriteString(" WHEN ")
		for i, part := range strings.Split(s.Metric, ".") {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(QuoteIdent(part))
		}
		b.WriteString(" " + s.Op + " ")
		switch s.ValueKind {
		case AlertString:
			b.WriteString(QuoteString(s.Value))
		case AlertInterval:
			b.WriteString("INTERVAL " + QuoteString(s.Value))
		default:
			b.WriteString(s.Value)
		}
		b.WriteString(" NOTIFY ")
		b.WriteString(QuoteString(s.Target))
	case *DropAlert:
		formatDropNames(b, "ALERT", s.IfExists, s.Names)
	default:
		return false
	}
	return true
}
