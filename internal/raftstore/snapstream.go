package raftstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Streamed snapshots (see DESIGN.md "Snapshots"). A MsgSnap carries only
// metadata and a token (Snapshot.Data); the group's data travels beside it
// in chunks that the receiver stages as SST files, and the MsgSnap is
// stepped into raft only once every chunk is durably staged. Installing it
// is one atomic Pebble ingest.

// Defaults and bounds of streamed snapshots.
const (
	// DefaultSnapshotChunkBytes is how many bytes of key/value pairs one
	// chunk (and so one staged SST) holds.
	DefaultSnapshotChunkBytes = 4 << 20
	// snapshotTokenVersion is the first byte of a streamed snapshot's Data.
	snapshotTokenVersion = 2
	snapshotIDLen        = 16
	// chunkVersion is the first byte of an encoded chunk.
	chunkVersion = 1
	// snapshotDir is where received chunks are staged, under Config.Dir.
	snapshotDir = "snapshots"
	// snapshotIdle is how long a snapshot (sent or staged) may sit unused
	// before it is dropped: a sender that gave up, or a staged snapshot
	// raft never installed (it was stale when it arrived).
	snapshotIdle = 2 * time.Minute
)

// ErrSnapshotUnknown is returned by Step for a MsgSnap whose chunks were
// not (completely) received on this node.
var ErrSnapshotUnknown = errors.New("raftstore: snapshot data not staged on this node")

// SnapshotStreamer is implemented by a Transport that can stream snapshot
// data. Without it a node can receive snapshots but not send them.
type SnapshotStreamer interface {
	// SendSnapshot delivers one snapshot to msg.To: msg (a MsgSnap whose
	// Data is only a token) together with src's chunks, resuming from the
	// chunk the receiver reports it holds. It returns nil once the
	// receiver has staged every chunk and stepped msg into its store, an
	// error once it gives up (raft is then told the snapshot failed and
	// retries later). It is called on its own goroutine; ctx ends when
	// the store closes. It must not modify msg.
	SendSnapshot(ctx context.Context, gid uint64, msg *pb.Message, src *SnapshotSource) error
}

// snapshotToken is what Snapshot.Data holds for a streamed snapshot.
func snapshotToken(id [snapshotIDLen]byte) []byte {
	return append([]byte{snapshotTokenVersion}, id[:]...)
}

func parseSnapshotToken(data []byte) (id [snapshotIDLen]byte, ok bool) {
	if len(data) != 1+snapshotIDLen || data[0] != snapshotTokenVersion {
		return id, false
	}
	copy(id[:], data[1:])
	return id, true
}

// SnapshotSource reads one outgoing snapshot's chunks from a Pebble
// snapshot taken in the loop (so its data, applied index and conf state
// agree). Its methods are for one goroutine (the sender's); Chunk may go
// back to any chunk already produced (a resumed stream).
type SnapshotSource struct {
	GroupID    uint64
	ID         string // hex of the snapshot id, for logs and progress
	chunkBytes int
	size       int64 // Size, -1 until computed

	snap    *pebble.Snapshot
	created time.Time
	starts  [][]byte // starts[i]: first key chunk i covers; starts[0] is the data span's start
	lastIdx int      // index of the last chunk, -1 until produced
	closed  bool
}

