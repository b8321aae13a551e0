package parser

import (
	"errors"
	"strconv"
	"testing"
)

func TestParseNodeSetWeight(t *testing.T) {
	for _, c := range []struct {
		sql    string
		weight int64
		code   string // "" ok
	}{
		{"ALTER NODE 'n1' SET WEIGHT 3", 3, ""},
		{"alter node n2 set weight 0", 0, ""},
		{"ALTER NODE 'n1' SET WEIGHT 100", 100, ""},
		{"ALTER NODE 'n1' SET WEIGHT 101", 0, "22023"},
		{"ALTER NODE 'n1' SET WEIGHT -1", 0, "22023"},
		{"ALTER NODE 'n1' SET WEIGHT 1.5", 0, "22023"},
		{"ALTER NODE 'n1' SET WEIGHT 'x'", 0, "22023"},
		{"ALTER NODE 'n1' SET WEIGHT", 0, "42601"},
		{"ALTER NODE 'n1' SET SIZE 3", 0, "42601"},
	} {
		stmts, _, err := Parse(c.sql)
		if c.code != "" {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != c.code {
				t.Errorf("%s: got %v, want SQLSTATE %s", c.sql, err, c.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		a, ok := stmts[0].(*AlterNode)
		if !ok || a.Action != ActionSetWeight || a.Weight != c.weight {
			t.Errorf("%s: got %#v", c.sql, stmts[0])
			continue
		}
		if f := Format(a); f != "ALTER NODE '"+a.Node+"' SET WEIGHT "+strconv.FormatInt(c.weight, 10) {
			t.Errorf("%s: formats as %s", c.sql, f)
		}
	}
}
