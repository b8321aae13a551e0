package replica

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/tablesm"
)

// startTables starts this node's replicas of table shards.
func (m *Manager) startTables(cat *catalog.Catalog, want map[uint64]catalog.GroupRef) {
	for _, t := range cat.SortedTables() {
		for i, gid := range t.Groups {
			peers, ok := m.startPeers(cat, want, gid)
			if !ok {
				continue
			}
			sm := tablesm.New(raftstore.DataPrefix(gid), m.store.DB())
			if err := m.store.StartGroup(gid, sm, peers); err != nil {
				m.log.Error("start table shard", "table", t.Name, "shard", i, "group", gid, "err", err)
				continue
			}
			m.Add(&Group{ID: gid, Ref: catalog.GroupRef{Kind: catalog.GroupTable, Object: t.Name, Shard: i}, Table: sm})
		}
	}
}

// TableRows reads the stored rows of local table shard gid (those with
// the given encoded keys, or all), after a ReadIndex barrier when
// linearizable. fn gets each row value, valid during the call.
func (m *Manager) TableRows(ctx context.Context, gid uint64, keys [][]byte, linearizable bool, fn func(v []byte) error) error {
	g := m.Get(gid)
	if g == nil || g.Table == nil {
		return pgerr.GroupNotOnNode.New("table", gid)
	}
	if err := m.Servable(gid); err != nil {
		return err
	}
	if linearizable {
		if err := m.ReadIndex(ctx, gid); err != nil {
			return err
		}
	}
	prefix := raftstore.DataPrefix(gid)
	if keys != nil {
		for _, k := range keys {
			v, err := tablesm.Lookup(m.store.DB(), prefix, k)
			if err != nil {
				return err
			}
			if v != nil {
				if err := fn(v); err != nil {
					return err
				}
			}
		}
	} else if err := tablesm.Rows(m.store.DB(), prefix, func(_, v []byte) error { return fn(v) }); err != nil {
		return err
	}
	return m.StillHere(g)
}

// handleTableRows serves rpc.TableRows.
func (m *Manager) handleTableRows(ctx context.Context, req []byte) ([]byte, error) {
	var r rpc.TableRowsRequest
	if err := json.Unmarshal(req, &r); err != nil {
		return nil, pgerr.New(pgerr.ProtocolViolation, "bad table_rows request: %v", err)
	}
	rep := rpc.TableRowsReply{Rows: [][]byte{}}
	err := m.TableRows(ctx, r.Group, r.Keys, r.Linearizable, func(v []byte) error {
		rep.Rows = append(rep.Rows, bytes.Clone(v))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(rep)
}