// Size is the encoded size of the snapshot's key/value pairs (the chunks
// add their bounds on top), for progress reports. The first call scans the
// data once; later calls return the same.
func (src *SnapshotSource) Size() (int64, error) {
	if src.size >= 0 {
		return src.size, nil
	}
	if src.closed {
		return 0, errors.New("raftstore: snapshot source closed")
	}
	var n int64
	for _, span := range snapshotSpans(src.GroupID) {
		it, err := src.snap.NewIter(&pebble.IterOptions{LowerBound: span[0], UpperBound: span[1]})
		if err != nil {
			return 0, err
		}
		for valid := it.First(); valid; valid = it.Next() {
			lv := it.LazyValue()
			k, v := len(it.Key()), lv.Len()
			n += int64(uvarintLen(uint64(k)) + k + uvarintLen(uint64(v)) + v)
		}
		if err := it.Close(); err != nil {
			return 0, err
		}
	}
	src.size = n
	return n, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Chunk returns chunk i, encoded for IncomingSnapshot.WriteChunk, and
// whether it is the last. Chunks must first be read in order; after that
// any chunk up to the highest read may be read again.
func (src *SnapshotSource) Chunk(i int) (data []byte, last bool, err error) {
	if src.closed {
		return nil, false, errors.New("raftstore: snapshot source closed")
	}
	if i < 0 || i >= len(src.starts) {
		return nil, false, fmt.Errorf("raftstore: snapshot chunk %d out of order (have %d)", i, len(src.starts))
	}
	spans := snapshotSpans(src.GroupID)
	si := spanOf(spans, src.starts[i])
	if si < 0 {
		return nil, false, fmt.Errorf("raftstore: snapshot chunk %d starts outside the group's ranges", i)
	}
	end := spans[si][1]
	it, err := src.snap.NewIter(&pebble.IterOptions{LowerBound: src.starts[i], UpperBound: end})
	if err != nil {
		return nil, false, err
	}
	var pairs []byte
	hi := end
	valid := it.First()
	for ; valid; valid = it.Next() {
		if len(pairs) >= src.chunkBytes {
			hi = bytes.Clone(it.Key())
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return nil, false, err
		}
		pairs = binary.AppendUvarint(pairs, uint64(len(it.Key())))
		pairs = append(pairs, it.Key()...)
		pairs = binary.AppendUvarint(pairs, uint64(len(v)))
		pairs = append(pairs, v...)
	}
	if err := it.Close(); err != nil {
		return nil, false, err
	}
	// A chunk ends with its range; the next one starts the next range.
	last = !valid && si == len(spans)-1
	switch {
	case last:
		src.lastIdx = i
	case i < len(src.starts)-1:
	case !valid:
		src.starts = append(src.starts, spans[si+1][0])
	default:
		src.starts = append(src.starts, hi)
	}
	lo := src.starts[i]
	out := make([]byte, 0, 3+2*binary.MaxVarintLen64+len(lo)+len(hi)+len(pairs))
	out = append(out, chunkVersion)
	if last {
		out = append(out, 1)
	} else {
		out = append(out, 0)
	}
	out = binary.AppendUvarint(out, uint64(len(lo)))
	out = append(out, lo...)
	out = binary.AppendUvarint(out, uint64(len(hi)))
	out = append(out, hi...)
	return append(out, pairs...), last, nil
}

func (src *SnapshotSource) close() {
	if !src.closed {
		src.closed = true
		_ = src.snap.Close()
	}
}

// newSnapshot is groupStorage.Snapshot for a store: it takes a Pebble
// snapshot (in the loop, between batches, so data, applied index and conf
// state agree), registers it for the sender and returns the metadata with
// a token as Data.
func (s *Store) newSnapshot(gid uint64) (*pb.Snapshot, error) {
	if s.applying {
		// Raft asked from ApplyConfChange: the engine does not hold this
		// iteration's applied state and conf state yet.
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	dbSnap := s.db.NewSnapshot()
	meta, err := snapshotMeta(dbSnap, gid)
	if err != nil {
		_ = dbSnap.Close()
		return nil, err
	}
	var id [snapshotIDLen]byte
	_, _ = rand.Read(id[:])
	start, _ := dataSpan(gid)
	src := &SnapshotSource{
		GroupID: gid, ID: hex.EncodeToString(id[:]), chunkBytes: s.cfg.SnapshotChunkBytes,
		size: -1, snap: dbSnap, created: time.Now(), starts: [][]byte{start}, lastIdx: -1,
	}
	s.snaps.mu.Lock()
	// Drop snapshots nobody claimed (raft asked but the message never
	// went out, e.g. the group was destroyed meanwhile).
	for k, o := range s.snaps.out {
		if o.claimed == nil && time.Since(o.src.created) > snapshotIdle {
			o.src.close()
			delete(s.snaps.out, k)
		}
	}
	s.snaps.out[id] = &outSnap{src: src}
	s.snaps.mu.Unlock()
	return &pb.Snapshot{Data: snapshotToken(id), Metadata: meta}, nil
}

// snapshotMeta reads the applied index and conf state of gid from r.
func snapshotMeta(r pebble.Reader, gid uint64) (*pb.SnapshotMetadata, error) {
	av, ok, err := getValue(r, raftStateKey(gid, suffixApplied))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: group %d has no applied state", errCorrupt, gid)
	}
	index, term, ok := decodeIndexTerm(av)
	if !ok {
		return nil, fmt.Errorf("%w: group %d applied state", errCorrupt, gid)
	}
	cs := &pb.ConfState{}
	if v, ok, err := getValue(r, raftStateKey(gid, suffixConfState)); err != nil {
		return nil, err
	} else if ok {
		if err := proto.Unmarshal(v, cs); err != nil {
			return nil, fmt.Errorf("%w: group %d conf state: %v", errCorrupt, gid, err)
		}
	}
	return &pb.SnapshotMetadata{ConfState: cs, Index: new(index), Term: new(term)}, nil
}

type outSnap struct {
	src     *SnapshotSource
	claimed *pb.Message // the MsgSnap being sent, nil until the loop hands it out
}

// sendSnapshots takes the MsgSnaps out of msgs and streams each on its own
// goroutine; raft hears how it went through ReportSnapshot. Called in the
// loop; returns the other messages.
func (s *Store) sendSnapshots(msgs []GroupMessage) []GroupMessage {
	keep := msgs[:0]
	for _, m := range msgs {
		if m.Msg.GetType() != pb.MsgSnap {
			keep = append(keep, m)
			continue
		}
		s.startSnapshotSend(m.GroupID, m.Msg)
	}
	return keep
}

func (s *Store) startSnapshotSend(gid uint64, msg *pb.Message) {
	to := msg.GetTo()
	id, ok := parseSnapshotToken(msg.GetSnapshot().GetData())
	s.snaps.mu.Lock()
	o := s.snaps.out[id]
	if ok && o != nil && o.claimed == nil {
		o.claimed = msg
	} else {
		o = nil
	}
	s.snaps.mu.Unlock()
	streamer, _ := s.cfg.Transport.(SnapshotStreamer)
	if o == nil || streamer == nil {
		s.log.Error("raftstore: cannot send snapshot", "group", gid, "to", to, "streaming", streamer != nil)
		if o != nil {
			s.snaps.mu.Lock()
			o.src.close()
			delete(s.snaps.out, id)
			s.snaps.mu.Unlock()
		}
		s.reportSnapshot(gid, to, false)
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		err := streamer.SendSnapshot(s.ctx, gid, msg, o.src)
		s.snaps.mu.Lock()
		o.src.close()
		delete(s.snaps.out, id)
		s.snaps.mu.Unlock()
		if err != nil {
			s.log.Warn("raftstore: snapshot not delivered", "group", gid, "to", to, "snapshot", o.src.ID, "err", err)
		}
		s.reportSnapshot(gid, to, err == nil)
	}()
}

// reportSnapshot tells the group's raft how a snapshot to node to ended.
func (s *Store) reportSnapshot(gid, to uint64, ok bool) {
	s.enqueue(func() {
		s.mu.fns = append(s.mu.fns, func() {
			g, found := s.groups[gid]
			if !found {
				return
			}
			if ok {
				g.rn.ReportSnapshot(to, raft.SnapshotFinish)
			} else {
				g.rn.ReportSnapshot(to, raft.SnapshotFailure)
			}
			s.dirty[gid] = g
		})
	})
}

// IncomingSnapshot is the receiving side of one streamed snapshot: chunks
// are written as SST files into a staging directory, each durable before
// it is acknowledged, so a broken stream resumes at Next. One stream at a
// time may use it (ReceiveSnapshot refuses a second).
type IncomingSnapshot struct {
	s       *Store
	gid     uint64
	id      [snapshotIDLen]byte
	msg     *pb.Message
	dir     string
	updated time.Time

	// Guarded by s.snaps.mu.
	busy     bool
	next     int  // chunks staged: 0..next-1 are durable SSTs
	complete bool // the last chunk is staged
	bytes    int64
	nextLo   []byte // where chunk next must start
}

// ReceiveSnapshot returns the receiver of the snapshot msg (a MsgSnap of
// group gid sent to this node): a new one, or the one a broken stream left,
// whose Next says where to resume.
func (s *Store) ReceiveSnapshot(gid uint64, msg *pb.Message) (*IncomingSnapshot, error) {
	if msg.GetType() != pb.MsgSnap || msg.GetTo() != s.cfg.NodeID {
		return nil, fmt.Errorf("raftstore: not a snapshot for node %d", s.cfg.NodeID)
	}
	id, ok := parseSnapshotToken(msg.GetSnapshot().GetData())
	if !ok {
		return nil, fmt.Errorf("%w: snapshot token", errCorrupt)
	}
	s.mu.Lock()
	running, stopped := s.mu.running[gid], s.mu.stopped
	s.mu.Unlock()
	if stopped {
		return nil, ErrStopped
	}
	if !running {
		return nil, fmt.Errorf("group %d: %w", gid, ErrGroupNotFound)
	}
	s.snaps.mu.Lock()
	defer s.snaps.mu.Unlock()
	s.sweepIncomingLocked()
	if in := s.snaps.in[id]; in != nil {
		if in.busy {
			return nil, fmt.Errorf("raftstore: snapshot %x of group %d is already being received", id, gid)
		}
		if in.gid != gid {
			return nil, fmt.Errorf("%w: snapshot %x is for group %d", errCorrupt, id, in.gid)
		}
		in.busy, in.updated = true, time.Now()
		return in, nil
	}
	meta := msg.GetSnapshot().GetMetadata()
	dir := s.cfg.FS.PathJoin(s.cfg.Dir, snapshotDir,
		fmt.Sprintf("%d-%d-%d-%x", gid, meta.GetTerm(), meta.GetIndex(), id))
	if err := s.cfg.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftstore: stage snapshot: %w", err)
	}
	in := &IncomingSnapshot{s: s, gid: gid, id: id, msg: proto.Clone(msg).(*pb.Message), dir: dir, updated: time.Now(), busy: true}
	s.snaps.in[id] = in
	return in, nil
}

