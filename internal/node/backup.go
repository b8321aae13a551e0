package node

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/backup"
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/replica"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sql/session"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/tablesm"
	"github.com/cairndb/cairn/internal/types"
	"github.com/cairndb/cairn/internal/viewsm"
)

// BACKUP and RESTORE (issue 13). The node whose session runs the
// statement runs it as an operation (OpBackup, OpRestore: the meta
// leader's executor leaves these to it) and records its progress:
// groups done / total.
//
// BACKUP writes the catalog, then asks, for each group (view shards,
// then table shards, then stream shards: every view's offsets are then
// covered by the streams), a node holding a replica to back it up: that
// node passes a ReadIndex barrier, reads the group's data range from one
// Pebble snapshot and writes it to the disk as an SST itself
// (handleBackupGroup). The manifest is written last.
//
// RESTORE reads and checks everything it needs first (manifests, the
// catalog, every SST with its checksum), and only then creates the
// objects (new ids and groups, placed on this cluster) and loads them:
// view shards by one restore command each (viewsm/restore.go) before
// their streams hold events, tables by inserts of their rows, stream
// shards by re-appending their batches in order with their batch ids
// (offsets preserved).

// backupParts is the node's state for backups: what runs here.
type backupParts struct {
	mu struct {
		sync.Mutex
		ops       map[uint64]bool // backup and restore operations running here
		schedules map[string]bool // schedules running here (schedules.go)
	}
}

// running records that operation id runs here (or no longer does).
func (p *backupParts) running(id uint64, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.ops == nil {
		p.mu.ops = map[uint64]bool{}
	}
	if on {
		p.mu.ops[id] = true
	} else {
		delete(p.mu.ops, id)
	}
}

func (p *backupParts) isRunning(id uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.ops[id]
}

// openDisk opens disk name for a backup or restore.
func (n *Node) openDisk(ctx context.Context, name string) (objstore.Store, error) {
	s, err := n.disks.Get(ctx, name)
	if err != nil {
		if pe := pgerr.From(err); pe.Code == pgerr.UndefinedObject {
			return nil, err
		}
		return nil, pgerr.BackupDiskIO.New(name, err)
	}
	return s, nil
}

// Backup implements session.Backuper.
func (b sessionBackend) Backup(ctx context.Context, req session.BackupRequest) (*catalog.Operation, *backup.Manifest, error) {
	return b.n.runBackup(ctx, req)
}

// Restore implements session.Backuper.
func (b sessionBackend) Restore(ctx context.Context, req session.RestoreRequest) (*catalog.Operation, *backup.Manifest, error) {
	return b.n.runRestore(ctx, req)
}

// Backups implements session.Backuper.
func (b sessionBackend) Backups(ctx context.Context, name string) ([]session.DiskBackup, error) {
	var names []string
	if name != "" {
		names = []string{name}
	} else {
		for _, d := range b.n.meta.Catalog().SortedDisks() {
			names = append(names, d.Name)
		}
	}
	var out []session.DiskBackup
	for _, dn := range names {
		store, err := b.n.openDisk(ctx, dn)
		if err != nil {
			return nil, err
		}
		ms, err := backup.List(ctx, store)
		if err != nil {
			return nil, diskErr(dn, "", err)
		}
		for _, m := range ms {
			out = append(out, session.DiskBackup{Disk: dn, Manifest: m})
		}
	}
	return out, nil
}

// diskErr turns an object store error into a client error: a damaged
// object is XX001, anything else an I/O error on the disk.
func diskErr(disk, id string, err error) error {
	if errors.Is(err, objstore.ErrCorrupt) || errors.Is(err, backup.ErrCorruptSST) || errors.Is(err, backup.ErrBrokenChain) {
		return pgerr.BackupCorrupt.New(id, disk, err)
	}
	if errors.Is(err, objstore.ErrNotFound) {
		return pgerr.BackupCorrupt.New(id, disk, fmt.Errorf("an object is missing: %w", err))
	}
	var pe *pgerr.Error
	if errors.As(err, &pe) {
		return pe
	}
	return pgerr.BackupDiskIO.New(disk, err)
}

// opRun records an operation's progress and end.
type opRun struct {
	n  *Node
	op *catalog.Operation
}

