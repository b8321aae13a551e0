package pgwire

import (
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/prometheus/client_golang/prometheus"
)

// statementType is st's type for cairn_statements_total: a fixed set
// of values (metrics.StatementTypes), never the statement's text.
// Statements not named here go by their AST type's name, so that a new
// CREATE/DROP/ALTER/SHOW statement is counted as ddl or show.
func statementType(st parser.Statement) string {
	switch st.(type) {
	case *parser.Select, *parser.Fetch, *parser.Declare:
		return metrics.StmtSelect
	case *parser.Insert:
		return metrics.StmtInsert
	case *parser.Update:
		return metrics.StmtUpdate
	case *parser.Delete:
		return metrics.StmtDelete
	case *parser.Copy, *parser.CopyTo:
		return metrics.StmtCopy
	case *parser.Explain:
		return metrics.StmtShow
	case *parser.Set, *parser.Reset:
		return metrics.StmtSet
	case *parser.Begin, *parser.Commit, *parser.Rollback:
		return metrics.StmtTransaction
	case *parser.AlterNode, *parser.AlterShard, *parser.AlterSystemSet, *parser.Failover, *parser.FailoverRegion, *parser.Rebalance,
		*parser.CancelOperation, *parser.Backup, *parser.Restore:
		return metrics.StmtAdmin
	case *parser.Truncate, *parser.GrantPrivileges, *parser.GrantRole:
		return metrics.StmtDDL
	}
	t := reflect.TypeOf(st)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return metrics.StmtOther
	}
	switch name := t.Name(); {
	case strings.HasPrefix(name, "Create"), strings.HasPrefix(name, "Drop"), strings.HasPrefix(name, "Alter"):
		return metrics.StmtDDL
	case strings.HasPrefix(name, "Show"):
		return metrics.StmtShow
	}
	return metrics.StmtOther
}

// rowsIn is how many rows a statement's command tag says it took in
// (INSERT 0 n, COPY n of a COPY FROM); 0 for others.
func rowsIn(typ, tag string, copyIn bool) int64 {
	var num string
	switch {
	case typ == metrics.StmtInsert && strings.HasPrefix(tag, "INSERT "):
		num = tag[strings.LastIndexByte(tag, ' ')+1:]
	case typ == metrics.StmtCopy && copyIn && strings.HasPrefix(tag, "COPY "):
		num = tag[len("COPY "):]
	default:
		return 0
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// recordStatement feeds the statement metrics after one Execute.
func (c *conn) recordStatement(p *portal, w *execWriter, tag string, err error, took time.Duration) {
	f := c.s.cfg.Metrics
	if f == nil {
		return
	}
	f.Statement(p.ps.kind, took, err != nil)
	f.RowsOut(metrics.FrontendPGWire, c.rowsOut)
	c.rowsOut = 0
	if err == nil {
		f.RowsIn(metrics.FrontendPGWire, rowsIn(p.ps.kind, tag, w.copy != nil))
	}
	if w.out != nil && err == nil {
		// COPY TO sends its rows as copy data, not DataRows.
		if n, perr := strconv.ParseInt(strings.TrimPrefix(tag, "COPY "), 10, 64); perr == nil {
			f.RowsOut(metrics.FrontendPGWire, n)
		}
	}
}

// countingConn counts the bytes of a client connection.
type countingConn struct {
	net.Conn
	in, out prometheus.Counter
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.in.Add(float64(n))
	}
	return n, err
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.out.Add(float64(n))
	}
	return n, err
}

// countBytes wraps nc to count its bytes when metrics are on.
func (s *Server) countBytes(nc net.Conn) net.Conn {
	f := s.cfg.Metrics
	if f == nil {
		return nc
	}
	return countingConn{Conn: nc, in: f.Bytes.WithLabelValues(metrics.FrontendPGWire, "in"), out: f.Bytes.WithLabelValues(metrics.FrontendPGWire, "out")}
}
