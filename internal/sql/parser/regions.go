package parser

import "strings"

// FailoverRegion is `ALTER SYSTEM FAILOVER REGION TO 'us-east' [FORCE]`:
// the regional objects whose primary region is lost take Region as
// their primary, their learners there promoted (docs/regions.md). FORCE
// acts even while the old primary region still has a quorum of a shard.
type FailoverRegion struct {
	P      int
	Region string
	Force  bool
}

func (*FailoverRegion) stmt() {}

// parseFailoverRegion parses what follows ALTER SYSTEM FAILOVER REGION.
func (p *parser) parseFailoverRegion(start int) (Statement, error) {
	if err := p.expectKw("to"); err != nil {
		return nil, err
	}
	r, err := p.nodeName() // a string or an identifier
	if err != nil {
		return nil, err
	}
	return &FailoverRegion{P: start, Region: r, Force: p.acceptKw("force")}, nil
}

// format writes the statement back as SQL.
func (f *FailoverRegion) format(b *strings.Builder) {
	b.WriteString("ALTER SYSTEM FAILOVER REGION TO ")
	b.WriteString(QuoteString(f.Region))
	if f.Force {
		b.WriteString(" FORCE")
	}
}
