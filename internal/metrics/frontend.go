package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Front ends, the values of the frontend label.
const (
	FrontendPGWire = "pgwire"
	FrontendHTTP   = "http"
)

// Statement types, the values of the type label of cairn_statements_total
// and cairn_statement_duration_seconds: a fixed set, never the text.
const (
	StmtSelect      = "select"
	StmtInsert      = "insert"
	StmtUpdate      = "update"
	StmtDelete      = "delete"
	StmtCopy        = "copy"
	StmtDDL         = "ddl"
	StmtShow        = "show"
	StmtSet         = "set"
	StmtTransaction = "transaction"
	StmtAdmin       = "admin"
	StmtOther       = "other"
)

// StatementTypes lists every statement type.
var StatementTypes = []string{StmtSelect, StmtInsert, StmtUpdate, StmtDelete, StmtCopy, StmtDDL, StmtShow, StmtSet, StmtTransaction, StmtAdmin, StmtOther}

// Frontend holds the collectors of client sessions, statements, rows
// and bytes. Like Metrics, every method is safe on a nil *Frontend.
type Frontend struct {
	SessionsOpen     *prometheus.GaugeVec
	SessionsTotal    *prometheus.CounterVec
	Statements       *prometheus.CounterVec
	StatementLatency *prometheus.HistogramVec
	Rows             *prometheus.CounterVec
	Bytes            *prometheus.CounterVec
	HTTPRequests     *prometheus.CounterVec
}

func newFrontend(reg prometheus.Registerer) *Frontend {
	f := &Frontend{
		SessionsOpen:     defSessionsOpen.gaugeVec(),
		SessionsTotal:    defSessionsTotal.counterVec(),
		Statements:       defStatements.counterVec(),
		StatementLatency: defStatementLatency.histogramVec(),
		Rows:             defRows.counterVec(),
		Bytes:            defNetBytes.counterVec(),
		HTTPRequests:     defHTTPRequests.counterVec(),
	}
	reg.MustRegister(f.SessionsOpen, f.SessionsTotal, f.Statements, f.StatementLatency, f.Rows, f.Bytes, f.HTTPRequests)
	for _, fe := range []string{FrontendPGWire, FrontendHTTP} {
		f.SessionsOpen.WithLabelValues(fe)
		f.SessionsTotal.WithLabelValues(fe)
		for _, dir := range []string{"in", "out"} {
			f.Rows.WithLabelValues(fe, dir)
			f.Bytes.WithLabelValues(fe, dir)
		}
	}
	for _, t := range StatementTypes {
		f.Statements.WithLabelValues(t, "ok")
		f.Statements.WithLabelValues(t, "error")
		f.StatementLatency.WithLabelValues(t)
	}
	for _, c := range []string{"2xx", "3xx", "4xx", "5xx"} {
		f.HTTPRequests.WithLabelValues(c)
	}
	return f
}

// SessionOpened counts a session opened on front end fe.
func (f *Frontend) SessionOpened(fe string) {
	if f == nil {
		return
	}
	f.SessionsTotal.WithLabelValues(fe).Inc()
	f.SessionsOpen.WithLabelValues(fe).Inc()
}

// SessionClosed counts a session of front end fe that ended.
func (f *Frontend) SessionClosed(fe string) {
	if f == nil {
		return
	}
	f.SessionsOpen.WithLabelValues(fe).Dec()
}

// SetSessionsOpen sets the open sessions of front end fe (for one whose
// sessions expire rather than close).
func (f *Frontend) SetSessionsOpen(fe string, n int) {
	if f == nil {
		return
	}
	f.SessionsOpen.WithLabelValues(fe).Set(float64(n))
}

// Statement records one executed statement of type typ (one of
// StatementTypes), how long it took and whether it failed.
func (f *Frontend) Statement(typ string, d time.Duration, failed bool) {
	if f == nil {
		return
	}
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	f.Statements.WithLabelValues(typ, outcome).Inc()
	f.StatementLatency.WithLabelValues(typ).Observe(d.Seconds())
}

// RowsIn counts rows received on front end fe.
func (f *Frontend) RowsIn(fe string, n int64) { f.add(f.rows(), fe, "in", n) }

// RowsOut counts rows sent on front end fe.
func (f *Frontend) RowsOut(fe string, n int64) { f.add(f.rows(), fe, "out", n) }

// BytesIn counts bytes received on front end fe.
func (f *Frontend) BytesIn(fe string, n int64) { f.add(f.bytes(), fe, "in", n) }

// BytesOut counts bytes sent on front end fe.
func (f *Frontend) BytesOut(fe string, n int64) { f.add(f.bytes(), fe, "out", n) }

func (f *Frontend) rows() *prometheus.CounterVec {
	if f == nil {
		return nil
	}
	return f.Rows
}

func (f *Frontend) bytes() *prometheus.CounterVec {
	if f == nil {
		return nil
	}
	return f.Bytes
}

func (f *Frontend) add(v *prometheus.CounterVec, fe, dir string, n int64) {
	if v == nil || n <= 0 {
		return
	}
	v.WithLabelValues(fe, dir).Add(float64(n))
}

// HTTPRequest counts one HTTP reply with status code.
func (f *Frontend) HTTPRequest(code int) {
	if f == nil {
		return
	}
	if code < 100 || code > 599 {
		code = 500
	}
	f.HTTPRequests.WithLabelValues(strconv.Itoa(code/100) + "xx").Inc()
}
