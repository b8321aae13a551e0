// Package session runs one client's statements: it turns each parsed
// statement into a prepared plan or command — SELECT and INSERT, COPY
// (FROM and TO, copyto.go), cursors (cursor.go), SQL-level PREPARE and
// EXECUTE (prepare.go), session settings and transaction blocks, DDL (CREATE/DROP STREAM and
// VIEW, ALTER SYSTEM) and the admin statements (ALTER NODE, ALTER SHARD,
// FAILOVER, REBALANCE, CANCEL OPERATION), roles and grants (roles.go),
// disks (disk.go) —
// and runs it against the Backend it is given, after checking that the
// session's user may (authz.go). It knows nothing of Raft, replicas or the network:
// the node implements Backend.
package session

import (
	"context"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// Backend is what a session needs from the node it runs on.
type Backend interface {
	// NodeName is this node's --node-id; RaftID its raft replica id.
	NodeName() string
	RaftID() uint64
	// Version is the Cairn version, for version().
	Version() string

	// Catalog is the current catalog (read-only).
	Catalog() *catalog.Catalog
	// Propose applies a catalog change through the meta group.
	Propose(ctx context.Context, c catalog.Command) (*catalog.Result, error)
	// CreateOp records a new cluster operation; PokeOps wakes the
	// scheduler after one changed.
	CreateOp(ctx context.Context, o *catalog.Operation) (*catalog.Operation, error)
	PokeOps()
	// Reconcile wakes the loop that starts and stops this node's groups.
	Reconcile()
	// Liveness is a node's liveness as this node sees it: live, suspect,
	// dead or unknown.
	Liveness(nd *catalog.Node) string
	// MetaVoters are the meta group's voters as this node knows them.
	MetaVoters() []uint64

	// Place picks the replicas of each shard of a new object.
	Place(shards, replicas int) ([][]uint64, error)
	// WaitGroups waits until the groups of a new object are ready here.
	WaitGroups(ctx context.Context, groups []uint64) error
	// StreamEnd is the end offset of a stream shard.
	StreamEnd(ctx context.Context, st *catalog.Stream, shard int) (uint64, error)
	// WaitViewsCover waits until every view in vs folded its stream up to
	// ends (per stream shard).
	WaitViewsCover(ctx context.Context, vs []*catalog.View, ends []uint64) error
	// ViewOffsets are, per shard of v, the stream offsets it folded up to
	// (nil for a shard no replica reported).
	ViewOffsets(ctx context.Context, v *catalog.View) [][]uint64

	// CheckBatch checks a batch against the stream's columns.
	CheckBatch(stream string, b *types.Batch) error
	// Insert appends b to the stream, returning once it is durable on a
	// majority; with o.SyncViews, once every view over the stream has it.
	Insert(ctx context.Context, stream string, b *types.Batch, o InsertOptions) error

	// StreamSource and ViewSource read a stream's history and a view's
	// rows under the session's read policy.
	StreamSource(st *catalog.Stream, r ReadPolicy) exec.Source
	ViewSource(v *catalog.View, r ReadPolicy) exec.Source
	// SystemTable is a cairn_cluster table; ok is false for an unknown name.
	SystemTable(name string) (src exec.Source, ok bool, err error)
	// ProbeDisk checks that disk d works from this node (reach, write,
	// read back, delete) before CREATE DISK records it; its errors are
	// client-facing and never quote the secret key (disk.Probe).
	ProbeDisk(ctx context.Context, d *catalog.Disk) error

	// TableBackend reads and writes tables.
	TableBackend

	// ForceRecover runs ALTER SHARD … FORCE RECOVER; it answers with one
	// row of forceRecoverCols.
	ForceRecover(ctx context.Context, gid uint64, confirm bool, w pgwire.ResultWriter) ([]types.Datum, error)
}

// ReadPolicy is how a read picks replicas.
type ReadPolicy struct {
	// Linearizable: read_from = leader (or primary_only): a ReadIndex
	// barrier before reading a replica.
	Linearizable bool
	// Skip, if set (skip_unavailable = on), is called for a shard no
	// replica serves; the read goes on without it unless it returns an
	// error.
	Skip func(what string, err error) error
	// Notice, if set, sends the client a NOTICE (a scheduled view read
	// from its last checkpoint says how old it is).
	Notice func(msg string)
}

// InsertOptions are a session's settings for one insert.
type InsertOptions struct {
	// SyncViews (stream_insert_level = sync_commit): return once every
	// view over the stream folded the batch.
	SyncViews bool
	// Targets (pipelinedb.stream_targets) are the ids of the only views
	// that fold the batch; nil: every view over the stream. The set is
	// appended with the batch to the stream's Raft log.
	Targets []uint64
}
