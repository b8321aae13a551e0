package pgwire

import (
	"context"

	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Handler creates sessions.
type Handler interface {
	// NewSession is called after a successful startup. params are the
	// startup parameters (user, database, application_name, options, ...).
	// A *pgerr.Error return is sent as FATAL and the connection closed.
	NewSession(ctx context.Context, params map[string]string) (Session, error)
}

// Session is one client connection's state (settings, transaction).
// Methods are called from one goroutine.
type Session interface {
	// Prepare binds and plans one parsed statement. paramOIDs are the
	// client's declared parameter types (0 = unspecified, may be shorter
	// than the number of params).
	Prepare(ctx context.Context, stmt parser.Statement, text string, paramOIDs []uint32) (Stmt, error)
	// TxStatus is the ReadyForQuery status: 'I' idle, 'T' in a
	// transaction block, 'E' in a failed transaction block.
	TxStatus() byte
	// Settings returns ParameterStatus values to report at startup
	// (server_version, TimeZone, ...) and after a SET of such a parameter
	// (see Stmt result ParamStatus).
	Settings() map[string]string
	// Close releases the session (connection ended).
	Close()
}

// Styler is implemented by a Session whose settings change how values
// are written and read as text (TimeZone, DateStyle, IntervalStyle,
// extra_float_digits). It is read once per statement; without it values
// use PostgreSQL's defaults in UTC.
type Styler interface {
	TextStyle() *types.Style
}

// Column describes one result column.
type Column struct {
	Name string
	T    types.T
	// Binary sends the column in binary in the simple query protocol,
	// where the client cannot ask for a format (FETCH from a BINARY
	// cursor); the extended protocol's Bind formats decide otherwise.
	Binary bool
}

// Stmt is a prepared statement.
type Stmt interface {
	// ParamTypes has one entry per $n; Unknown entries are reported to
	// clients as text (25).
	ParamTypes() []types.T
	// Columns are the result columns; nil if the statement returns no rows.
	Columns() []Column
	// Execute runs the statement. params are already decoded to
	// ParamTypes (text or binary per Bind formats). Rows go to w. Returns
	// the command tag (e.g. "SELECT 3", "INSERT 0 5", "CREATE STREAM",
	// "SET", "COPY 100").
	Execute(ctx context.Context, params []types.Datum, w ResultWriter) (tag string, err error)
}

// ResultWriter receives results during Execute.
type ResultWriter interface {
	// Row sends one row of Columns(), encoded in the portal's result
	// formats. Returning an error means stop (e.g. client gone).
	Row(row []types.Datum) error
	// Notice sends a NoticeResponse (severity NOTICE).
	Notice(msg string)
	// ParameterStatus reports a changed parameter after SET of a reported
	// parameter.
	ParameterStatus(name, value string)
	// CopyIn switches the connection to COPY IN (sends CopyInResponse
	// with the format and column count) and returns a reader of the rows
	// the client sends. Only valid once per Execute.
	CopyIn(opts CopyOptions, cols []types.T) (CopySource, error)
}

// CopyFormat is the data format of a COPY.
type CopyFormat uint8

// COPY formats.
const (
	CopyText CopyFormat = iota
	CopyCSV
	CopyBinary
)

// CopyOptions are the options of COPY ... FROM STDIN. Zero Delimiter,
// Quote and Escape mean the format's default (tab for text, ',' and '"'
// for csv, Escape defaults to Quote). Null is the NULL marker: for csv
// "" is the default (an unquoted empty field); for text "" means the
// default `\N`, so callers pass the option exactly as written.
type CopyOptions struct {
	Format    CopyFormat
	Delimiter byte
	Null      string
	Header    bool
	Quote     byte
	Escape    byte
}

// CopySource reads COPY data rows.
type CopySource interface {
	// Next decodes up to max rows into b (which has len(cols) columns of
	// the given types; rows are appended) and returns how many it added.
	// Returns io.EOF (with n possibly > 0) at CopyDone. A CopyFail from
	// the client or a malformed row returns *pgerr.Error (22P02 etc. with
	// "COPY x, line N" context in the message); the caller then fails the
	// statement and the server discards the rest of the copy data until
	// CopyDone/CopyFail.
	Next(b *types.Batch, max int) (n int, err error)
}

// TxAborter is implemented by sessions that track transaction blocks: the
// server calls AbortTx whenever it sends an ErrorResponse, so an error the
// session never saw (a syntax error, a parameter that fails to decode at
// Bind) still fails an open transaction block.
type TxAborter interface {
	AbortTx()
}
