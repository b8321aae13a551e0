package node

import (
	"context"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/disk"
)

// Disks (issue 13). n.disks keeps one open store per catalog disk, for
// whatever writes to disks (scheduled views' checkpoints, backups):
// n.disks.Get(ctx, name). CREATE DISK probes a disk from the node that
// runs the statement before it is recorded (disk.Probe).

// ProbeDisk implements session.Backend.
func (b sessionBackend) ProbeDisk(ctx context.Context, d *catalog.Disk) error {
	return disk.Probe(ctx, d, b.n.cfg.NodeID)
}