// sweepIncomingLocked removes staged snapshots left unused for long (a
// sender that gave up, or one raft refused as stale).
func (s *Store) sweepIncomingLocked() {
	for k, in := range s.snaps.in {
		if !in.busy && time.Since(in.updated) > snapshotIdle {
			delete(s.snaps.in, k)
			_ = s.cfg.FS.RemoveAll(in.dir)
		}
	}
}

// Next is the number of chunks durably staged: where a sender resumes.
func (in *IncomingSnapshot) Next() int {
	in.s.snaps.mu.Lock()
	defer in.s.snaps.mu.Unlock()
	return in.next
}

// Complete reports whether the last chunk is staged.
func (in *IncomingSnapshot) Complete() bool {
	in.s.snaps.mu.Lock()
	defer in.s.snaps.mu.Unlock()
	return in.complete
}

// StagedBytes is the size of the key/value pairs staged so far.
func (in *IncomingSnapshot) StagedBytes() int64 {
	in.s.snaps.mu.Lock()
	defer in.s.snaps.mu.Unlock()
	return in.bytes
}

// WriteChunk stages chunk i (which must be Next) as a synced SST file. It
// reports whether this was the last chunk. Malformed chunks (keys outside
// the group's data range or out of order) are refused.
func (in *IncomingSnapshot) WriteChunk(i int, chunk []byte) (last bool, err error) {
	if cur := in.Next(); i != cur || in.Complete() {
		return false, fmt.Errorf("raftstore: snapshot chunk %d out of order (next is %d)", i, cur)
	}
	c, err := decodeChunk(in.gid, chunk)
	if err != nil {
		return false, err
	}
	in.s.snaps.mu.Lock()
	want := in.nextLo
	in.s.snaps.mu.Unlock()
	spans := snapshotSpans(in.gid)
	if want == nil {
		want = spans[0][0]
	}
	for k := range len(spans) - 1 {
		if bytes.Equal(want, spans[k][1]) {
			want = spans[k+1][0] // the previous chunk ended a range
		}
	}
	if !bytes.Equal(c.lo, want) {
		// Chunks tile the range: each starts where the previous ended.
		return false, fmt.Errorf("%w: snapshot chunk %d does not start where chunk %d ended", errCorrupt, i, i-1)
	}
	fs := in.s.cfg.FS
	name := fs.PathJoin(in.dir, chunkFileName(i))
	tmp := name + ".tmp"
	f, err := fs.Create(tmp, "")
	if err != nil {
		return false, err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), in.s.snapshotTableOptions())
	var werr error
	if !c.writeOnce {
		// The write-once range is cleared by the install's excise
		// instead: a range deletion in an L6 file invites a compaction.
		werr = w.DeleteRange(c.lo, c.hi)
	}
	for _, kv := range c.kvs {
		if werr != nil {
			break
		}
		werr = w.Set(kv[0], kv[1])
	}
	if cerr := w.Close(); werr == nil { // Close syncs the file
		werr = cerr
	}
	if werr != nil {
		_ = fs.Remove(tmp)
		return false, fmt.Errorf("raftstore: stage snapshot chunk %d: %w", i, werr)
	}
	if err := fs.Rename(tmp, name); err != nil {
		return false, err
	}
	if d, err := fs.OpenDir(in.dir); err == nil {
		err = d.Sync()
		_ = d.Close()
		if err != nil {
			return false, err
		}
	}
	in.s.snaps.mu.Lock()
	in.next++
	in.complete = c.last
	in.bytes += int64(c.size)
	in.updated = time.Now()
	in.nextLo = bytes.Clone(c.hi)
	in.s.snaps.mu.Unlock()
	return c.last, nil
}

