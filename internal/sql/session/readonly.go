package session

import (
	"context"

	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// READ ONLY transaction blocks. BEGIN READ ONLY (or SET TRANSACTION READ
// ONLY inside a block) makes the block refuse, with 25006 as in
// PostgreSQL, every statement that could write: inserts, COPY FROM,
// updates, DDL, cluster commands, and EXECUTE of a prepared statement
// (its text is not looked into). Reads, SET/SHOW/RESET, cursors and
// transaction control run. The check is made when a statement runs, not
// when it is prepared, so a statement prepared before the block cannot
// slip through.

// allowedInReadOnlyTx reports whether st may run in a READ ONLY block.
func allowedInReadOnlyTx(st parser.Statement) bool {
	if readOnlyStatement(st) { // console.go
		return true
	}
	switch st.(type) {
	case *parser.Begin, *parser.Commit, *parser.Rollback, *parser.Empty,
		*parser.Set, *parser.Reset, *parser.Declare, *parser.Fetch,
		*parser.CloseCursor, *parser.Prepare, *parser.Deallocate, *parser.CopyTo:
		return true
	}
	return false
}

// prepareSetTxReadOnly is SET TRANSACTION READ ONLY | READ WRITE (and
// SET transaction_read_only = on|off): it changes the open block's
// access mode. Outside a block it changes nothing and says so, as
// PostgreSQL does.
func (s *Session) prepareSetTxReadOnly(st *parser.Set) (*prepared, error) {
	if st.Local || st.Default || len(st.Values) != 1 {
		return nil, pgerr.ParameterReadOnly.New(st.Name).WithPos(st.P)
	}
	v, err := checkBool("transaction_read_only")(st.Values[0], "")
	if err != nil {
		return nil, pgerr.From(err).WithPos(st.P)
	}
	return &prepared{run: func(_ context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		if s.tx != txOpen {
			w.Notice("SET TRANSACTION can only be used in transaction blocks")
			return "SET", nil
		}
		s.txReadOnly = v == "on"
		return "SET", nil
	}}, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
