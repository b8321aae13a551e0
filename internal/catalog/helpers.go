package catalog

import (
	"fmt"
	"sort"
	"time"
)

// SettingDefaults are the cluster settings (ALTER SYSTEM SET) and their
// defaults. The SQL session validates new values; the catalog only stores
// them.
var SettingDefaults = map[string]string{
	"primary_only":     "off",
	"auto_failover":    "on",
	"auto_rebalance":   "on",
	"suspect_after":    "3s",
	"dead_after":       "30s",
	"preferred_leader": "",
	// AuditMaxSetting: the most events cairn_cluster.audit_log keeps.
	AuditMaxSetting: "10000",
	// cairn_cluster.compute_load's scale-out signal (issue 13):
	// ScaleOutLag, the average lag of compute nodes' scheduled views
	// above which to add one; ScaleOutViews, the views every compute
	// node owning more than that asks for one.
	ScaleOutLag:   "10s",
	ScaleOutViews: "8",
	// LBMinHealthScore: cairn proxy --mode health_based (issue 15).
	LBMinHealthScore: "50",
}

// Setting returns cluster setting name (its default when unset); ok is
// false for an unknown name.
func (c *Catalog) Setting(name string) (string, bool) {
	def, ok := SettingDefaults[name]
	if !ok {
		return "", false
	}
	if v, ok := c.Settings[name]; ok {
		return v, true
	}
	return def, true
}

// SettingOn reads a boolean cluster setting.
func (c *Catalog) SettingOn(name string) bool {
	v, _ := c.Setting(name)
	return v == "on"
}

// SettingDuration reads a duration cluster setting (stored in Go form).
func (c *Catalog) SettingDuration(name string) time.Duration {
	v, _ := c.Setting(name)
	d, err := time.ParseDuration(v)
	if err != nil {
		d, _ = time.ParseDuration(SettingDefaults[name])
	}
	return d
}

// NodeLabel names a raft id for messages: node "n2", or node #7 for one
// the catalog lacks.
func (c *Catalog) NodeLabel(id uint64) string {
	if nd := c.NodeByID(id); nd != nil {
		return fmt.Sprintf("node %q", nd.Name)
	}
	return fmt.Sprintf("node #%d", id)
}

// BareName is a node's name, or #id for one the catalog lacks.
func (c *Catalog) BareName(id uint64) string {
	if nd := c.NodeByID(id); nd != nil {
		return nd.Name
	}
	return fmt.Sprintf("#%d", id)
}

// NodeNames lists the nodes' names, sorted: "[n1 n3]".
func (c *Catalog) NodeNames(ids []uint64) string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		names = append(names, c.BareName(id))
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

// GroupTarget names a shard for an operation's target column:
// "shard 7 (stream events/2)", "shard 1 (meta)".
func (c *Catalog) GroupTarget(gid uint64) string {
	if gid == MetaGroupID {
		return "shard 1 (meta)"
	}
	ref := c.Groups()[gid]
	kind := "stream"
	switch ref.Kind {
	case GroupView:
		kind = "view"
	case GroupTable:
		kind = "table"
	}
	return fmt.Sprintf("shard %d (%s %s/%d)", gid, kind, ref.Object, ref.Shard)
}
