package readme

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	doc := strings.Join([]string{
		"# T",
		"",
		"<!-- readme: background -->",
		"<!-- readme: ready http://127.0.0.1:8480/ready tcp://127.0.0.1:7070 -->",
		"```sh",
		"cairn start",
		"```",
		"",
		"<!-- readme: psql -h 127.0.0.1 -p 5480 -U cairn -->",
		"```sql",
		"SELECT 1;",
		"```",
		"<!-- readme: output -->",
		"```text",
		" ?column?",
		"```",
		"<!-- readme: stop -->",
		"Stop it.",
		"<!-- readme: skip recursion -->",
		"```sh",
		"make test",
		"```",
		"```bash",
		"echo hi",
		"```",
	}, "\n")
	steps, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 6 {
		t.Fatalf("got %d steps, want 6: %+v", len(steps), steps)
	}
	if s := steps[0]; s.Kind != Shell || !s.Background || len(s.Ready) != 2 || s.Text != "cairn start\n" || s.Line != 5 {
		t.Errorf("step 0: %+v", s)
	}
	if s := steps[1]; s.Kind != SQL || s.PSQL != "-h 127.0.0.1 -p 5480 -U cairn" {
		t.Errorf("step 1: %+v", s)
	}
	if s := steps[2]; s.Kind != Output || s.Text != " ?column?\n" {
		t.Errorf("step 2: %+v", s)
	}
	if s := steps[3]; s.Kind != Stop {
		t.Errorf("step 3: %+v", s)
	}
	if s := steps[4]; s.Skip != "recursion" {
		t.Errorf("step 4: %+v", s)
	}
	if s := steps[5]; s.Kind != Shell || s.Background || s.Skip != "" {
		t.Errorf("step 5: %+v", s)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"```python\nprint(1)\n```", `cannot run a "python" block`},
		{"```\nplain\n```", `cannot run a "" block`},
		{"```console\n$ ls\n```", `cannot run a "console" block`},
		{"```sh\nls\n", "fence not closed"},
		{"<!-- readme: bogus -->\n```sh\nls\n```", `unknown directive "bogus"`},
		{"<!-- readme: background -->\nprose\n```sh\nls\n```", "not followed by a code block"},
		{"<!-- readme: output -->\n```text\nx\n```", "must follow a block that runs"},
		{"<!-- readme: errors -->\n```sql\nSELECT x;\n```", "followed by an output block"},
		{"<!-- readme: background -->\n```sql\nSELECT 1;\n```", "background applies to shell blocks"},
		{"<!-- readme: psql -p 1 -->\n```sh\nls\n```", "psql and errors apply to sql blocks"},
		{"<!-- readme: skip -->\n```sh\nls\n```", "skip needs arguments"},
		{"<!-- readme: ready -->\n```sh\nls\n```", "ready needs arguments"},
	} {
		_, err := Parse(tc.doc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		want, got string
		ok        bool
	}{
		{"a\nb", "a  \nb\n\n", true},
		{"\na\n", "a", true},
		{"a\nb", "a\nc", false},
		{"a\nb", "a", false},
		{"taken ... ago (...)", "taken 1.8s ago (2026-12-06T21:30:18Z)", true},
		{"taken ... ago", "taken 1.8s later", false},
		{"ERROR:  x: ...", "ERROR:  x: anything at all", true},
		{"ERROR:  x: ...", "ERROR:  y: anything", false},
		{"...", "x", true},
		{"a...b...c", "a1b2c", true},
		{"a...b...c", "acb", false},
	} {
		if got := Match(tc.want, tc.got); got != tc.ok {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.want, tc.got, got, tc.ok)
		}
	}
}

// TestREADMEParses checks README.md's blocks and directives without
// running them: every block is one the test can run (or says why not).
func TestREADMEParses(t *testing.T) {
	text := readREADME(t)
	steps, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	var skipped []string
	for _, st := range steps {
		if st.Skip != "" {
			skipped = append(skipped, st.Skip)
		}
	}
	if len(skipped) > 1 {
		t.Errorf("README.md skips %d blocks (%q); only make test should be skipped", len(skipped), skipped)
	}
}
