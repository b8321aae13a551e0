package parser

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestParse runs the scripts in testdata/. Commands:
//
//	parse        print each statement re-formatted (errors as code, position, message)
//	parse text   also print each statement's source text (and a view's QueryText)
//	parse hint   also print an error's hint
//	ast          print the full tree, positions included
//	expr         parse one expression and print it re-formatted
//
// Every successful parse is also checked to round-trip through Format.
// Regenerate expected output with `go test ./internal/sql/parser -rewrite`.
func TestParse(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "parse", "ast":
				stmts, texts, err := Parse(d.Input)
				if err != nil {
					var pe *Error
					if d.HasArg("hint") && errors.As(err, &pe) && pe.Hint != "" {
						return fmtErr(d.Input, err) + "HINT: " + pe.Hint + "\n"
					}
					return fmtErr(d.Input, err)
				}
				var b strings.Builder
				for i, s := range stmts {
					if d.Cmd == "ast" {
						dump(&b, reflect.ValueOf(s), 0)
						b.WriteByte('\n')
						continue
					}
					f := Format(s)
					b.WriteString(f)
					b.WriteByte('\n')
					if d.HasArg("text") {
						fmt.Fprintf(&b, "  text: %q\n", texts[i])
						if cv, ok := s.(*CreateView); ok {
							fmt.Fprintf(&b, "  query: %q\n", cv.QueryText)
						}
					}
					if d.HasArg("redacted") {
						fmt.Fprintf(&b, "  redacted: %s\n", Redact(f))
					}
					checkRoundTrip(t, f)
				}
				if len(stmts) == 0 {
					b.WriteString("(no statements)\n")
				}
				return b.String()
			case "expr":
				e, err := ParseExpr(d.Input)
				if err != nil {
					return fmtErr(d.Input, err)
				}
				f := FormatExpr(e)
				e2, err := ParseExpr(f)
				if err != nil {
					t.Errorf("%s: re-parsing %q: %v", d.Pos, f, err)
				} else if f2 := FormatExpr(e2); f2 != f {
					t.Errorf("%s: round trip: %q became %q", d.Pos, f, f2)
				}
				return f + "\n"
			}
			t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			return ""
		})
	})
}

func checkRoundTrip(t *testing.T, f string) {
	t.Helper()
	stmts, _, err := Parse(f)
	if err != nil {
		t.Errorf("re-parsing %q: %v", f, err)
		return
	}
	if len(stmts) != 1 {
		t.Errorf("re-parsing %q gave %d statements", f, len(stmts))
		return
	}
	if f2 := Format(stmts[0]); f2 != f {
		t.Errorf("round trip: %q became %q", f, f2)
	}
}

// fmtErr prints an error with its SQLSTATE and position, plus a caret
// under the position when the input is one line.
func fmtErr(input string, err error) string {
	var pe *Error
	if !errors.As(err, &pe) {
		return fmt.Sprintf("non-parser error %T: %v\n", err, err)
	}
	s := fmt.Sprintf("ERROR %s at %d: %s\n", pe.Code, pe.Pos, pe.Msg)
	if pe.Pos > 0 && !strings.Contains(input, "\n") && len(input) < 200 {
		s += input + "\n" + strings.Repeat(" ", len([]rune(input)[:min(pe.Pos-1, len([]rune(input)))])) + "^\n"
	}
	return s
}

// dump prints a tree of AST values: one field per line, nil and zero
// fields left out.
func dump(b *strings.Builder, v reflect.Value, indent int) {
	pad := strings.Repeat("  ", indent)
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		if v.Kind() == reflect.Pointer && v.Elem().Kind() != reflect.Struct {
			fmt.Fprintf(b, "%v", v.Elem().Interface())
			return
		}
		dump(b, v.Elem(), indent)
	case reflect.Struct:
		b.WriteString(v.Type().Name())
		b.WriteString(" {")
		n := 0
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if f.IsZero() {
				continue
			}
			b.WriteString("\n" + pad + "  " + v.Type().Field(i).Name + ": ")
			dump(b, f, indent+1)
			n++
		}
		if n > 0 {
			b.WriteString("\n" + pad)
		}
		b.WriteString("}")
	case reflect.Slice:
		b.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			b.WriteString("\n" + pad + "  ")
			dump(b, v.Index(i), indent+1)
		}
		if v.Len() > 0 {
			b.WriteString("\n" + pad)
		}
		b.WriteString("]")
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%v", v.Interface())
	}
}

// FuzzParse checks that no input makes the parser panic or hang, and that
// every statement it accepts formats to SQL that parses back to the same
// formatting.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		// Seed with each test case's input.
		for _, block := range strings.Split(string(data), "\n\n") {
			lines := strings.Split(block, "\n")
			var in []string
			for i, l := range lines {
				if i == 0 {
					continue // the command line
				}
				if l == "----" {
					break
				}
				in = append(in, l)
			}
			if len(in) > 0 {
				f.Add(strings.Join(in, "\n"))
			}
		}
	}
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, texts, err := Parse(sql)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code == "" || pe.Msg == "" {
				t.Fatalf("bad error %#v for %q", err, sql)
			}
			if pe.Pos < 0 || pe.Pos > len([]rune(sql))+1 {
				t.Fatalf("error position %d out of range for %q", pe.Pos, sql)
			}
			return
		}
		if len(texts) != len(stmts) {
			t.Fatalf("%d texts for %d statements", len(texts), len(stmts))
		}
		for i, s := range stmts {
			out := Format(s)
			again, _, err := Parse(out)
			if err != nil {
				t.Fatalf("%q formatted as %q which fails to parse: %v", texts[i], out, err)
			}
			if len(again) != 1 {
				t.Fatalf("%q formatted as %q which is %d statements", texts[i], out, len(again))
			}
			if out2 := Format(again[0]); out2 != out {
				t.Fatalf("%q formatted as %q, which re-formats as %q", texts[i], out, out2)
			}
			// The statement's own text parses to the same statement.
			one, _, err := Parse(texts[i])
			if err != nil || len(one) != 1 || Format(one[0]) != out {
				t.Fatalf("statement text %q does not re-parse alone (err %v)", texts[i], err)
			}
			if cv, ok := s.(*CreateView); ok {
				q, _, err := Parse(cv.QueryText)
				if err != nil || len(q) != 1 {
					t.Fatalf("QueryText %q does not parse: %v", cv.QueryText, err)
				}
			}
		}
	})
}
