package metrics

import (
	"fmt"
	"slices"
	"strings"
)

// promqlKeywords are PromQL's words that are not metric names:
// operators, modifiers and the aggregation clauses whose parenthesized
// list names labels.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "bool": true, "offset": true, "inf": true, "nan": true,
	"atan2": true, "start": true, "end": true,
	// Aggregations may be followed by a by/without clause before their
	// '(' (sum by (a) (x)), so they are known by name.
	"sum": true, "min": true, "max": true, "avg": true, "count": true, "stddev": true, "stdvar": true,
	"topk": true, "bottomk": true, "quantile": true, "count_values": true, "group": true, "limitk": true, "limit_ratio": true,
}

// labelListWords are followed by a parenthesized list of label names.
var labelListWords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// MetricNames returns the metric (and recording rule) names a PromQL
// expression selects, sorted and without duplicates. It is a tokenizer,
// not a parser: it skips strings, label matchers ({…}), ranges and
// subqueries ([…]), numbers, label lists of by/without/on/ignoring/
// group_left/group_right, keywords and aggregation operators, and names
// called as functions; what is left are the metric names. Unbalanced
// brackets, unterminated strings and __name__ matchers (which hide the
// name from it) are errors.
func MetricNames(expr string) ([]string, error) {
	var names []string
	var stack []byte // open brackets
	skipParen := -1  // depth of a label list's '(' whose content is skipped
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at %d in %q", i, expr)
			}
			i = j + 1
			continue
		case c == '#':
			// A comment runs to the end of the line.
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
			continue
		case c == '(' || c == '{' || c == '[':
			stack = append(stack, c)
		case c == ')' || c == '}' || c == ']':
			open := map[byte]byte{')': '(', '}': '{', ']': '['}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return nil, fmt.Errorf("unbalanced %q at %d in %q", c, i, expr)
			}
			stack = stack[:len(stack)-1]
			if c == ')' && skipParen == len(stack) {
				skipParen = -1
			}
		case isDigit(c) || (c == '.' && i+1 < len(expr) && isDigit(expr[i+1])):
			// A number (1, 0.99, 1e3, 0x1f) or a duration (5m, 1h30m).
			j := i + 1
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == '.' || ((expr[j] == '+' || expr[j] == '-') && (expr[j-1] == 'e' || expr[j-1] == 'E'))) {
				j++
			}
			i = j
			continue
		case isIdentStart(c) || c == '$':
			j := i + 1
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == ':') {
				j++
			}
			word := expr[i:j]
			i = j
			inside := byte(0)
			if len(stack) > 0 {
				inside = stack[len(stack)-1]
			}
			if word == "__name__" {
				return nil, fmt.Errorf("%q selects by __name__: name the metric instead", expr)
			}
			if c == '$' || inside == '{' || inside == '[' || skipParen >= 0 {
				continue // a variable, label name, duration or label list
			}
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\t' || expr[k] == '\n' || expr[k] == '\r') {
				k++
			}
			lw := strings.ToLower(word)
			if labelListWords[lw] {
				if k < len(expr) && expr[k] == '(' {
					skipParen = len(stack)
				}
				continue
			}
			if promqlKeywords[lw] {
				continue
			}
			if k < len(expr) && expr[k] == '(' {
				continue // a function or aggregation
			}
			names = append(names, word)
			continue
		}
		i++
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("unclosed %q in %q", stack[len(stack)-1], expr)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdent(c byte) bool      { return isIdentStart(c) || isDigit(c) }