func (n *Node) startOp(ctx context.Context, typ, target string, total int) (*opRun, error) {
	o, err := n.ops.Create(ctx, &catalog.Operation{Type: typ, Target: target, Status: catalog.OpRunning, Node: n.cfg.NodeID,
		Total: total, Start: time.Now().UnixMicro()})
	if err != nil {
		return nil, err
	}
	n.bk.running(o.ID, true)
	return &opRun{n: n, op: o}, nil
}

func (r *opRun) progress(ctx context.Context, done int, step string) {
	cp := *r.op
	if cp.Total > 0 {
		cp.Progress = float64(done) / float64(cp.Total)
	}
	cp.Step = step
	if res, err := r.n.proposeMeta(ctx, &catalog.UpdateOperation{Operation: &cp}); err == nil && res.Operation != nil {
		r.op = res.Operation
	}
}

// finish records the outcome (err nil: done) and returns err.
func (r *opRun) finish(err error) error {
	defer r.n.bk.running(r.op.ID, false)
	cp := *r.op
	cp.End = time.Now().UnixMicro()
	if err != nil {
		cp.Status, cp.Error = catalog.OpFailed, pgerr.From(err).Message
	} else {
		cp.Status, cp.Progress, cp.Step = catalog.OpDone, 1, ""
	}
	// The statement's context may be gone (a cancelled statement): the
	// outcome is recorded anyway, within a bound.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.n.ctx), 10*time.Second)
	defer cancel()
	if res, perr := r.n.proposeMeta(ctx, &catalog.UpdateOperation{Operation: &cp}); perr == nil && res.Operation != nil {
		r.op = res.Operation
	} else {
		r.op = &cp
	}
	return err
}

// ---- BACKUP ----

func (n *Node) runBackup(ctx context.Context, req session.BackupRequest) (*catalog.Operation, *backup.Manifest, error) {
	cat := n.meta.Catalog()
	set, err := backup.Objects(cat, req.Scope)
	if err != nil {
		var no *backup.ErrNoObject
		if errors.As(err, &no) {
			return nil, nil, pgerr.BackupObjectNotFound.New(no.Kind, no.Name)
		}
		return nil, nil, err
	}
	if set.Empty() {
		return nil, nil, pgerr.BackupNothing.New()
	}
	store, err := n.openDisk(ctx, req.Disk)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	m := &backup.Manifest{ID: backup.NewID(start), Time: start.UnixMicro(), Scope: req.Scope, ClusterID: cat.ClusterID}
	m.Catalog = backup.CatalogKey(m.ID)
	var base *backup.Manifest
	if req.Incremental {
		ms, err := backup.List(ctx, store)
		if err != nil {
			return nil, nil, diskErr(req.Disk, "", err)
		}
		if base = backup.Base(ms, req.Scope); base == nil {
			return nil, nil, pgerr.BackupNoBase.New(req.Scope.String(), req.Disk)
		}
		m.Incremental, m.Base = true, base.ID
	}
	groups := set.Groups()
	run, err := n.startOp(ctx, catalog.OpBackup, req.Scope.String()+" to disk "+req.Disk, len(groups))
	if err != nil {
		return nil, nil, err
	}
	err = n.backupGroups(ctx, run, store, req.Disk, m, base, cat, set, groups)
	if err != nil {
		return run.op, nil, run.finish(err)
	}
	return run.op, m, run.finish(nil)
}