func chunkFileName(i int) string { return fmt.Sprintf("%06d.sst", i) }

// Finish steps the snapshot's MsgSnap into the store once every chunk is
// staged. Raft then installs it (one atomic ingest) or, if it is stale,
// ignores it.
func (in *IncomingSnapshot) Finish() error {
	if !in.Complete() {
		return fmt.Errorf("raftstore: snapshot of group %d incomplete", in.gid)
	}
	return in.s.Step(in.gid, in.msg)
}

// Release ends this stream's use of the receiver; a resumed stream gets it
// again from ReceiveSnapshot.
func (in *IncomingSnapshot) Release() {
	in.s.snaps.mu.Lock()
	in.busy, in.updated = false, time.Now()
	in.s.snaps.mu.Unlock()
}

type decodedChunk struct {
	last      bool
	writeOnce bool // inside the group's write-once range (writeonce.go)
	lo, hi    []byte
	kvs       [][2][]byte
	size      int
}

// decodeChunk parses and checks a chunk of group gid: [lo, hi) inside the
// group's data range, keys in strictly increasing order inside [lo, hi).
func decodeChunk(gid uint64, b []byte) (decodedChunk, error) {
	var c decodedChunk
	bad := func(what string) (decodedChunk, error) {
		return decodedChunk{}, fmt.Errorf("%w: snapshot chunk: %s", errCorrupt, what)
	}
	if len(b) < 2 || b[0] != chunkVersion || b[1] > 1 {
		return bad("version")
	}
	c.last = b[1] == 1
	rest := b[2:]
	next := func() ([]byte, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return nil, false
		}
		out := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		return out, true
	}
	var ok bool
	if c.lo, ok = next(); !ok {
		return bad("bounds")
	}
	if c.hi, ok = next(); !ok {
		return bad("bounds")
	}
	spans := snapshotSpans(gid)
	si := spanOf(spans, c.lo)
	if si < 0 || bytes.Compare(c.hi, spans[si][1]) > 0 || bytes.Compare(c.lo, c.hi) >= 0 {
		return bad("bounds outside the group's range")
	}
	c.writeOnce = si == 1
	if end := spans[len(spans)-1][1]; c.last != bytes.Equal(c.hi, end) {
		return bad("last chunk must end the group's range")
	}
	var prev []byte
	for len(rest) > 0 {
		k, ok := next()
		if !ok {
			return bad("truncated key")
		}
		v, ok := next()
		if !ok {
			return bad("truncated value")
		}
		if bytes.Compare(k, c.lo) < 0 || bytes.Compare(k, c.hi) >= 0 || (prev != nil && bytes.Compare(k, prev) <= 0) {
			return bad("key out of order or range")
		}
		prev = k
		c.kvs = append(c.kvs, [2][]byte{k, v})
		c.size += len(k) + len(v)
	}
	return c, nil
}

