// Package cli is cairn's operator client: the node, shard, ops, cluster
// and debug commands. They talk to any node's admin HTTP API
// (internal/frontend/httpapi, /api/v1/...), which runs the matching SQL admin
// statement; the client only sends requests, waits for operations and
// renders the replies as tables, progress lines or raw JSON, so every
// check lives server-side. Commands returns their cobra commands for the
// binary's root; errors carry the process exit code (ExitCode).
package cli

// Exit codes of the commands.
const (
	ExitFailure = 1 // the request failed, or an operation failed
	ExitUsage   = 2 // bad flags or arguments
	// ExitWaitTimeout is the exit code of a wait that ran out of time.
	ExitWaitTimeout = 2
)

// ExitCode is an error with the exit code the process should end with.
type ExitCode struct {
	Code int
	Err  error
}

func (e *ExitCode) Error() string { return e.Err.Error() }
func (e *ExitCode) Unwrap() error { return e.Err }

// Exit returns err with an exit code.
func Exit(code int, err error) *ExitCode { return &ExitCode{Code: code, Err: err} }
