package pgwire

import (
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// TestPortalStreams: a row-limited Execute pauses the statement instead
// of running it to the end (a million-row result is not produced, let
// alone held); other statements run while it is paused; Close stops it.
func TestPortalStreams(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	c := dialRaw(t, s)
	c.startup()
	c.send(&pgproto3.Query{String: "BEGIN"})
	c.expect("C", "Z")
	c.send(&pgproto3.Parse{Name: "g", Query: "GEN 1000000"},
		&pgproto3.Bind{PreparedStatement: "g", DestinationPortal: "big"},
		&pgproto3.Execute{Portal: "big", MaxRows: 3},
		&pgproto3.Sync{})
	c.expect("1", "2", "D", "D", "D", "s", "Z")
	// Inside the transaction block the portal survives Sync; another
	// statement runs meanwhile.
	c.send(&pgproto3.Parse{Query: "SELECT 42"}, &pgproto3.Bind{}, &pgproto3.Execute{},
		&pgproto3.Execute{Portal: "big", MaxRows: 2}, &pgproto3.Sync{})
	c.expect("1", "2")
	if v := string(c.expect("D")[0].(*pgproto3.DataRow).Values[0]); v != "42" {
		t.Fatalf("interleaved statement answered %q", v)
	}
	c.expect("C", "D")
	if v := string(c.expect("D")[0].(*pgproto3.DataRow).Values[1]); v != "row 4" {
		t.Fatalf("resumed portal sent %q, want row 4", v)
	}
	c.expect("s", "Z")
	h.mu.Lock()
	gen := h.gen
	h.mu.Unlock()
	if gen > 10 {
		t.Fatalf("the paused statement produced %d rows for 5 sent", gen)
	}
	c.send(&pgproto3.Close{ObjectType: 'P', Name: "big"}, &pgproto3.Execute{Portal: "big"}, &pgproto3.Sync{})
	if e := c.expect("3", "E", "Z")[1].(*pgproto3.ErrorResponse); e.Code != "34000" {
		t.Fatalf("execute after close: %+v", e)
	}
	c.send(&pgproto3.Query{String: "ROLLBACK"})
	c.expect("C", "Z")

	// Outside a block, Sync ends the implicit transaction and drops the
	// portal (as PostgreSQL does).
	c.send(&pgproto3.Bind{PreparedStatement: "g", DestinationPortal: "p2"},
		&pgproto3.Execute{Portal: "p2", MaxRows: 1}, &pgproto3.Sync{})
	c.expect("2", "D", "s", "Z")
	c.send(&pgproto3.Execute{Portal: "p2", MaxRows: 1}, &pgproto3.Sync{})
	if e := c.expect("E", "Z")[0].(*pgproto3.ErrorResponse); e.Code != "34000" {
		t.Fatalf("execute after Sync: %+v", e)
	}
	// A portal run to its end answers CommandComplete again.
	c.send(&pgproto3.Parse{Name: "g3", Query: "GEN 2"}, &pgproto3.Bind{PreparedStatement: "g3", DestinationPortal: "p3"},
		&pgproto3.Execute{Portal: "p3", MaxRows: 5}, &pgproto3.Execute{Portal: "p3", MaxRows: 5}, &pgproto3.Sync{})
	c.expect("1", "2", "D", "D", "C", "C", "Z")
	h.mu.Lock()
	gen = h.gen
	h.mu.Unlock()
	if gen > 20 {
		t.Fatalf("GEN produced %d rows in all", gen)
	}
}

// TestSimpleBinaryColumns: in the simple protocol a column marked Binary
// (FETCH from a BINARY cursor) is described and sent in binary.
func TestSimpleBinaryColumns(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{})
	c := dialRaw(t, s)
	c.startup()
	c.send(&pgproto3.Query{String: "BINCOL"})
	rd := c.expect("T")[0].(*pgproto3.RowDescription)
	if rd.Fields[0].Format != 1 || rd.Fields[1].Format != 0 {
		t.Fatalf("formats %d %d, want 1 0", rd.Fields[0].Format, rd.Fields[1].Format)
	}
	row := c.expect("D")[0].(*pgproto3.DataRow)
	if string(row.Values[0]) != "\x00\x00\x00\x07" || string(row.Values[1]) != "8" {
		t.Fatalf("row %q", row.Values)
	}
	c.expect("C", "Z")
}