// validateSnapshotMsg checks a MsgSnap received from another node before
// raft sees it: its data must be staged here completely, for this group
// and position.
func (s *Store) validateSnapshotMsg(gid uint64, msg *pb.Message) error {
	id, ok := parseSnapshotToken(msg.GetSnapshot().GetData())
	if !ok {
		return fmt.Errorf("%w: snapshot data is not a streamed snapshot token", errCorrupt)
	}
	s.snaps.mu.Lock()
	defer s.snaps.mu.Unlock()
	in := s.snaps.in[id]
	if in == nil || !in.complete || in.gid != gid {
		return fmt.Errorf("group %d: %w", gid, ErrSnapshotUnknown)
	}
	m := in.msg.GetSnapshot().GetMetadata()
	if m.GetIndex() != msg.GetSnapshot().GetMetadata().GetIndex() || m.GetTerm() != msg.GetSnapshot().GetMetadata().GetTerm() {
		return fmt.Errorf("%w: snapshot metadata differs from the staged one", errCorrupt)
	}
	return nil
}

// ingestSnapshot installs a staged snapshot in one atomic Pebble ingest:
// the staged chunk SSTs (each clears its part of the data range and holds
// its keys) plus one SST that clears the group's raft state and writes the
// new truncated, applied, conf and hard state. A crash leaves either the
// old replica or the new one. Called in the loop.
func (s *Store) ingestSnapshot(gid uint64, snap *pb.Snapshot, hard *pb.HardState) error {
	id, ok := parseSnapshotToken(snap.GetData())
	if !ok {
		return fmt.Errorf("%w: snapshot token", errCorrupt)
	}
	s.snaps.mu.Lock()
	in := s.snaps.in[id]
	var n int
	if in != nil {
		n = in.next
	}
	s.snaps.mu.Unlock()
	if in == nil || !in.complete {
		return fmt.Errorf("group %d: %w", gid, ErrSnapshotUnknown)
	}
	meta := snap.GetMetadata()
	fs := s.cfg.FS
	raftSST := fs.PathJoin(in.dir, "raft.sst")
	f, err := fs.Create(raftSST, "")
	if err != nil {
		return err
	}
	cs, err := proto.Marshal(pb.EnsureConfState(meta.GetConfState()))
	if err != nil {
		return err
	}
	hs, err := proto.Marshal(hard)
	if err != nil {
		return err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), s.snapshotTableOptions())
	rs, re := raftSpan(gid)
	pos := encodeIndexTerm(meta.GetIndex(), meta.GetTerm())
	werr := w.DeleteRange(rs, re)
	// In key order: a(pplied) < c(onf) < h(ard) < t(runcated).
	for _, kv := range [][2][]byte{
		{raftStateKey(gid, suffixApplied), pos},
		{raftStateKey(gid, suffixConfState), cs},
		{raftStateKey(gid, suffixHardState), hs},
		{raftStateKey(gid, suffixTruncated), pos},
	} {
		if werr == nil {
			werr = w.Set(kv[0], kv[1])
		}
	}
	if cerr := w.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return werr
	}
	paths := []string{raftSST}
	for i := range n {
		paths = append(paths, fs.PathJoin(in.dir, chunkFileName(i)))
	}
	if k := s.cfg.TestingKnobs.BeforeIngest; k != nil {
		k(gid, paths)
	}
	// The excise clears the write-once range in the same atomic step
	// (its chunks carry no range deletion).
	ss, se := streamSpan(gid)
	if _, err := s.db.IngestAndExcise(context.Background(), paths, nil, nil, pebble.KeyRange{Start: ss, End: se}); err != nil {
		return err
	}
	// Ingest linked the files into the engine: the staging dir can go, and
	// so can any older staged snapshot of this group.
	s.snaps.mu.Lock()
	for k, o := range s.snaps.in {
		if o.gid == gid && !o.busy {
			delete(s.snaps.in, k)
			_ = fs.RemoveAll(o.dir)
		}
	}
	s.snaps.mu.Unlock()
	return nil
}

