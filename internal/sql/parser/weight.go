package parser

import (
	"strconv"

	"github.com/cairndb/cairn/internal/pgerr"
)

// ActionSetWeight is AlterNode.Action of `ALTER NODE 'n1' SET WEIGHT 3`:
// the node's share of new sessions under `cairn proxy --mode weighted`.
const ActionSetWeight = "set_weight"

// MaxNodeWeight is the largest weight ALTER NODE … SET WEIGHT accepts.
const MaxNodeWeight = 100

// parseNodeSetWeight parses the rest of `ALTER NODE n SET WEIGHT w` (SET
// is read): w a whole number from 0 to MaxNodeWeight, optionally signed so
// that -1 gets the range error rather than a syntax error.
func (p *parser) parseNodeSetWeight(start token, node string) (Statement, error) {
	if err := p.expectKw("weight"); err != nil {
		return nil, err
	}
	first := p.peek()
	neg := false
	if p.acceptOp("-") {
		neg = true
	} else {
		p.acceptOp("+")
	}
	t := p.peek()
	text := p.src[first.start:t.end]
	if t.kind == tEOF {
		return nil, p.syntaxErr(t)
	}
	p.i++
	w, err := strconv.ParseInt(t.val, 10, 64)
	if t.kind != tInt || err != nil || neg && w != 0 || w > MaxNodeWeight {
		e := pgerr.NodeWeightRange.New(MaxNodeWeight, text)
		return nil, &Error{Pos: first.pos + p.base, Code: e.Code, Msg: e.Message, Hint: e.Hint}
	}
	return &AlterNode{P: start.pos, Node: node, Action: ActionSetWeight, Weight: w}, nil
}