func (n *Node) backupGroups(ctx context.Context, run *opRun, store objstore.Store, diskName string, m, base *backup.Manifest,
	cat *catalog.Catalog, set *backup.Set, groups []backup.GroupRef) error {
	cb, err := json.Marshal(backup.Subset(cat, set))
	if err != nil {
		return err
	}
	if err := store.Put(ctx, m.Catalog, cb); err != nil {
		return diskErr(diskName, m.ID, err)
	}
	for i, g := range groups {
		r := rpc.BackupGroupRequest{Group: g.Group, Kind: g.Kind, Disk: diskName, Key: backup.GroupKey(m.ID, g.Kind, g.ObjectID, g.Shard), Full: true}
		if g.Kind == backup.KindStream && base != nil {
			// Incremental: the events after the base's, if the base
			// holds this very stream's shard.
			if bg := base.Group(backup.KindStream, g.Object, g.Shard); bg != nil && bg.ObjectID == g.ObjectID {
				r.From, r.Full = bg.End, false
			}
		}
		run.progress(ctx, i, fmt.Sprintf("%s %s shard %d", g.Kind, g.Object, g.Shard))
		rep, err := n.backupGroupAt(ctx, g, r)
		if err != nil {
			return err
		}
		if !r.Full && rep.First > r.From {
			return pgerr.BackupBaseTrimmed.New(g.Object, g.Shard, base.ID, r.From, rep.First)
		}
		bg := backup.Group{Kind: g.Kind, Object: g.Object, ObjectID: g.ObjectID, Shard: g.Shard, Key: r.Key, Size: rep.Size,
			SHA256: rep.SHA256, Keys: rep.Keys, Offsets: rep.Offsets}
		if g.Kind == backup.KindStream {
			bg.From, bg.End, bg.Full = max(r.From, rep.First), rep.End, r.Full
		} else {
			bg.Full = true
		}
		m.Groups = append(m.Groups, bg)
	}
	m.End = time.Now().UnixMicro()
	mb, err := backup.EncodeManifest(m)
	if err != nil {
		return err
	}
	if err := store.Put(ctx, backup.ManifestKey(m.ID), mb); err != nil {
		return diskErr(diskName, m.ID, err)
	}
	return nil
}

// backupAttempt bounds one BackupGroup call.
const backupAttempt = 2 * time.Minute