// cleanSnapshotDir removes chunks staged by an earlier run: a snapshot is
// either ingested whole or not at all, so what is left there is garbage.
func cleanSnapshotDir(cfg Config) error {
	dir := cfg.FS.PathJoin(cfg.Dir, snapshotDir)
	if err := cfg.FS.RemoveAll(dir); err != nil {
		return fmt.Errorf("raftstore: clean %s: %w", dir, err)
	}
	return nil
}

// StagedSnapshotDirs lists the staging directories present (for tests and
// operators: after a restart there are none).
func (s *Store) StagedSnapshotDirs() ([]string, error) {
	ls, err := s.cfg.FS.List(s.cfg.FS.PathJoin(s.cfg.Dir, snapshotDir))
	if err != nil {
		return nil, nil //nolint:nilerr // no dir: nothing staged
	}
	var out []string
	for _, n := range ls {
		if strings.Count(n, "-") == 3 {
			out = append(out, path.Base(n))
		}
	}
	return out, nil
}

// snapStore is the Store's registry of snapshots in flight.
type snapStore struct {
	mu  sync.Mutex
	out map[[snapshotIDLen]byte]*outSnap
	in  map[[snapshotIDLen]byte]*IncomingSnapshot
}

// snapshotSpans are the key ranges a snapshot of gid carries, in order:
// its data range, then its write-once range (writeonce.go).
func snapshotSpans(gid uint64) [2][2][]byte {
	ds, de := dataSpan(gid)
	ss, se := streamSpan(gid)
	return [2][2][]byte{{ds, de}, {ss, se}}
}

// spanOf returns the index of the span holding k, or -1.
func spanOf(spans [2][2][]byte, k []byte) int {
	for i, sp := range spans {
		if bytes.Compare(k, sp[0]) >= 0 && bytes.Compare(k, sp[1]) < 0 {
			return i
		}
	}
	return -1
}

// snapshotTableOptions are the options of the files a snapshot installs:
// those the engine gives its own tables (no compression, bloom filters;
// see Open), since an installed file lands in L6 and may stay there.
// Without filters, a view shard installed from a snapshot would seek
// every new group key through index and data blocks again.
func (s *Store) snapshotTableOptions() sstable.WriterOptions {
	return sstable.WriterOptions{
		TableFormat:  s.db.TableFormat(),
		Compression:  sstable.NoCompression,
		FilterPolicy: engineFilter,
		FilterType:   sstable.TableFilter,
	}
}
