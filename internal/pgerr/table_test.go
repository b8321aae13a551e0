package pgerr

import (
	"regexp"
	"strings"
	"testing"
)

var sqlstate = regexp.MustCompile(`^[0-9A-Z]{5}$`)

func TestTable(t *testing.T) {
	names := map[string]bool{}
	for _, d := range table {
		if names[d.Name] || d.Name == "" || strings.ToLower(d.Name) != d.Name {
			t.Errorf("%q: names must be unique snake_case", d.Name)
		}
		names[d.Name] = true
		if !sqlstate.MatchString(d.Code) || d.Code == SuccessfulCompletion {
			t.Errorf("%s: bad SQLSTATE %q", d.Name, d.Code)
		}
		if !verbsOK(d.Format) || !verbsOK(d.Hint) {
			t.Errorf("%s: formats may use plain verbs only", d.Name)
		}
		// Filled with the right number of arguments, nothing is missing
		// or left over.
		var args []any
		for _, v := range verbLetters(d.Format + d.Hint) {
			if v == 'd' {
				args = append(args, 1)
			} else {
				args = append(args, "x")
			}
		}
		e := d.New(args...)
		if strings.Contains(e.Message+e.Hint, "%!") || e.Code != d.Code {
			t.Errorf("%s: %s %q hint %q", d.Name, e.Code, e.Message, e.Hint)
		}
	}
	if len(table) < 20 {
		t.Fatalf("table has %d errors", len(table))
	}
}

func TestDefNew(t *testing.T) {
	e := ShardBusy.New(17, 3, "transfer_leader", "running", 3, 3)
	if e.Code != ObjectInUse || e.Message != "shard 17 already has operation 3 (transfer_leader) running" ||
		e.Hint != "Wait for it (cairn ops wait 3) or cancel it (CANCEL OPERATION 3)." {
		t.Errorf("%+v", e)
	}
	if e := StreamNotFound.New("ev"); e.Code != "42P01" || e.Message != `stream "ev" does not exist` || e.Hint != "" {
		t.Errorf("%+v", e)
	}
	if e := MetaNoLeader.New(); e.Message != "the meta group has no leader right now; retry" {
		t.Errorf("%+v", e)
	}
	// Wrong argument counts show, as fmt shows them.
	if e := StreamNotFound.New("a", "b"); !strings.Contains(e.Message, "%!(EXTRA") {
		t.Errorf("extra argument hidden: %q", e.Message)
	}
	if e := StreamNotFound.New(); !strings.Contains(e.Message, "%!q(MISSING)") {
		t.Errorf("missing argument hidden: %q", e.Message)
	}
}

// verbLetters returns the verb letters of format, in order.
func verbLetters(format string) []byte {
	var out []byte
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0123456789.", format[i]) >= 0 {
			i++
		}
		if i < len(format) && format[i] != '%' {
			out = append(out, format[i])
		}
	}
	return out
}

// verbsOK reports whether a format uses only plain verbs (no argument
// indexes or * widths), which New's argument split relies on. A literal
// '*' in the text ("SELECT *") is fine.
func verbsOK(format string) bool {
	return !strings.Contains(format, "%[") && !starWidth.MatchString(format)
}

// starWidth finds a verb with a * width or precision: %*d, %-*s, %.*f.
var starWidth = regexp.MustCompile(`%[-+# 0]*[0-9]*\.?\*`)

// A literal '*' passes; a * width or precision does not.
func TestVerbsOK(t *testing.T) {
	for f, want := range map[string]bool{"SELECT * FROM %s": true, "count(*)": true, "%*d": false, "%-*s": false, "%.*f": false, "%[1]s": false, "%d of %s": true} {
		if got := verbsOK(f); got != want {
			t.Errorf("verbsOK(%q) = %v, want %v", f, got, want)
		}
	}
}
