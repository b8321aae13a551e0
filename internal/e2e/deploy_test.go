package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

// TestDeployStatefulSetFlags starts three nodes the way the Kubernetes
// StatefulSet in deploy/k8s does: all at once, every one with the same
// --join list (which includes itself), --bootstrap-node naming the first,
// and --advertise-host. The cluster forms, the catalog records the
// advertised addresses, `cairn ready` answers, and the preStop hook's
// `cairn node drain` without NAME drains the node of $CAIRN_NODE_ID.
func TestDeployStatefulSetFlags(t *testing.T) {
	names := []string{"n1", "n2", "n3"}
	procs := make([]*Proc, len(names))
	var join []string
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	for i, name := range names {
		procs[i] = NewProc(t)
		procs[i].Name = name
		join = append(join, "localhost:"+port(procs[i].Cluster))
	}
	for _, p := range procs {
		p.Args = append(p.Args, "--join", strings.Join(join, ","), "--bootstrap-node", names[0], "--advertise-host", "localhost")
	}
	for _, p := range procs {
		p.Launch() // in parallel, as podManagementPolicy: Parallel
	}
	for _, p := range procs {
		p.WaitReady()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nodes := func() map[string][]string {
		rows, err := testutil.Query(ctx, procs[0].URL(), 5*time.Second, "SELECT node_id, address, pg_address, state FROM cairn_cluster.nodes")
		if err != nil {
			t.Logf("nodes: %v", err)
			return nil
		}
		m := map[string][]string{}
		for _, r := range rows {
			m[r[0]] = r[1:]
		}
		return m
	}
	want := func(p *Proc, state string) []string {
		return []string{"localhost:" + port(p.Cluster), "localhost:" + port(p.PGAddr), state}
	}
	var got map[string][]string
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		got = nodes()
		ok := len(got) == len(names)
		for _, p := range procs {
			ok = ok && strings.Join(got[p.Name], " ") == strings.Join(want(p, "live"), " ")
		}
		if ok {
			break
		}
	}
	for _, p := range procs {
		if strings.Join(got[p.Name], " ") != strings.Join(want(p, "live"), " ") {
			t.Fatalf("cairn_cluster.nodes: %s is %q, want %q (all: %v)", p.Name, got[p.Name], want(p, "live"), got)
		}
	}

	bin := Binary(t)
	if out, err := exec.CommandContext(ctx, bin, "ready", "--host", procs[1].HTTP).CombinedOutput(); err != nil || !strings.Contains(string(out), `"ready"`) {
		t.Errorf("cairn ready --host %s: %v\n%s", procs[1].HTTP, err, out)
	}

	// The preStop hook: no NAME, the node from the environment.
	drain := exec.CommandContext(ctx, bin, "node", "drain", "--wait", "--timeout", "60s", "--host", procs[0].HTTP)
	drain.Env = append(os.Environ(), "CAIRN_NODE_ID=n3")
	if out, err := drain.CombinedOutput(); err != nil {
		t.Fatalf("CAIRN_NODE_ID=n3 cairn node drain --wait: %v\n%s", err, out)
	}
	got = nodes()
	if got["n3"] == nil || got["n3"][2] != "draining" || got["n2"] == nil || got["n2"][2] != "live" {
		t.Errorf("after draining n3: %v, want n3 draining and n2 live", got)
	}
}
