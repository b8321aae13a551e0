package node

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cairndb/cairn/internal/alert"
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/memory"
)

// Health and alerts (issue 15): each node samples its own health report
// (alert.Sampler) and sends it with its heartbeats; the reports heard are
// kept in book. cairn_cluster.health and .quorum read them through
// clusterStatus.HealthInputs; the alert evaluator runs on the meta
// leader (alert.Evaluator, whose Env is alertEnv). docs/health.md,
// docs/alerts.md.
type healthParts struct {
	sampler *alert.Sampler
	book    alert.Book
	eval    *alert.Evaluator
}

// newHealth makes the sampler; it reads the store and the catalog only
// once they exist.
func (n *Node) newHealth() {
	n.health = &healthParts{}
	machine, _ := memory.Machine()
	n.health.sampler = alert.NewSampler(alert.SamplerConfig{
		Self:    n.id.RaftID,
		DataDir: n.cfg.DataDir,
		// Against --max-memory, or the machine's memory without one.
		Memory: func() (uint64, uint64) { return n.mem.Usage().Total, cmp.Or(n.mem.Limit(), machine) },
		Fsync:  n.metrics.FsyncLatency,
		Groups: n.localGroups,
		Counts: func() (uint64, uint64) {
			return sumCounter(n.metrics.RaftElections), sumCounter(n.metrics.RaftLeaderChanges)
		},
		Now: n.clock.Now,
	})
	n.health.eval = alert.NewEvaluator(n.ctx, alertEnv{n}, &http.Client{}, alert.DefaultRetry, n.log)
}

// localGroups is the raft state of this node's replicas (meta included).
func (n *Node) localGroups() []alert.GroupState {
	if n.store == nil || n.meta == nil {
		return nil
	}
	ids := []uint64{catalog.MetaGroupID}
	for gid, ref := range n.meta.Catalog().Groups() {
		for _, id := range ref.Nodes {
			if id == n.id.RaftID {
				ids = append(ids, gid)
				break
			}
		}
	}
	out := make([]alert.GroupState, 0, len(ids))
	for _, gid := range ids {
		if st, ok := n.store.Status(gid); ok {
			out = append(out, alert.GroupState{ID: gid, IsLeader: st.IsLeader, Commit: st.Commit, Match: st.Match})
		}
	}
	return out
}

// healthReport is the report sent with heartbeats.
func (n *Node) healthReport() json.RawMessage {
	b, _ := json.Marshal(n.health.sampler.Last())
	return b
}

// onHealth keeps another node's report.
func (n *Node) onHealth(from uint64, raw json.RawMessage) {
	var r alert.Report
	if json.Unmarshal(raw, &r) == nil {
		n.health.book.Put(from, r)
	}
}

// healthInputs is what this node knows for the health table and the
// evaluator. Lags reported by nodes that are not live are left out: a
// dead leader's last word on its followers is stale.
func (n *Node) healthInputs() alert.Inputs {
	cat := n.meta.Catalog()
	reports := n.health.book.All()
	for _, nd := range cat.Nodes {
		if r, ok := reports[nd.ID]; ok && n.liveness(nd) != "live" {
			r.FollowerLagMs, r.GroupLagMs = nil, nil
			reports[nd.ID] = r
		}
	}
	if self := n.health.sampler.Last(); self.At != 0 {
		reports[n.id.RaftID] = self
	}
	in := alert.Inputs{Now: n.clock.Now(), Cat: cat, Reports: reports, Liveness: n.liveness,
		State: func(nd *catalog.Node) string {
			if nd.State != "" {
				return nd.State
			}
			return n.liveness(nd)
		}}
	if st, ok := n.store.Status(catalog.MetaGroupID); ok {
		in.MetaVoters = st.Voters
	}
	return in
}

// HealthInputs implements systables.HealthSource.
func (c clusterStatus) HealthInputs() alert.Inputs { return c.n.healthInputs() }

// alertEnv is the node as the alert evaluator sees it (alert.Env).
type alertEnv struct{ n *Node }

func (e alertEnv) Catalog() *catalog.Catalog { return e.n.meta.Catalog() }
func (e alertEnv) Facts() alert.Facts        { return alert.Gather(e.n.healthInputs()) }
func (e alertEnv) IsEvaluator() bool {
	st, ok := e.n.store.Status(catalog.MetaGroupID)
	return ok && st.IsLeader
}
func (e alertEnv) Propose(ctx context.Context, c catalog.Command) error {
	_, err := e.n.proposeMeta(ctx, c)
	return err
}

// sumCounter is a counter's total over all its labels.
func sumCounter(c prometheus.Collector) uint64 {
	ch := make(chan prometheus.Metric, 16)
	go func() { c.Collect(ch); close(ch) }()
	var sum float64
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil && d.Counter != nil {
			sum += d.Counter.GetValue()
		}
	}
	return uint64(sum)
}
