package router

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/tablesm"
	"github.com/cairndb/cairn/internal/types"
)

// TableSource reads a table: an exec.Source (every shard) and an
// exec.KeyedSource (point lookups by primary key, each on the one shard
// its key hashes to). With Linearizable, every shard read passes a
// ReadIndex barrier first, so it sees every write acknowledged before
// it began.
type TableSource struct {
	rt           *Router
	t            *catalog.Table
	Linearizable bool
}

// TableSource returns a reader of table t.
func (rt *Router) TableSource(t *catalog.Table, linearizable bool) *TableSource {
	return &TableSource{rt: rt, t: t, Linearizable: linearizable}
}

// Columns implements exec.Source.
func (s *TableSource) Columns() []exec.Column {
	cols := make([]exec.Column, len(s.t.Columns))
	for i, c := range s.t.Columns {
		cols[i] = exec.Column{Name: c.Name, T: c.T}
	}
	return cols
}

// KeyColumns implements exec.KeyedSource: the primary key.
func (s *TableSource) KeyColumns() []int { return s.t.PrimaryKey }

// Scan implements exec.Source.
func (s *TableSource) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	r := s.reader(fn)
	for i := range s.t.Groups {
		if err := s.shardRows(ctx, i, nil, r.add); err != nil {
			return err
		}
	}
	return r.flush()
}

// ScanKeys implements exec.KeyedSource.
func (s *TableSource) ScanKeys(ctx context.Context, keys [][]types.Datum, fn func(b *types.Batch) error) error {
	byShard := map[int][][]byte{}
	var order []int
	for _, kv := range keys {
		k := tablesm.EncodeKey(kv)
		sh := tablesm.ShardOf(k, len(s.t.Groups))
		if _, ok := byShard[sh]; !ok {
			order = append(order, sh)
		}
		byShard[sh] = append(byShard[sh], k)
	}
	r := s.reader(fn)
	for _, sh := range order {
		if err := s.shardRows(ctx, sh, byShard[sh], r.add); err != nil {
			return err
		}
	}
	return r.flush()
}

// rowReader decodes stored rows into batches of the table's columns.
type rowReader struct {
	t   *catalog.Table
	b   *types.Batch
	row []types.Datum
	fn  func(b *types.Batch) error
}

func (s *TableSource) reader(fn func(b *types.Batch) error) *rowReader {
	ts := make([]types.T, len(s.t.Columns))
	for i, c := range s.t.Columns {
		ts[i] = c.T
	}
	return &rowReader{t: s.t, b: types.NewBatch(ts), fn: fn}
}

func (r *rowReader) add(v []byte) error {
	var err error
	if r.row, err = tablesm.DecodeRow(r.t.Columns, v, r.row); err != nil {
		return err
	}
	r.b.AppendRow(r.row)
	if r.b.N >= scanChunk {
		if err := r.fn(r.b); err != nil {
			return err
		}
		r.b.Reset()
	}
	return nil
}

func (r *rowReader) flush() error {
	if r.b.N > 0 {
		return r.fn(r.b)
	}
	return nil
}

// shardRows reads shard i's rows (those with the encoded keys, or all):
// from a replica here, else from one on another node.
func (s *TableSource) shardRows(ctx context.Context, i int, keys [][]byte, fn func(v []byte) error) error {
	gid := s.t.Groups[i]
	if g := s.rt.replicas.Get(gid); g != nil && g.Table != nil && s.rt.replicas.Servable(gid) == nil {
		return s.rt.replicas.TableRows(ctx, gid, keys, s.Linearizable, fn)
	}
	out, err := s.rt.callReplica(ctx, gid, rpc.TableRows, rpc.TableRowsRequest{Group: gid, Keys: keys, Linearizable: s.Linearizable})
	if err != nil {
		return pgerr.From(err).WithDetail("Reading table %q shard %d (group %d).", s.t.Name, i, gid)
	}
	var rep rpc.TableRowsReply
	if err := json.Unmarshal(out, &rep); err != nil {
		return pgerr.BadReply.New("table_rows", err)
	}
	for _, v := range rep.Rows {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// TableWrite applies the commands (by shard number) to table t's shards,
// each through its shard's leader, in parallel, and returns the rows they
// changed once every one is committed on a majority. Each shard's command
// is atomic; a write to several shards is not: when one fails, others may
// have been applied (the first error is returned).
func (rt *Router) TableWrite(ctx context.Context, t *catalog.Table, cmds map[int]*tablesm.Command) (int, error) {
	type out struct {
		n   int
		err error
	}
	ch := make(chan out, len(cmds))
	for shard, c := range cmds {
		if shard < 0 || shard >= len(t.Groups) {
			return 0, pgerr.Internal.New(fmt.Errorf("table %q has no shard %d", t.Name, shard))
		}
		cmd := tablesm.Encode(NewBatchID(), c)
		go func() {
			n, err := rt.proposeShard(ctx, t.Groups[shard], cmd)
			if err != nil && len(cmds) > 1 {
				e := pgerr.From(err)
				detail := fmt.Sprintf("Shard %d of table %q refused its part of the statement; the other shards' parts may have been applied.", shard, t.Name)
				if e.Detail != "" {
					detail = e.Detail + " " + detail
				}
				err = e.WithDetail("%s", detail)
			}
			ch <- out{int(n), err}
		}()
	}
	total := 0
	var firstErr error
	for range cmds {
		o := <-ch
		if o.err != nil && firstErr == nil {
			firstErr = o.err
		}
		total += o.n
	}
	return total, firstErr
}
