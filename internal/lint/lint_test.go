package lint

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/cairndb/cairn/"

// list returns, for every package of the module, what the template
// lists: the packages it imports ({{.Imports}}) or reaches ({{.Deps}}).
func list(t *testing.T, field string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .`+field+`}} {{.}}{{end}}`, mod+"...")
	cmd.Dir = "../.."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			m[strings.TrimPrefix(f[0], mod)] = f[1:]
		}
	}
	if len(m) < 20 {
		t.Fatalf("go list found only %d packages", len(m))
	}
	return m
}

// under reports whether package p is dir or inside it.
func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// TestArrows fails when a package reaches a package it must not: the
// arrows of the house only point down. A module package is banned
// directly or through others; an outside one (net, os, raft) only as a
// direct import (the standard library reaches them everywhere).
func TestArrows(t *testing.T) {
	all, direct := list(t, "Deps"), list(t, "Imports")
	rules := []struct {
		from   string   // a package, and everything under it
		banned []string // module packages (and below) or outside import paths it must not reach
		why    string
	}{
		{"internal/sql", []string{"internal/raftstore", "internal/transport", "internal/node", "internal/replica", "internal/router", "internal/cluster", "go.etcd.io/raft/v3"},
			"SQL plans and sessions reach the cluster only through the Backend the session declares"},
		{"internal/cluster/placement", []string{"internal/raftstore", "internal/transport", "net", "os", "go.etcd.io/raft/v3", "github.com/cockroachdb/pebble/v2/vfs"},
			"placement decisions are pure: no I/O"},
		{"internal/cluster/scheduler", []string{"internal/raftstore", "internal/transport", "net", "os", "go.etcd.io/raft/v3"},
			"scheduling decisions are pure: no I/O"},
		{"internal/cluster/membership", []string{"internal/raftstore", "internal/transport", "internal/catalog", "net"},
			"liveness is a pure record of heartbeats"},
		{"internal/cluster/member", []string{"internal/raftstore", "internal/transport", "internal/node", "internal/replica", "internal/router", "net"},
			"a member acts through the Raft and Caller interfaces it declares"},
		{"internal/cluster/ops", []string{"internal/raftstore", "internal/transport", "internal/node", "internal/replica", "internal/router", "net"},
			"the executor acts only through the Cluster interface it declares"},
		{"internal/raftstore", []string{"internal/pgerr", "internal/catalog", "internal/sql", "internal/node", "internal/frontend"},
			"the multi-raft store knows nothing of SQL or its errors"},
		{"internal/replica", []string{"internal/router", "internal/node", "internal/sql/session", "internal/frontend", "internal/transport"},
			"replicas read other nodes only through the Sources the node gives them"},
		{"internal/router", []string{"internal/node", "internal/sql/session", "internal/frontend"},
			"the router serves the session; it does not know it"},
		{"internal/frontend", []string{"internal/node", "internal/replica", "internal/router", "internal/raftstore", "internal/catalog"},
			"front ends declare the Handler/Backend they need"},
		{"internal/catalog", []string{"internal/raftstore", "internal/sql", "internal/node", "internal/transport"},
			"the catalog is desired state and its state machine"},
		{"internal/rpc", []string{"internal/raftstore", "internal/transport", "internal/node", "internal/catalog"},
			"wire types are a leaf"},
		{"internal/sched", []string{"internal/router", "internal/node", "internal/sql/session", "internal/frontend", "internal/transport"},
			"a scheduled view's owner reads other nodes only through the Sources the node gives it"},
		{"internal/bugs", []string{"internal/node", "internal/replica", "internal/router"},
			"deliberate bugs are hooks the node calls"},
		{"internal/proxy", []string{"internal/node", "internal/catalog", "internal/sql", "internal/raftstore", "internal/transport", "internal/replica", "internal/router", "internal/frontend", "internal/cluster"},
			"cairn proxy is a client of the cluster: it learns everything over pgwire"},
	}
	for _, r := range rules {
		for p, ds := range all {
			if !under(p, r.from) {
				continue
			}
			for _, d := range ds {
				local, ok := strings.CutPrefix(d, mod)
				for _, b := range r.banned {
					if ok && under(local, b) {
						t.Errorf("%s reaches %s: %s", p, d, r.why)
					}
				}
			}
			for _, d := range direct[p] {
				for _, b := range r.banned {
					if !strings.HasPrefix(b, "internal/") && under(d, b) {
						t.Errorf("%s imports %s: %s", p, d, r.why)
					}
				}
			}
		}
	}
	// Nothing below the wiring point imports it: only cmd/cairn and the
	// in-process test cluster start nodes.
	for p, ds := range all {
		if p == "cmd/cairn" || under(p, "internal/node") || p == "internal/testutil/testcluster" {
			continue
		}
		for _, d := range ds {
			if d == mod+"internal/node" {
				t.Errorf("%s imports internal/node: only cmd/cairn wires nodes", p)
			}
		}
	}
}

// TestDecisionsReadNoClock keeps placement and scheduling deterministic:
// their non-test code never asks the time (the caller passes now).
func TestDecisionsReadNoClock(t *testing.T) {
	for _, dir := range []string{"../cluster/placement", "../cluster/scheduler"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, banned := range []string{"time.Now(", "time.Since(", "time.Sleep(", "time.After("} {
				if bytes.Contains(b, []byte(banned)) {
					t.Errorf("%s calls %s: decisions take now as an argument", f, banned)
				}
			}
		}
	}
}
