package session

import (
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/systables"
	"github.com/cairndb/cairn/internal/types"
)

func txt(s string) types.Datum { return types.NewText(s) }
func i8(v int64) types.Datum   { return types.NewInt(types.Int8, v) }

// defaultShards is one shard per data node, up to 16.
func defaultShards(cat *catalog.Catalog) int { return min(cat.DataNodes(), 16) }

// defaultReplicas is three, or fewer on a smaller cluster.
func defaultReplicas(cat *catalog.Catalog) int { return min(3, cat.DataNodes()) }

// checkReplicas refuses more replicas than the cluster has data nodes.
func checkReplicas(cat *catalog.Catalog, r int, pos int) error {
	if r > cat.DataNodes() {
		return pgerr.TooFewDataNodes.New(r, r, cat.DataNodes()).WithPos(pos)
	}
	return nil
}

// lookupNode returns the named node or a 42704 error.
func lookupNode(cat *catalog.Catalog, name string, pos int) (*catalog.Node, error) {
	nd := cat.Nodes[name]
	if nd == nil {
		names := make([]string, 0, len(cat.Nodes))
		for _, x := range cat.SortedNodes() {
			names = append(names, x.Name)
		}
		return nil, pgerr.NodeNotFound.New(name).
			WithHint("The cluster's nodes are %v (SHOW NODES).", names).WithPos(pos)
	}
	return nd, nil
}

// nodeState is what cairn_cluster.nodes shows: the operator's state if
// one is set, else liveness.
func nodeState(b Backend, nd *catalog.Node) string {
	if nd.State != "" {
		return nd.State
	}
	return b.Liveness(nd)
}

// systemTable returns the cairn_cluster table called name.
func systemTable(b Backend, name string) (exec.Source, error) {
	if name == "operations" {
		return operationsTable(b.Catalog()), nil
	}
	if name == systables.DisksTable {
		return systables.Disks(b.Catalog()), nil
	}
	if name == systables.SchedulesTable {
		return systables.Schedules(b.Catalog()), nil
	}
	if name == systables.AlertsTable {
		return systables.Alerts(b.Catalog()), nil
	}
	src, ok, err := b.SystemTable(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, pgerr.SystemTableNotFound.New("cairn_cluster", name)
	}
	return src, nil
}