// backupGroupAt asks a node holding a replica of g to back it up: this
// node first, then the others, until one succeeds.
func (n *Node) backupGroupAt(ctx context.Context, g backup.GroupRef, r rpc.BackupGroupRequest) (*rpc.BackupGroupReply, error) {
	order := make([]uint64, 0, len(g.Nodes))
	for _, id := range g.Nodes {
		if id == n.id.RaftID {
			order = append([]uint64{id}, order...)
		} else {
			order = append(order, id)
		}
	}
	cat := n.meta.Catalog()
	var lastErr error = pgerr.GroupNoReplicas.New(g.Group)
	for _, id := range order {
		if nd := cat.NodeByID(id); nd == nil || (id != n.id.RaftID && n.liveness(nd) == "dead") {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, backupAttempt)
		out, err := n.router.CallNode(cctx, id, rpc.BackupGroup, r)
		cancel()
		if err == nil {
			var rep rpc.BackupGroupReply
			if err := json.Unmarshal(out, &rep); err != nil {
				return nil, err
			}
			return &rep, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, pgerr.BackupGroupFailed.New(g.Kind+" "+g.Object, g.Shard, g.Group, lastErr)
}

// handleBackupRPC serves rpc.BackupGroup; ok is false for other methods.
func (n *Node) handleBackupRPC(ctx context.Context, method string, req []byte) ([]byte, bool, error) {
	if method != rpc.BackupGroup {
		return nil, false, nil
	}
	var r rpc.BackupGroupRequest
	if err := json.Unmarshal(req, &r); err != nil {
		return nil, true, err
	}
	rep, err := n.backupGroup(ctx, &r)
	if err != nil {
		return nil, true, err
	}
	out, err := json.Marshal(rep)
	return out, true, err
}

// backupGroup writes this node's replica of a group to the disk as an
// SST, from one snapshot taken after a ReadIndex barrier.
func (n *Node) backupGroup(ctx context.Context, r *rpc.BackupGroupRequest) (*rpc.BackupGroupReply, error) {
	g := n.replicas.Get(r.Group)
	if g == nil || g.Remote || (r.Kind == backup.KindStream) != (g.Stream != nil) ||
		(r.Kind == backup.KindView) != (g.View != nil) || (r.Kind == backup.KindTable) != (g.Table != nil) {
		return nil, pgerr.GroupNotOnNode.New(r.Kind, r.Group)
	}
	if err := n.replicas.Servable(r.Group); err != nil {
		return nil, err
	}
	if err := n.replicas.ReadIndex(ctx, r.Group); err != nil {
		return nil, err
	}
	snap := n.store.DB().NewSnapshot()
	defer snap.Close()
	prefix := raftstore.DataPrefix(r.Group)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: raftstore.DataPrefix(r.Group + 1)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	w, err := backup.NewSSTWriter()
	if err != nil {
		return nil, err
	}
	rep := &rpc.BackupGroupReply{}
	if r.Kind == backup.KindStream {
		// Batches live in the shard's write-once range and in-memory
		// tail: they come first (b < i < m in the SST), up to the end
		// offset of this snapshot's meta.
		if err := n.backupStreamBatches(ctx, g, snap, r, w); err != nil {
			return nil, err
		}
	}
	sawOffsets := false
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(prefix):]
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		switch r.Kind {
		case backup.KindStream:
			if next, first, ok := streamsm.MetaOffsets(k, v); ok {
				rep.End, rep.First = next, first
			}
			if start, ok := streamsm.BatchStart(k); ok && !r.Full && start < r.From {
				continue
			}
			if _, start, ok := streamsm.DedupeEntry(k, v); ok && !r.Full && start < r.From {
				continue
			}
		case backup.KindView:
			if len(k) == 1 && k[0] == 'o' {
				rep.Offsets, sawOffsets = decodeUvarints(v), true
			}
		}
		if err := w.Set(k, v); err != nil {
			return nil, err
		}
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	if r.Kind == backup.KindView && !sawOffsets && g.Desc != nil {
		rep.Offsets = g.Desc.Start
	}
	data, err := w.Finish()
	if err != nil {
		return nil, err
	}
	if err := n.replicas.StillHere(g); err != nil {
		return nil, err
	}
	store, err := n.openDisk(ctx, r.Disk)
	if err != nil {
		return nil, err
	}
	if err := store.Put(ctx, r.Key, data); err != nil {
		return nil, pgerr.BackupDiskIO.New(r.Disk, err)
	}
	sum := sha256.Sum256(data)
	rep.Size, rep.SHA256, rep.Keys = int64(len(data)), hex.EncodeToString(sum[:]), w.Len()
	return rep, nil
}

// backupStreamBatches writes a stream shard's batches from the backup's
// start up to the end offset in snap's meta into w.
func (n *Node) backupStreamBatches(ctx context.Context, g *replica.Group, snap *pebble.Snapshot, r *rpc.BackupGroupRequest, w *backup.SSTWriter) error {
	mk := raftstore.DataKey(r.Group, []byte("m"))
	v, closer, err := snap.Get(mk)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	end, first, ok := streamsm.MetaOffsets([]byte("m"), v)
	closer.Close()
	if !ok {
		return nil
	}
	// Committed by the snapshot, published to readers a moment later.
	for {
		durable, changed := g.Stream.End()
		if durable >= end {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	from := first
	if !r.Full {
		from = max(from, r.From)
	}
	return g.Stream.ScanStored(from, func(start uint64, b streamsm.StoredBatch) (bool, error) {
		if start >= end {
			return false, nil
		}
		return true, w.Set(streamsm.BatchKey(nil, start), b)
	})
}

// decodeUvarints decodes a count and that many uvarints (a view shard's
// stored offsets); nil when malformed.
func decodeUvarints(v []byte) []uint64 {
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return nil
	}
	v = v[k:]
	out := make([]uint64, 0, n)
	for i := uint64(0); i < n; i++ {
		x, k := binary.Uvarint(v)
		if k <= 0 {
			return nil
		}
		out = append(out, x)
		v = v[k:]
	}
	return out
}

// ---- RESTORE ----

// restoreData is everything a restore loads, read and checked before
// anything is created.
type restoreData struct {
	views   map[string][]*viewsm.State   // per view, per shard
	tables  map[string][][][]types.Datum // per table, per shard, its rows
	streams map[string][][]restoredBatch // per stream, per shard, in offset order
	first   map[string][]uint64          // per stream, per shard: its first offset
	groups  int                          // groups to load, for progress
}

// restoredBatch is one stored batch and its batch id.
type restoredBatch struct {
	start uint64
	rows  int
	id    [streamsm.BatchIDLen]byte
	value streamsm.StoredBatch
}

func (n *Node) runRestore(ctx context.Context, req session.RestoreRequest) (*catalog.Operation, *backup.Manifest, error) {
	cat := n.meta.Catalog()
	if kind, name := nonEmpty(cat); kind != "" {
		return nil, nil, pgerr.RestoreNotEmpty.New(kind, name)
	}
	store, err := n.openDisk(ctx, req.Disk)
	if err != nil {
		return nil, nil, err
	}
	ms, err := backup.List(ctx, store)
	if err != nil {
		return nil, nil, diskErr(req.Disk, "", err)
	}
	chain, err := backup.Pick(ms, req.ID, req.AsOf, req.Scope)
	if err != nil {
		if errors.Is(err, backup.ErrNoBackup) {
			return nil, nil, pgerr.BackupNotFound.New(req.Disk, err)
		}
		return nil, nil, diskErr(req.Disk, req.ID, err)
	}
	last := chain[len(chain)-1]
	cb, err := store.Get(ctx, last.Catalog)
	if err != nil {
		return nil, nil, diskErr(req.Disk, last.ID, err)
	}
	bcat := catalog.New()
	if err := json.Unmarshal(cb, bcat); err != nil {
		return nil, nil, pgerr.BackupCorrupt.New(last.ID, req.Disk, err)
	}
	set, err := backup.Objects(bcat, req.Scope)
	if err != nil {
		return nil, nil, pgerr.BackupNotFound.New(req.Disk, fmt.Errorf("backup %s: %w", last.ID, err))
	}
	for _, v := range set.Views {
		if v.Sched != nil && cat.Disks[v.Sched.Disk] == nil {
			return nil, nil, pgerr.RestoreSchedDisk.New(last.ID, v.Name, v.Sched.Disk, v.Sched.Disk)
		}
	}
	data, err := n.readRestore(ctx, store, chain, bcat, set)
	if err != nil {
		return nil, nil, diskErr(req.Disk, last.ID, err)
	}
	if err := checkScheduledStarts(bcat, set, data); err != nil {
		return nil, nil, err
	}
	run, err := n.startOp(ctx, catalog.OpRestore, req.Scope.String()+" from disk "+req.Disk+" backup "+last.ID, data.groups)
	if err != nil {
		return nil, nil, err
	}
	if err := n.restoreObjects(ctx, run, last.ID, set, data); err != nil {
		n.undoRestore(set)
		return run.op, nil, run.finish(err)
	}
	return run.op, last, run.finish(nil)
}

// undoRestore drops what a failed RESTORE created (nothing half-created
// stays: the cluster was empty, so every object the backup names is this
// RESTORE's, including one whose create was proposed but not confirmed),
// even when the statement's context is gone, within a bound.
func (n *Node) undoRestore(set *backup.Set) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(n.ctx), 30*time.Second)
	defer cancel()
	var views, tables, streams []string
	for _, v := range set.Views {
		views = append(views, v.Name)
	}
	for _, t := range set.Tables {
		tables = append(tables, t.Name)
	}
	for _, st := range set.Streams {
		streams = append(streams, st.Name)
	}
	cmds := []catalog.Command{
		&catalog.DropViews{Names: views, IfExists: true, Cascade: true},
		&catalog.DropTables{Names: tables, IfExists: true, Cascade: true},
		&catalog.DropStreams{Names: streams, IfExists: true, Cascade: true},
	}
	for i, c := range cmds {
		if len([][]string{views, tables, streams}[i]) == 0 {
			continue
		}
		if _, err := n.proposeMeta(ctx, c); err != nil {
			n.log.Warn("failed RESTORE: could not drop what it created; drop it before running RESTORE again", "err", err)
			return
		}
	}
}

