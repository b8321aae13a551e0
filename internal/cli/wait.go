package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
)

// isTerminal reports whether w is a terminal, where a wait redraws one
// progress line instead of printing a line per change. A variable so tests
// can pretend.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// waitOps waits for each operation in turn, within timeout overall. The
// last operation's reply body is returned for --json.
func waitOps(ctx context.Context, c *apiClient, ids []string, timeout time.Duration, out io.Writer) ([]byte, error) {
	if timeout <= 0 {
		return nil, Exit(ExitUsage, fmt.Errorf("--timeout must be positive, got %s", timeout))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var raw []byte
	for _, id := range ids {
		var err error
		if raw, err = waitOp(ctx, c, id, timeout, out); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

// waitOp polls one operation until it finishes, ctx ends or the API
// answers with an error that retrying cannot fix. Unavailability (503, or
// no connection once the node has answered) is retried: a wait often
// spans a failover or a node restart.
func waitOp(ctx context.Context, c *apiClient, id string, timeout time.Duration, out io.Writer) ([]byte, error) {
	tty := isTerminal(out)
	tick := time.NewTicker(opsPollInterval)
	defer tick.Stop()
	var last string
	var o op
	answered := false
	endLine := func() {
		if tty && last != "" {
			io.WriteString(out, "\n")
		}
	}
	for {
		res, raw, err := c.result(ctx, http.MethodGet, "/api/v1/operations/"+url.PathEscape(id), nil)
		switch {
		case err != nil && ctx.Err() != nil:
			// Reported below as a timeout or an interrupt.
		case err != nil:
			var ae *apiError
			var ne *netError
			retry := errors.As(err, &ae) && ae.status == http.StatusServiceUnavailable ||
				errors.As(err, &ne) && answered
			if !retry {
				endLine()
				return nil, failed(err)
			}
		case len(res.Rows) == 0:
			endLine()
			return nil, failed(fmt.Errorf("operation %s: the API returned no row", id))
		default:
			answered = true
			o = opRow(res, res.Rows[0])
			line := o.line()
			if tty {
				fmt.Fprintf(out, "\r\033[K%s", line)
			} else if line != last {
				fmt.Fprintln(out, line)
			}
			last = line
			switch o["status"] {
			case "done":
				endLine()
				return raw, nil
			case "failed", "cancelled":
				endLine()
				msg := o["error"]
				if msg == "" {
					msg = "no error recorded"
				}
				return nil, failed(fmt.Errorf("operation %s (%s %s) %s: %s", id, o["op_type"], o["target"], o["status"], msg))
			}
		}
		select {
		case <-ctx.Done():
			endLine()
			if ctx.Err() == context.Canceled {
				return nil, failed(fmt.Errorf("interrupted while waiting for operation %s; it keeps running", id))
			}
			state := "status unknown"
			if o != nil {
				state = "status " + o["status"]
				if p := o["progress"]; p != "" {
					state += ", progress " + p
				}
			}
			return nil, Exit(ExitWaitTimeout, fmt.Errorf("timed out after %s waiting for operation %s (%s); it keeps running: `cairn ops wait %s` waits again", timeout, id, state, id))
		case <-tick.C:
		}
	}
}

// opIDs returns the op_id values of a mutating statement's result.
func opIDs(res *httpapi.SQLResult) []string {
	i := colIndex(res, "op_id")
	var ids []string
	for _, row := range res.Rows {
		if id := cell(row, i); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// mutate runs one mutating route, prints what it started and, with
// --wait, waits for every operation it returned.
func mutate(cmd *cobra.Command, f *adminFlags, w *waitFlags, method, path string, body any) error {
	c := f.client(cmd)
	res, raw, err := c.result(cmd.Context(), method, path, body)
	if err != nil {
		return failed(err)
	}
	out := cmd.OutOrStdout()
	printNotices(cmd, res)
	progress := out
	if f.json {
		writeRaw(out, raw)
		progress = cmd.ErrOrStderr()
	} else {
		printOpsResult(out, res)
	}
	if w == nil || !w.wait {
		return nil
	}
	ids := opIDs(res)
	if len(ids) == 0 {
		return nil
	}
	_, err = waitOps(cmd.Context(), c, ids, w.timeout, progress)
	return err
}
