// Package readme reads README.md as a script: its fenced code blocks, in
// order, with the directives (HTML comments, invisible on GitHub) that say
// how a test runs each one. TestReadme runs the script exactly as written.
//
// A directive is a line `<!-- readme: NAME [ARGS] -->`. Directives on the
// lines right before a block (blank lines allowed) apply to it:
//
//	background        a long-running command the reader starts in its own
//	                  terminal: run it in the background, stopped at the end
//	ready URL...      after the block, wait until each URL answers 200
//	psql ARGS         run this SQL block (and later ones) by piping it into
//	                  `psql ARGS` in the shell's current directory
//	errors            this SQL block shows errors on purpose: psql goes on
//	                  after an error; an output block must follow
//	output            this block is the output of the block before it
//	skip REASON       do not run the block; the test prints the reason
//
// An output block matches line by line, trailing spaces and blank lines at
// either end ignored; "..." in a line stands for any text (timings, ids),
// and psql's "psql:<stdin>:N: " before a message is dropped (pasted into
// psql, the statements show none).
//
// A `stop` directive followed by prose (not by a block) is an action: stop
// (SIGINT, as Ctrl-C) every process the blocks so far started. A block
// without directives is run; a block in a language the test cannot run
// fails the test.
package readme

import (
	"fmt"
	"strings"
)

// Kind says how a block is run.
type Kind int

const (
	// Shell blocks (sh, bash) run with bash.
	Shell Kind = iota
	// SQL blocks are piped into psql.
	SQL
	// Output blocks are compared with the output of the block before.
	Output
	// Stop is a standalone `stop` directive, not a block.
	Stop
)

// Step is one thing the test does: a block with its directives, or a
// standalone stop.
type Step struct {
	Kind Kind
	Line int    // 1-based line of the fence (or of the stop directive)
	Lang string // the fence's info string
	Text string // the block's text

	Background bool
	Ready      []string
	PSQL       string // psql arguments, as written (shell quoting)
	Errors     bool
	Skip       string // reason, when skipped
}

// Parse splits a README into steps. It fails on a directive it does not
// know, a directive that is not followed by a block, a block in a language
// it cannot run, an output block with nothing before it, and an unclosed
// fence.
func Parse(text string) ([]Step, error) {
	lines := strings.Split(text, "\n")
	var steps []Step
	var pending []directive
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(line, "<!-- readme:"):
			d, err := parseDirective(line, i+1)
			if err != nil {
				return nil, err
			}
			if d.name == "stop" {
				if len(pending) > 0 {
					return nil, fmt.Errorf("README.md:%d: stop after other directives", i+1)
				}
				steps = append(steps, Step{Kind: Stop, Line: i + 1})
				continue
			}
			pending = append(pending, d)
		case strings.HasPrefix(line, "```"):
			lang := strings.TrimSpace(strings.TrimPrefix(line, "```"))
			start := i + 1
			var body []string
			closed := false
			for i++; i < len(lines); i++ {
				if strings.TrimSpace(lines[i]) == "```" {
					closed = true
					break
				}
				body = append(body, lines[i])
			}
			if !closed {
				return nil, fmt.Errorf("README.md:%d: fence not closed", start)
			}
			st := Step{Line: start, Lang: lang, Text: strings.Join(body, "\n") + "\n"}
			if err := st.apply(pending); err != nil {
				return nil, err
			}
			pending = nil
			if st.Kind == Output && (len(steps) == 0 || steps[len(steps)-1].Kind == Stop || steps[len(steps)-1].Kind == Output) {
				return nil, fmt.Errorf("README.md:%d: an output block must follow a block that runs", start)
			}
			steps = append(steps, st)
		case line == "":
		default:
			if len(pending) > 0 {
				return nil, fmt.Errorf("README.md:%d: directive %q is not followed by a code block", pending[0].line, pending[0].name)
			}
		}
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("README.md:%d: directive %q is not followed by a code block", pending[0].line, pending[0].name)
	}
	for i, st := range steps {
		if st.Errors && st.Skip == "" && (i+1 == len(steps) || steps[i+1].Kind != Output) {
			return nil, fmt.Errorf("README.md:%d: an errors block must be followed by an output block that shows them", st.Line)
		}
	}
	return steps, nil
}

type directive struct {
	name, args string
	line       int
}

func parseDirective(line string, n int) (directive, error) {
	body, ok := strings.CutSuffix(strings.TrimPrefix(line, "<!-- readme:"), "-->")
	if !ok {
		return directive{}, fmt.Errorf("README.md:%d: a directive is one line ending in -->", n)
	}
	name, args, _ := strings.Cut(strings.TrimSpace(body), " ")
	d := directive{name: name, args: strings.TrimSpace(args), line: n}
	switch name {
	case "background", "errors", "output", "stop":
		if d.args != "" {
			return d, fmt.Errorf("README.md:%d: %s takes no arguments", n, name)
		}
	case "ready", "psql", "skip":
		if d.args == "" {
			return d, fmt.Errorf("README.md:%d: %s needs arguments", n, name)
		}
	default:
		return d, fmt.Errorf("README.md:%d: unknown directive %q (known: background, ready, psql, errors, output, skip, stop)", n, name)
	}
	return d, nil
}

// apply sets the block's kind from its language and directives.
func (st *Step) apply(ds []directive) error {
	output := false
	for _, d := range ds {
		switch d.name {
		case "background":
			st.Background = true
		case "ready":
			st.Ready = append(st.Ready, strings.Fields(d.args)...)
		case "psql":
			st.PSQL = d.args
		case "errors":
			st.Errors = true
		case "output":
			output = true
		case "skip":
			st.Skip = d.args
		}
	}
	switch {
	case output:
		st.Kind = Output
	case st.Lang == "sh" || st.Lang == "bash":
		st.Kind = Shell
	case st.Lang == "sql":
		st.Kind = SQL
	case st.Skip != "":
		st.Kind = Shell // never run
	default:
		return fmt.Errorf("README.md:%d: the test cannot run a %q block (sh, bash and sql run; a text block needs <!-- readme: output -->; or <!-- readme: skip <reason> -->)", st.Line, st.Lang)
	}
	if st.Kind != SQL && (st.PSQL != "" || st.Errors) {
		return fmt.Errorf("README.md:%d: psql and errors apply to sql blocks", st.Line)
	}
	if st.Kind != Shell && st.Background {
		return fmt.Errorf("README.md:%d: background applies to shell blocks", st.Line)
	}
	return nil
}

// Match reports whether got matches the expected output want: line by
// line after trimming trailing spaces, blank lines at either end ignored;
// "..." in a line of want matches any run of characters (timings, ids).
func Match(want, got string) bool {
	w, g := trimLines(want), trimLines(got)
	if len(w) != len(g) {
		return false
	}
	for i := range w {
		if !matchLine(w[i], g[i]) {
			return false
		}
	}
	return true
}

func trimLines(s string) []string {
	ls := strings.Split(s, "\n")
	for i := range ls {
		ls[i] = strings.TrimRight(ls[i], " \t\r")
	}
	for len(ls) > 0 && ls[0] == "" {
		ls = ls[1:]
	}
	for len(ls) > 0 && ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

func matchLine(pat, s string) bool {
	parts := strings.Split(pat, "...")
	if len(parts) == 1 {
		return pat == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	last := parts[len(parts)-1]
	return strings.HasSuffix(s, last) && len(s) >= len(last)
}
