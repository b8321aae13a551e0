package chaos

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/cairndb/cairn/internal/testutil"
)

// newCluster is the campaign's cluster: nodes of bin with data dirs under
// dataRoot, each logging to logDir/<name>.log, with the test faults on,
// secure with certsDir when it is set. Each runs in its own process
// group, so a terminal's Ctrl-C reaches only us and we stop them in order.
func newCluster(bin, dataRoot, logDir, certsDir string, extra []string) *testutil.Cluster {
	return &testutil.Cluster{Bin: bin, Dir: dataRoot, LogDir: logDir, Label: "chaos", OwnGroup: true, CertsDir: certsDir,
		Args: append([]string{"--log-level", "info", "--unsafe-test-faults"}, extra...)}
}

// makeCerts makes the certificates of a secure campaign in root/certs, as
// cairn cert would: a CA, a node certificate for the loopback addresses
// every node listens on, and client.cairn for the workload and checks.
func makeCerts(root string) (string, error) {
	dir := filepath.Join(root, "certs")
	if err := testutil.CreateCerts(dir); err != nil {
		return "", fmt.Errorf("--secure: %w", err)
	}
	return dir, nil
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

// addRole adds node name with --role role, joining through join.
func (r *runner) addRole(ctx context.Context, name, join, role string) error {
	_, err := r.c.AddRole(ctx, name, join, role)
	return err
}

// dataNode reports whether name is a data node (not a compute node).
func (r *runner) dataNode(name string) bool { return !r.compute[name] }