// checkScheduledStarts checks that the restored streams hold every
// event a scheduled view folded. A scheduled view's state lives in its
// checkpoints, which a backup does not copy: RESTORE recreates the view
// and its new owner folds the restored streams again from the view's
// start, which gives the same rows only if no event after the start was
// trimmed.
func checkScheduledStarts(bcat *catalog.Catalog, set *backup.Set, d *restoreData) error {
	for _, v := range set.Views {
		if v.Sched == nil {
			continue
		}
		base := 0
		for _, st := range bcat.ViewStreams(v) {
			if st == nil {
				continue
			}
			for i, first := range d.first[st.Name] {
				start := uint64(0)
				if base+i < len(v.Start) {
					start = v.Start[base+i]
				}
				if first > start {
					return pgerr.RestoreSchedTrimmed.New(v.Name, st.Name, i, first, start)
				}
			}
			base += st.Shards
		}
	}
	return nil
}

// nonEmpty names a stream, view or table of cat ("" when it has none).
func nonEmpty(cat *catalog.Catalog) (kind, name string) {
	if ss := cat.SortedStreams(); len(ss) > 0 {
		return "stream", ss[0].Name
	}
	if vs := cat.SortedViews(); len(vs) > 0 {
		return "view", vs[0].Name
	}
	if ts := cat.SortedTables(); len(ts) > 0 {
		return "table", ts[0].Name
	}
	return "", ""
}

