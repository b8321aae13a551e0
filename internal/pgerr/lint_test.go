package pgerr

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestTableCallArgs stands in for vet's printf check, which cannot see
// through Def.New: every pgerr.<Name>.New(...) call in the module passes
// as many arguments as the error's message and hint have verbs.
func TestTableCallArgs(t *testing.T) {
	byName := map[string]*Def{}
	for _, d := range table {
		byName[d.Name] = d
	}
	// Go names of the table's errors, read from this package's source.
	goNames := map[string]*Def{}
	fset := token.NewFileSet()
	tf, err := parser.ParseFile(fset, "table.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(tf, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 {
			return true
		}
		if call, ok := vs.Values[0].(*ast.CallExpr); ok {
			if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "def" {
				if lit, ok := call.Args[0].(*ast.BasicLit); ok {
					goNames[vs.Names[0].Name] = byName[strings.Trim(lit.Value, `"`)]
				}
			}
		}
		return true
	})
	if len(goNames) != len(table) {
		t.Fatalf("found %d table entries in table.go, the table has %d", len(goNames), len(table))
	}
	calls := 0
	err = filepath.WalkDir("../..", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && path != "../.." && (strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || call.Ellipsis.IsValid() {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "New" {
				return true
			}
			def, ok := sel.X.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := def.X.(*ast.Ident); !ok || pkg.Name != "pgerr" {
				return true
			}
			d := goNames[def.Sel.Name]
			if d == nil {
				return true
			}
			calls++
			if want := d.nargs + countVerbs(d.Hint); len(call.Args) != want {
				t.Errorf("%s: pgerr.%s.New has %d arguments, its formats take %d", fset.Position(call.Pos()), def.Sel.Name, len(call.Args), want)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 50 {
		t.Errorf("found only %d calls of the table's errors", calls)
	}
}
