package pgwire

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// rawClient speaks the protocol message by message.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	fe *pgproto3.Frontend
}

func dialRaw(t *testing.T, s *Server) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
}

func (c *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	for _, m := range msgs {
		c.fe.Send(m)
	}
	if err := c.fe.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the next message's type name and the message.
func (c *rawClient) recv() pgproto3.BackendMessage {
	c.t.Helper()
	m, err := c.fe.Receive()
	if err != nil {
		c.t.Fatalf("receive: %v", err)
	}
	return m
}

// expect reads messages and checks their types in order.
func (c *rawClient) expect(want ...string) []pgproto3.BackendMessage {
	c.t.Helper()
	var got []pgproto3.BackendMessage
	for _, w := range want {
		m := c.recv()
		got = append(got, m)
		if name := msgName(m); name != w {
			c.t.Fatalf("got %s (%+v), want %s", name, m, w)
		}
	}
	return got
}

func msgName(m pgproto3.BackendMessage) string {
	switch m.(type) {
	case *pgproto3.ReadyForQuery:
		return "Z"
	case *pgproto3.DataRow:
		return "D"
	case *pgproto3.RowDescription:
		return "T"
	case *pgproto3.CommandComplete:
		return "C"
	case *pgproto3.ErrorResponse:
		return "E"
	case *pgproto3.ParseComplete:
		return "1"
	case *pgproto3.BindComplete:
		return "2"
	case *pgproto3.CloseComplete:
		return "3"
	case *pgproto3.PortalSuspended:
		return "s"
	case *pgproto3.NoData:
		return "n"
	case *pgproto3.ParameterDescription:
		return "t"
	case *pgproto3.EmptyQueryResponse:
		return "I"
	case *pgproto3.ParameterStatus:
		return "S"
	case *pgproto3.BackendKeyData:
		return "K"
	case *pgproto3.AuthenticationOk:
		return "R"
	case *pgproto3.NoticeResponse:
		return "N"
	}
	return "?"
}

// startup performs the startup exchange, first asking for SSL and GSS
// encryption (both refused with 'N').
func (c *rawClient) startup() {
	c.t.Helper()
	for _, req := range []pgproto3.FrontendMessage{&pgproto3.SSLRequest{}, &pgproto3.GSSEncRequest{}} {
		c.send(req)
		b := make([]byte, 1)
		if _, err := io.ReadFull(c.nc, b); err != nil || b[0] != 'N' {
			c.t.Fatalf("encryption request answered %q, %v", b, err)
		}
	}
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "u1", "application_name": "raw"}})
	c.expect("R")
	for {
		m := c.recv()
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			return
		}
	}
}

func TestPortalRowLimit(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{})
	c := dialRaw(t, s)
	c.startup()
	c.send(&pgproto3.Parse{Name: "g", Query: "GEN 5"},
		&pgproto3.Bind{PreparedStatement: "g", DestinationPortal: "p", ResultFormatCodes: []int16{1, 0}},
		&pgproto3.Describe{ObjectType: 'P', Name: "p"},
		&pgproto3.Execute{Portal: "p", MaxRows: 2},
		&pgproto3.Execute{Portal: "p", MaxRows: 2},
		&pgproto3.Execute{Portal: "p", MaxRows: 2},
		&pgproto3.Sync{})
	msgs := c.expect("1", "2", "T", "D", "D", "s", "D", "D", "s", "D", "C", "Z")
	rd := msgs[2].(*pgproto3.RowDescription)
	if rd.Fields[0].Format != 1 || rd.Fields[1].Format != 0 || rd.Fields[0].DataTypeOID != 20 || rd.Fields[0].DataTypeSize != 8 {
		t.Errorf("row description: %+v", rd.Fields)
	}
	row := msgs[9].(*pgproto3.DataRow)
	if binary.BigEndian.Uint64(row.Values[0]) != 4 || string(row.Values[1]) != "row 4" {
		t.Errorf("last row: %q", row.Values)
	}
	if tag := string(msgs[10].(*pgproto3.CommandComplete).CommandTag); tag != "SELECT 5" {
		t.Errorf("tag %q", tag)
	}
	// Close the statement and portal.
	c.send(&pgproto3.Close{ObjectType: 'P', Name: "p"}, &pgproto3.Close{ObjectType: 'S', Name: "g"}, &pgproto3.Sync{})
	c.expect("3", "3", "Z")
	c.send(&pgproto3.Bind{PreparedStatement: "g"}, &pgproto3.Sync{})
	if e := c.expect("E", "Z")[0].(*pgproto3.ErrorResponse); e.Code != "26000" {
		t.Errorf("bind to closed statement: %+v", e)
	}
}