// readGroup reads a group's SST and checks it against the manifest.
func readGroup(ctx context.Context, store objstore.Store, g *backup.Group) ([]byte, error) {
	b, err := store.Get(ctx, g.Key)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != g.SHA256 || int64(len(b)) != g.Size {
		return nil, fmt.Errorf("%w: %s does not match its manifest entry", objstore.ErrCorrupt, g.Key)
	}
	return b, nil
}

// readRestore reads and decodes every group the restore loads.
func (n *Node) readRestore(ctx context.Context, store objstore.Store, chain []*backup.Manifest, bcat *catalog.Catalog, set *backup.Set) (*restoreData, error) {
	last := chain[len(chain)-1]
	d := &restoreData{views: map[string][]*viewsm.State{}, tables: map[string][][][]types.Datum{},
		streams: map[string][][]restoredBatch{}, first: map[string][]uint64{}}
	for _, v := range set.Views {
		if v.Transform || len(v.Groups) == 0 {
			continue
		}
		st := bcat.Streams[v.Stream]
		if st == nil {
			return nil, fmt.Errorf("%w: view %q reads stream %q, which the backup's catalog lacks", backup.ErrBrokenChain, v.Name, v.Stream)
		}
		plan, err := replica.PlanStoredView(v, st)
		if err != nil {
			return nil, err
		}
		for i := range v.Groups {
			g := last.Group(backup.KindView, v.Name, i)
			if g == nil {
				return nil, fmt.Errorf("%w: backup %q has no shard %d of view %q", backup.ErrBrokenChain, last.ID, i, v.Name)
			}
			b, err := readGroup(ctx, store, g)
			if err != nil {
				return nil, err
			}
			state, err := viewsm.LoadState(plan, v.Start, func(fn func(k, v []byte) error) error { return backup.ScanSST(b, fn) })
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", backup.ErrCorruptSST, g.Key, err)
			}
			d.views[v.Name] = append(d.views[v.Name], state)
			d.groups++
		}
	}
	for _, t := range set.Tables {
		for i := range t.Groups {
			g := last.Group(backup.KindTable, t.Name, i)
			if g == nil {
				return nil, fmt.Errorf("%w: backup %q has no shard %d of table %q", backup.ErrBrokenChain, last.ID, i, t.Name)
			}
			b, err := readGroup(ctx, store, g)
			if err != nil {
				return nil, err
			}
			var rows [][]types.Datum
			err = backup.ScanSST(b, func(k, v []byte) error {
				if len(k) == 0 || k[0] != 'r' {
					return nil // the dedupe table: a new cluster starts without it
				}
				row, err := tablesm.DecodeRow(t.Columns, v, nil)
				if err != nil {
					return fmt.Errorf("%w: %s: %v", backup.ErrCorruptSST, g.Key, err)
				}
				rows = append(rows, row)
				return nil
			})
			if err != nil {
				return nil, err
			}
			d.tables[t.Name] = append(d.tables[t.Name], rows)
			d.groups++
		}
	}
	for _, st := range set.Streams {
		for i := range st.Groups {
			links, err := backup.StreamChain(chain, st.Name, i)
			if err != nil {
				return nil, err
			}
			var batches []restoredBatch
			for _, g := range links {
				b, err := readGroup(ctx, store, &g)
				if err != nil {
					return nil, err
				}
				ids := map[uint64][streamsm.BatchIDLen]byte{}
				var part []restoredBatch
				err = backup.ScanSST(b, func(k, v []byte) error {
					if id, start, ok := streamsm.DedupeEntry(k, v); ok {
						ids[start] = id
						return nil
					}
					start, ok := streamsm.BatchStart(k)
					if !ok || start < g.From || start >= g.End {
						return nil
					}
					sb := streamsm.StoredBatch(append([]byte(nil), v...))
					rows, ok := sb.Rows()
					if !ok {
						return fmt.Errorf("%w: %s: batch at offset %d", backup.ErrCorruptSST, g.Key, start)
					}
					part = append(part, restoredBatch{start: start, rows: rows, value: sb})
					return nil
				})
				if err != nil {
					return nil, err
				}
				for j := range part {
					id, ok := ids[part[j].start]
					if !ok {
						// Forgotten by the dedupe table (it is bounded): an id
						// of its own, the same on every attempt of this restore.
						h := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d/%d", last.ID, st.Name, i, part[j].start))
						copy(id[:], h[:])
					}
					part[j].id = id
				}
				batches = append(batches, part...)
			}
			// The batches must tile the shard's offsets from the first link's start.
			next := links[0].From
			for _, b := range batches {
				if b.start != next {
					return nil, fmt.Errorf("%w: stream %q shard %d: a batch starts at offset %d, expected %d", backup.ErrBrokenChain, st.Name, i, b.start, next)
				}
				next += uint64(b.rows)
			}
			if next != links[len(links)-1].End {
				return nil, fmt.Errorf("%w: stream %q shard %d: the batches end at offset %d, the manifest says %d", backup.ErrBrokenChain, st.Name, i, next, links[len(links)-1].End)
			}
			d.streams[st.Name] = append(d.streams[st.Name], batches)
			d.first[st.Name] = append(d.first[st.Name], links[0].From)
			d.groups++
		}
	}
	return d, nil
}

