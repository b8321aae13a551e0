// Package e2e holds tests that run the real cairn binary: SQL scripts
// against a live node, crash tests that kill it with SIGKILL, clusters of
// processes under faults and cluster operations. The processes are
// testutil's harness and the verdicts its exactly-once checker.
package e2e

import (
	"testing"

	"github.com/cairndb/cairn/internal/testutil"
)

// Proc is a cairn start process owned by a test.
type Proc = testutil.Proc

// NewProc prepares (does not start) a node with a fresh data dir and ports.
func NewProc(t testing.TB) *Proc { return testutil.NewProc(t) }

// Binary builds cmd/cairn once per test process and returns its path.
func Binary(t testing.TB) string { return testutil.MustBinary(t) }
