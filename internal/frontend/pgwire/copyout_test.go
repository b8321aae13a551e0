package pgwire

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cairndb/cairn/internal/types"
)

// copyOutFake sends three rows with values that need escaping or quoting
// through COPY TO in the format args[0] names.
func copyOutFake(w ResultWriter, args []string) (string, error) {
	opts := CopyOptions{}
	switch args[0] {
	case "csv":
		opts.Format = CopyCSV
	case "binary":
		opts.Format = CopyBinary
	}
	opts.Header = len(args) > 1 && args[1] == "header"
	cols := []Column{{Name: "i", T: types.Int4}, {Name: "s,t", T: types.Text}}
	sink, err := w.(CopyOuter).CopyOut(opts, cols)
	if err != nil {
		return "", err
	}
	rows := [][]types.Datum{
		{types.NewInt(types.Int8, 1), types.NewText("plain")},
		{types.NewInt(types.Int4, 2), types.NewText("tab\\there, \"q\"\nline")},
		{types.NullOf(types.Int4), types.NewText("")},
	}
	for _, r := range rows {
		if err := sink.Row(r); err != nil {
			return "", err
		}
	}
	return "COPY 3", nil
}

func TestCopyOut(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, "postgres://u@"+s.Addr().String()+"/db?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	bin := []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	for _, r := range []struct{ q, want string }{
		{"COPYOUT text", "1\tplain\n2\ttab\\\\there, \"q\"\\nline\n\\N\t\n"},
		{"COPYOUT text header", "i\ts,t\n1\tplain\n2\ttab\\\\there, \"q\"\\nline\n\\N\t\n"},
		{"COPYOUT csv header", "i,\"s,t\"\n1,plain\n2,\"tab\\there, \"\"q\"\"\nline\"\n,\"\"\n"},
		{"COPYOUT binary", string(bin) +
			"\x00\x02\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x05plain" +
			"\x00\x02\x00\x00\x00\x04\x00\x00\x00\x02\x00\x00\x00\x13tab\\there, \"q\"\nline" +
			"\x00\x02\xff\xff\xff\xff\x00\x00\x00\x00" +
			"\xff\xff"},
	} {
		var out bytes.Buffer
		tag, err := c.CopyTo(ctx, &out, r.q)
		if err != nil {
			t.Fatalf("%s: %v", r.q, err)
		}
		if tag.String() != "COPY 3" || out.String() != r.want {
			t.Errorf("%s: tag %q, got\n%q\nwant\n%q", r.q, tag, out.String(), r.want)
		}
	}
	// The connection is still in step.
	if res, err := c.Exec(ctx, "SELECT 7").ReadAll(); err != nil || string(res[0].Rows[0][0]) != "7" {
		t.Fatalf("after copy: %v %v", res, err)
	}
}

// TestDeclaredParamTypes: a parameter declared as varchar, bpchar or name
// is described back with that OID (pgjdbc refuses a statement whose
// described types differ from the declared ones), int4 stays int4, and
// an undeclared one is described with the statement's type.
func TestDeclaredParamTypes(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{})
	c := dialRaw(t, s)
	c.startup()
	c.send(&pgproto3.Parse{Name: "v", Query: "ECHO text, text, text, int4, text, int8", ParameterOIDs: []uint32{1043, 1042, 19, 23, 0, 23}},
		&pgproto3.Describe{ObjectType: 'S', Name: "v"},
		&pgproto3.Bind{PreparedStatement: "v", ParameterFormatCodes: []int16{0, 0, 0, 1, 0, 0},
			Parameters: [][]byte{[]byte("a"), []byte("b"), []byte("c"), binary.BigEndian.AppendUint32(nil, 7), []byte("e"), []byte("8")}},
		&pgproto3.Execute{},
		&pgproto3.Sync{})
	msgs := c.expect("1", "t", "T", "2", "D", "C", "Z")
	got := msgs[1].(*pgproto3.ParameterDescription).ParameterOIDs
	want := []uint32{1043, 1042, 19, 23, 25, 20}
	if len(got) != len(want) {
		t.Fatalf("parameter OIDs %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("parameter OIDs %v, want %v", got, want)
		}
	}
	if v := msgs[4].(*pgproto3.DataRow).Values; string(v[0]) != "a" || string(v[3]) != "7" || string(v[5]) != "8" {
		t.Errorf("row %q", v)
	}
}
