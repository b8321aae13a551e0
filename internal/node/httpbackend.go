package node

import (
	"context"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// httpBackend adapts a Node to the HTTP API.
type httpBackend struct{ n *Node }

func (h httpBackend) NodeID() string { return h.n.cfg.NodeID }

func (h httpBackend) Ready() error {
	st, ok := h.n.store.Status(catalog.MetaGroupID)
	if !ok || st.Leader == 0 {
		return pgerr.MetaNoLeaderYet.New()
	}
	return nil
}

func (h httpBackend) StreamColumns(name string) ([]httpapi.Column, error) {
	s := h.n.meta.Catalog().Streams[name]
	if s == nil {
		return nil, catalog.ErrNoStream(name)
	}
	cols := make([]httpapi.Column, len(s.Cols))
	for i, c := range s.Cols {
		cols[i] = httpapi.Column{Name: c.Name, T: c.T}
	}
	return cols, nil
}

func (h httpBackend) Insert(ctx context.Context, stream string, b *types.Batch) (int, error) {
	if _, err := h.n.router.Insert(ctx, stream, b); err != nil {
		return 0, err
	}
	return b.N, nil
}
