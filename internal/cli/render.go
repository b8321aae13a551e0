package cli

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
)

// colIndex returns the position of column name in res, or -1.
func colIndex(res *httpapi.SQLResult, name string) int {
	for i, c := range res.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// cell returns row[i] as text ("" for NULL or a missing cell).
func cell(row []*string, i int) string {
	if i < 0 || i >= len(row) || row[i] == nil {
		return ""
	}
	return *row[i]
}

// cellFormat renders one cell of a column; nil means NULL.
type cellFormat func(v *string) string

// printTable prints res as an aligned table in the server's column order,
// so columns this CLI does not know are shown too. NULL prints empty.
func printTable(w io.Writer, res *httpapi.SQLResult, formats map[string]cellFormat) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, c := range res.Columns {
		if i > 0 {
			io.WriteString(tw, "\t")
		}
		io.WriteString(tw, strings.ToUpper(c))
	}
	io.WriteString(tw, "\n")
	for _, row := range res.Rows {
		for i, c := range res.Columns {
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			var v *string
			if i < len(row) {
				v = row[i]
			}
			s := ""
			if f := formats[c]; f != nil {
				s = f(v)
			} else if v != nil {
				s = *v
			}
			io.WriteString(tw, tableSafe(s))
		}
		io.WriteString(tw, "\n")
	}
	tw.Flush()
}

// tableSafe keeps a cell on one line and in one column.
func tableSafe(s string) string {
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// progressBar renders a progress fraction ("0.45") as
// "[########----------]  45%"; text that is not a number prints as is.
func progressBar(v *string) string {
	if v == nil || *v == "" {
		return ""
	}
	f, err := strconv.ParseFloat(*v, 64)
	if err != nil || math.IsNaN(f) {
		return *v
	}
	f = math.Max(0, math.Min(1, f))
	filled := int(math.Floor(f*progressBarWidth + 1e-9))
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", filled),
		strings.Repeat("-", progressBarWidth-filled), int(math.Round(f*100)))
}

// opFormats renders the progress column of cairn_cluster.operations.
var opFormats = map[string]cellFormat{"progress": progressBar}

// op is one row of cairn_cluster.operations by column name.
type op map[string]string

func opRow(res *httpapi.SQLResult, row []*string) op {
	o := op{}
	for i, c := range res.Columns {
		o[c] = cell(row, i)
	}
	return o
}

// finished reports whether status is terminal.
func finished(status string) bool {
	return status == "done" || status == "failed" || status == "cancelled"
}

// line is the one-line progress report of a wait.
func (o op) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "operation %s", o["op_id"])
	if what := strings.TrimSpace(o["op_type"] + " " + o["target"]); what != "" {
		b.WriteString(" (" + what + ")")
	}
	b.WriteString(": " + o["status"])
	if p := o["progress"]; p != "" {
		b.WriteString("  " + progressBar(&p))
	}
	if s := o["current_step"]; s != "" && !finished(o["status"]) {
		b.WriteString("  " + tableSafe(s))
	}
	return b.String()
}

// printOpsResult prints what a mutating statement returned: the
// operations it started, or that there was nothing to do.
func printOpsResult(w io.Writer, res *httpapi.SQLResult) {
	if len(res.Rows) == 0 {
		tag := res.Tag
		if tag == "" {
			tag = "OK"
		}
		fmt.Fprintf(w, "%s: no operation started (nothing to do)\n", tag)
		return
	}
	printTable(w, res, opFormats)
}

// printNotices shows server notices on stderr, like psql.
func printNotices(cmd *cobra.Command, res *httpapi.SQLResult) {
	for _, n := range res.Notices {
		fmt.Fprintln(cmd.ErrOrStderr(), "NOTICE: "+n)
	}
}