// restoreObjects creates the set's objects in this cluster and loads them.
func (n *Node) restoreObjects(ctx context.Context, run *opRun, id string, set *backup.Set, d *restoreData) error {
	cat := n.meta.Catalog()
	dataNodes := cat.DataNodes()
	streamIDs := map[uint64]uint64{}
	viewIDs := map[uint64]uint64{}
	var groups []uint64
	newStreams := map[string]*catalog.Stream{}
	newTables := map[string]*catalog.Table{}
	newViews := map[string]*catalog.View{}
	// Objects in created schemas need their schema first.
	var names []string
	for _, st := range set.Streams {
		names = append(names, st.Name)
	}
	for _, t := range set.Tables {
		names = append(names, t.Name)
	}
	for _, v := range set.Views {
		names = append(names, v.Name)
	}
	for _, name := range names {
		if sc, _ := catalog.SplitName(name); !n.meta.Catalog().HasSchema(sc) {
			if _, err := n.proposeMeta(ctx, &catalog.CreateSchema{Name: sc, IfNotExists: true}); err != nil {
				return err
			}
		}
	}
	for _, st := range set.Streams {
		c := *st
		c.ID, c.Groups = 0, nil
		c.Replicas = min(c.Replicas, dataNodes)
		var err error
		if c.Nodes, err = n.place(c.Shards, c.Replicas); err != nil {
			return err
		}
		res, err := n.proposeMeta(ctx, &catalog.CreateStream{Stream: &c})
		if err != nil {
			return err
		}
		streamIDs[st.ID] = res.Stream.ID
		newStreams[st.Name] = res.Stream
		groups = append(groups, res.Stream.Groups...)
	}
	for _, t := range set.Tables {
		c := *t
		c.ID, c.Groups = 0, nil
		c.Replication = min(c.Replication, dataNodes)
		var err error
		if c.Nodes, err = n.place(c.Shards, c.Replication); err != nil {
			return err
		}
		res, err := n.proposeMeta(ctx, &catalog.CreateTable{Table: &c})
		if err != nil {
			return err
		}
		newTables[t.Name] = res.Table
		groups = append(groups, res.Table.Groups...)
	}
	for _, v := range set.Views {
		c := *v
		c.ID, c.Groups, c.Nodes = 0, nil, nil
		c.StreamID = streamIDs[v.StreamID]
		if v.JoinStreamID != 0 {
			c.JoinStreamID = streamIDs[v.JoinStreamID]
		}
		if !c.Transform && c.Sched == nil && c.Shards > 0 {
			c.Replicas = min(c.Replicas, dataNodes)
			var err error
			if c.Nodes, err = n.place(c.Shards, c.Replicas); err != nil {
				return err
			}
		}
		res, err := n.proposeMeta(ctx, &catalog.CreateView{View: &c})
		if err != nil {
			return err
		}
		viewIDs[v.ID] = res.View.ID
		newViews[v.Name] = res.View
		groups = append(groups, res.View.Groups...)
	}
	if err := n.waitGroups(ctx, groups); err != nil {
		return err
	}
	done := 0
	// Views first: their streams are still empty, so no view task has
	// folded anything yet.
	for _, v := range set.Views {
		for i, st := range d.views[v.Name] {
			run.progress(ctx, done, fmt.Sprintf("view %s shard %d", v.Name, i))
			if _, err := n.router.Propose(ctx, newViews[v.Name].Groups[i], viewsm.EncodeRestore(st)); err != nil {
				return pgerr.RestoreFailed.New("view "+v.Name, i, err)
			}
			done++
		}
	}
	for _, t := range set.Tables {
		nt := newTables[t.Name]
		for i, rows := range d.tables[t.Name] {
			run.progress(ctx, done, fmt.Sprintf("table %s shard %d", t.Name, i))
			for lo := 0; lo < len(rows); lo += restoreTableChunk {
				c := &tablesm.Command{Op: tablesm.OpInsert, Table: nt.Name, Cols: nt.Columns, Key: nt.PrimaryKey}
				for _, row := range rows[lo:min(len(rows), lo+restoreTableChunk)] {
					c.Rows = append(c.Rows, tablesm.EncodeRow(nt.Columns, row))
				}
				if _, err := n.router.TableWrite(ctx, nt, map[int]*tablesm.Command{i: c}); err != nil {
					return pgerr.RestoreFailed.New("table "+t.Name, i, err)
				}
			}
			done++
		}
	}
	mapID := func(old uint64) uint64 {
		if id, ok := viewIDs[old]; ok {
			return id
		}
		return ^uint64(0) // a view not restored: no view has this id
	}
	// Stream shards load side by side (each in offset order), a few at
	// a time; the first failure stops the others.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, restoreStreamsAtOnce)
	var wg sync.WaitGroup
	for _, st := range set.Streams {
		ns := newStreams[st.Name]
		for i, batches := range d.streams[st.Name] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-sctx.Done():
					return
				}
				defer func() { <-sem }()
				err := n.restoreStreamShard(sctx, ns.Groups[i], d.first[st.Name][i], batches, mapID)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if firstErr == nil {
						firstErr = pgerr.RestoreFailed.New("stream "+st.Name, i, err)
						cancel()
					}
					return
				}
				done++
				run.progress(ctx, done, fmt.Sprintf("stream %s shard %d loaded", st.Name, i))
			}()
		}
	}
	wg.Wait()
	return firstErr
}

// restoreStreamsAtOnce bounds the stream shards a restore loads at once.
const restoreStreamsAtOnce = 4

// restoreTableChunk is the rows per insert command of a table restore.
const restoreTableChunk = 1000

// restoreStreamShard re-appends a shard's batches at their offsets.
func (n *Node) restoreStreamShard(ctx context.Context, gid, first uint64, batches []restoredBatch, mapID func(uint64) uint64) error {
	if first > 0 {
		if _, err := n.router.Propose(ctx, gid, streamsm.EncodeSetBase(first)); err != nil {
			return err
		}
	}
	for _, b := range batches {
		cmd, err := streamsm.EncodeRestoreAppend(b.id, b.value, mapID)
		if err != nil {
			return err
		}
		end, err := n.router.Propose(ctx, gid, cmd)
		if err != nil {
			return err
		}
		if end != b.start+uint64(b.rows) {
			return fmt.Errorf("the batch at offset %d landed at another offset (the shard ends at %d)", b.start, end)
		}
	}
	return nil
}
