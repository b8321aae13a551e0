package chaos

import (
	"github.com/cairndb/cairn/internal/testutil"
)

// newCluster is the campaign's cluster: nodes of bin with data dirs under
// dataRoot, each logging to logDir/<name>.log, with the test faults on.
// Each runs in its own process group, so a terminal's Ctrl-C reaches only
// us and we stop them in order.
func newCluster(bin, dataRoot, logDir string, extra []string) *testutil.Cluster {
	return &testutil.Cluster{Bin: bin, Dir: dataRoot, LogDir: logDir, Label: "chaos", OwnGroup: true,
		Args: append([]string{"--log-level", "info", "--unsafe-test-faults"}, extra...)}
}

// up reports whether node name exists and its process runs.
func (r *runner) up(name string) bool {
	n := r.c.Node(name)
	return n != nil && n.Running()
}

// url is the node's PostgreSQL URL, with a bound on connecting.
func (r *runner) url(name string) string {
	n := r.c.Node(name)
	if n == nil {
		return ""
	}
	return n.URL() + "&connect_timeout=3"
}
