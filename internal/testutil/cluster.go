package testutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Cluster is a set of named Nodes of one binary: every node's data dir is
// Dir/<name>, and each joins through a running member. The exported
// fields are set before the first Add and apply to every node.
type Cluster struct {
	Bin      string
	Dir      string
	Args     []string  // flags for every node
	LogDir   string    // with LogDir, node n logs to LogDir/n.log; otherwise in memory
	Label    string    // names the tool in log files' start and exit lines
	Echo     io.Writer // also receives every node's output
	OwnGroup bool      // see Node.OwnGroup
	CertsDir string    // every node starts secure with this certs dir (MakeCerts); "" insecure

	mu struct {
		sync.Mutex
		nodes map[string]*Node
		order []string
	}
}

// StartCluster starts n nodes named n1…nN in a new temp dir (n1
// bootstraps, the others join it) and, for more than one, waits until
// n1 sees them all live. Stop ends them and removes the dir.
func StartCluster(ctx context.Context, c *Cluster, n int) error {
	if c.Dir == "" {
		dir, err := os.MkdirTemp("", "cairn-cluster-")
		if err != nil {
			return err
		}
		c.Dir = dir
	}
	join := ""
	for i := 1; i <= n; i++ {
		p, err := c.Add(ctx, fmt.Sprintf("n%d", i), join)
		if err != nil {
			c.Stop()
			return err
		}
		if join == "" {
			join = p.Cluster
		}
	}
	if n > 1 {
		if err := c.WaitLive(ctx, n, 30*time.Second); err != nil {
			c.Stop()
			return err
		}
	}
	return nil
}

// Add creates data node name, joining through join (empty bootstraps),
// and starts it.
func (c *Cluster) Add(ctx context.Context, name, join string) (*Node, error) {
	return c.AddRole(ctx, name, join, RoleData)
}

// Node roles (cairn start --role).
const (
	RoleData    = "data"    // holds Raft replicas
	RoleCompute = "compute" // no replicas: runs scheduled views and queries
)

// AddRole is Add for a node of role (RoleData or RoleCompute). A compute
// node cannot bootstrap a cluster: it needs join.
func (c *Cluster) AddRole(ctx context.Context, name, join, role string) (*Node, error) {
	switch role {
	case RoleData:
	case RoleCompute:
		if join == "" {
			return nil, fmt.Errorf("compute node %s needs a cluster to join", name)
		}
	default:
		return nil, fmt.Errorf("node %s: role %q, want %q or %q", name, role, RoleData, RoleCompute)
	}
	p, err := NewNode(c.Bin, name, filepath.Join(c.Dir, name))
	if err != nil {
		return nil, err
	}
	p.Args = slices.Clone(c.Args)
	if role != RoleData {
		p.Args = append(p.Args, "--role", role)
	}
	if join != "" {
		p.Args = append(p.Args, "--join", join)
	}
	if c.LogDir != "" {
		p.LogPath = filepath.Join(c.LogDir, name+".log")
	}
	p.Label, p.Echo, p.OwnGroup, p.CertsDir = c.Label, c.Echo, c.OwnGroup, c.CertsDir
	c.mu.Lock()
	if c.mu.nodes == nil {
		c.mu.nodes = map[string]*Node{}
	}
	if _, ok := c.mu.nodes[name]; ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("node %s exists", name)
	}
	c.mu.nodes[name] = p
	c.mu.order = append(c.mu.order, name)
	c.mu.Unlock()
	return p, p.StartNew(ctx)
}

// Node returns node name, or nil.
func (c *Cluster) Node(name string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.nodes[name]
}

// Nodes returns every node ever added, in order.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Node, len(c.mu.order))
	for i, n := range c.mu.order {
		out[i] = c.mu.nodes[n]
	}
	return out
}

// Names lists every node ever added, in order.
func (c *Cluster) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.mu.order)
}

// Up lists the nodes whose process runs (paused ones included: a client
// cannot know), in order.
func (c *Cluster) Up() []string {
	var out []string
	for _, n := range c.Nodes() {
		if n.Running() {
			out = append(out, n.Name)
		}
	}
	return out
}

// StopAll terminates every running node at once, each with grace (then
// SIGKILL).
func (c *Cluster) StopAll(grace time.Duration) {
	var wg sync.WaitGroup
	for _, n := range c.Nodes() {
		if !n.Running() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = n.Terminate(grace)
		}()
	}
	wg.Wait()
}

// Stop terminates every node (10 s grace each) and removes Dir.
func (c *Cluster) Stop() {
	c.StopAll(10 * time.Second)
	if c.Dir != "" {
		os.RemoveAll(c.Dir)
	}
}

// WaitLive waits until a running node sees n nodes live, and a little
// more for the meta group to promote its voters.
func (c *Cluster) WaitLive(ctx context.Context, n int, timeout time.Duration) error {
	want := fmt.Sprint(n)
	last := "no node answered"
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		for _, name := range c.Up() {
			rows, err := Query(ctx, c.Node(name).URL(), 2*time.Second, "SELECT count(*) FROM cairn_cluster.nodes WHERE state = 'live'")
			if err != nil {
				last = err.Error()
				continue
			}
			if len(rows) == 1 && rows[0][0] == want {
				return Sleep(ctx, 2*time.Second)
			}
			last = fmt.Sprintf("%s sees %v live", name, rows)
			break
		}
		if err := Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("the cluster did not see %d live nodes within %s: %s", n, timeout, last)
}

// Sleep waits d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Pace is the head of a workload loop: it waits d (none for 0) and
// reports whether to go on, false once stop is closed or ctx is done.
func Pace(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	if stopped(ctx, stop) || d <= 0 {
		return !stopped(ctx, stop)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func stopped(ctx context.Context, stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}