func TestExtendedErrorsSkipToSync(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{})
	c := dialRaw(t, s)
	c.startup()
	// Wrong parameter count: 08P01, then everything up to Sync is skipped.
	c.send(&pgproto3.Parse{Query: "ECHO int4, unknown"},
		&pgproto3.Describe{ObjectType: 'S'},
		&pgproto3.Bind{Parameters: [][]byte{[]byte("1")}},
		&pgproto3.Execute{},
		&pgproto3.Parse{Query: "SELECT 1"},
		&pgproto3.Sync{})
	msgs := c.expect("1", "t", "T", "E", "Z")
	if oids := msgs[1].(*pgproto3.ParameterDescription).ParameterOIDs; len(oids) != 2 || oids[0] != 23 || oids[1] != 25 {
		t.Errorf("parameter OIDs %v (unknown must be reported as text)", oids)
	}
	if e := msgs[3].(*pgproto3.ErrorResponse); e.Code != "08P01" {
		t.Errorf("wrong param count: %+v", e)
	}
	// Duplicate statement name, bad binary parameter, missing portal.
	c.send(&pgproto3.Parse{Name: "a", Query: "ECHO int4"}, &pgproto3.Sync{})
	c.expect("1", "Z")
	c.send(&pgproto3.Parse{Name: "a", Query: "ECHO int4"}, &pgproto3.Sync{})
	if e := c.expect("E", "Z")[0].(*pgproto3.ErrorResponse); e.Code != "42P05" {
		t.Errorf("duplicate statement: %+v", e)
	}
	c.send(&pgproto3.Bind{PreparedStatement: "a", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{1, 2}}}, &pgproto3.Sync{})
	if e := c.expect("E", "Z")[0].(*pgproto3.ErrorResponse); e.Code != "22P03" {
		t.Errorf("short binary int4: %+v", e)
	}
	c.send(&pgproto3.Execute{Portal: "nope"}, &pgproto3.Sync{})
	if e := c.expect("E", "Z")[0].(*pgproto3.ErrorResponse); e.Code != "34000" {
		t.Errorf("missing portal: %+v", e)
	}
	// Text parameters in text, result in binary.
	c.send(&pgproto3.Bind{PreparedStatement: "a", Parameters: [][]byte{[]byte("-5")}, ResultFormatCodes: []int16{1}},
		&pgproto3.Execute{}, &pgproto3.Sync{})
	msgs = c.expect("2", "D", "C", "Z")
	if v := msgs[1].(*pgproto3.DataRow).Values[0]; int32(binary.BigEndian.Uint32(v)) != -5 {
		t.Errorf("binary result %v", v)
	}
	// Flush sends what is pending without a Sync.
	c.send(&pgproto3.Parse{Query: "SELECT 1"}, &pgproto3.Flush{})
	c.expect("1")
	c.send(&pgproto3.Sync{})
	c.expect("Z")
	// Invalid UTF-8 in a query.
	c.send(&pgproto3.Query{String: "SELECT '\xff'"})
	if e := c.expect("E", "Z")[0].(*pgproto3.ErrorResponse); e.Code != "22021" {
		t.Errorf("invalid utf8: %+v", e)
	}
	// Terminate closes the connection.
	c.send(&pgproto3.Terminate{})
	if _, err := c.fe.Receive(); err == nil {
		t.Errorf("connection open after Terminate")
	}
}

func TestOversizedMessage(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{MaxMessageSize: 1024})
	c := dialRaw(t, s)
	c.startup()
	big := make([]byte, 2000)
	for i := range big {
		big[i] = 'x'
	}
	c.send(&pgproto3.Query{String: string(big)})
	e, ok := c.recv().(*pgproto3.ErrorResponse)
	if !ok || e.Code != "54000" || e.Severity != "FATAL" {
		t.Fatalf("oversized message: %+v", e)
	}
	var err error
	for range 10 {
		if _, err = c.fe.Receive(); err != nil {
			break
		}
	}
	if err == nil || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		t.Errorf("connection not closed: %v", err)
	}
}

// A client still sending a message far over the limit reads the FATAL
// error, not a connection reset: the server drains the message first.
func TestOversizedMessageStillSending(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{MaxMessageSize: 1024})
	c := dialRaw(t, s)
	c.startup()
	c.send(&pgproto3.Query{String: strings.Repeat("x", 32<<20)})
	e, ok := c.recv().(*pgproto3.ErrorResponse)
	if !ok || e.Code != "54000" || e.Severity != "FATAL" {
		t.Fatalf("oversized message: %+v", e)
	}
}

func TestBadStartup(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{})
	// Garbage instead of a startup packet: the server hangs up.
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write([]byte{0, 0, 0, 8, 1, 2, 3, 4})
	if _, err := nc.Read(make([]byte, 1)); err == nil {
		t.Errorf("server answered a bogus startup packet")
	}
	// A cancel request with a wrong key does nothing and closes.
	c := dialRaw(t, s)
	c.send(&pgproto3.CancelRequest{ProcessID: 1, SecretKey: []byte{1, 2, 3, 4}})
	if _, err := c.nc.Read(make([]byte, 1)); err == nil {
		t.Errorf("cancel request got an answer")
	}
}

// Close does not wait for a client that connected but never sent a
// startup packet.
func TestCloseDuringStartup(t *testing.T) {
	s := NewServer(Config{}, newFakeHandler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	nc, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	time.Sleep(20 * time.Millisecond) // let the server accept it
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a connection in startup")
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := s.Serve(ln); err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
}
