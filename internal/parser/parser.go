package parser

// Parse parses semicolon-separated statements. texts[i] is the source text
// of stmts[i] (without the terminating semicolon).
func Parse(sql string) (stmts []Statement, texts []string, err error) {
	return nil, nil, &Error{Code: "0A000", Msg: "parser not built yet"}
}
