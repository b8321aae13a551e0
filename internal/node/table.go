package node

import (
	"context"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/tablesm"
)

// TableSource implements session.TableBackend: reads are linearizable
// (a ReadIndex barrier on every shard read).
func (b sessionBackend) TableSource(t *catalog.Table) exec.KeyedSource {
	return b.n.router.TableSource(t, true)
}

// TableWrite implements session.TableBackend.
func (b sessionBackend) TableWrite(ctx context.Context, t *catalog.Table, cmds map[int]*tablesm.Command) (int, error) {
	return b.n.router.TableWrite(ctx, t, cmds)
}
