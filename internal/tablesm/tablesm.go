// Package tablesm is the state machine of a table shard: the shard's rows
// keyed by the order-preserving encoding of their primary key, and a
// table of recent command ids so a retried proposal is applied once.
//
// Key layout inside the group's data range:
//
//	r<key>        -> row (see EncodeRow)
//	i<id 16>      -> applied index BE8 | result (dedupe table, bounded)
//
// Every write is one command, applied atomically: Apply reads the shard
// (the engine, overlaid with the writes of earlier entries not yet
// committed to it), decides every change, and only then writes them,
// so a command that fails (a duplicate key, a NOT NULL violated by an
// UPDATE) leaves the shard as it was. UPDATE, DELETE and ON CONFLICT DO
// UPDATE ship their expressions as SQL text with the parameter values and
// the statement's now(): Apply evaluates them against the shard's rows,
// the same on every replica, so a statement is atomic per shard and
// needs no locks. A command carries the table's columns as the proposer
// planned it; rows store column ids, so a command planned before an ALTER
// TABLE still writes rows every later schema reads right.
package tablesm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// IDLen is the length of a command id.
const IDLen = 16

// maxDedupe bounds the remembered command ids per shard.
const maxDedupe = 20000

// opWrite tags a table command.
const opWrite = 'W'

// ErrCorruptCommand is returned (as an apply result) for an undecodable command.
var ErrCorruptCommand = errors.New("tablesm: corrupt command")

// Ops of a Command.
const (
	OpInsert   = "insert"
	OpUpdate   = "update"
	OpDelete   = "delete"
	OpTruncate = "truncate"
)

// ON CONFLICT choices of an insert.
const (
	ConflictError   = ""
	ConflictNothing = "nothing"
	ConflictUpdate  = "update"
)

// Param is a statement parameter value, key-encoded (scalar.AppendKey).
type Param struct {
	T   types.T `json:"t"`
	Key []byte  `json:"k"`
}

// SetExpr is one `col = expr` of UPDATE or DO UPDATE: Col indexes the
// command's columns; SQL is the expression, its column references
// unqualified (and EXCLUDED.c written as the column "excluded.c").
type SetExpr struct {
	Col int    `json:"col"`
	SQL string `json:"sql"`
}

// Command is one write to a table shard.
type Command struct {
	Op    string           `json:"op"`
	Table string           `json:"table"`
	Cols  []catalog.Column `json:"cols"`
	Key   []int            `json:"key"`
	// Rows are an insert's rows, in Cols order, encoded with EncodeRow.
	Rows     [][]byte `json:"rows,omitempty"`
	Conflict string   `json:"conflict,omitempty"`
	// Set, Where: UPDATE's (or DO UPDATE's) assignments and condition
	// ("" = every row).
	Set   []SetExpr `json:"set,omitempty"`
	Where string    `json:"where,omitempty"`
	// Keys, if set, limits UPDATE/DELETE to these encoded primary keys
	// (a WHERE that pins the key); Where still filters them.
	Keys   [][]byte `json:"keys,omitempty"`
	Params []Param  `json:"params,omitempty"`
	Now    int64    `json:"now,omitempty"` // the statement's now(), unix µs
	// Style is the session's TimeZone, DateStyle and IntervalStyle the
	// expressions evaluate with (nil: the defaults, UTC).
	Style *Style `json:"style,omitempty"`
}

// Style is a session style as a command carries it.
type Style struct {
	Zone        string              `json:"zone,omitempty"`   // a tz database name, or a fixed zone's name
	Offset      int                 `json:"offset,omitempty"` // a fixed zone's offset east of UTC, seconds
	Fixed       bool                `json:"fixed,omitempty"`
	Date        types.DateStyle     `json:"date,omitempty"`
	Order       types.DateOrder     `json:"order,omitempty"`
	Interval    types.IntervalStyle `json:"interval,omitempty"`
	FloatDigits int                 `json:"float_digits,omitempty"`
}

// ShipStyle is st as a command carries it (nil for nil).
func ShipStyle(st *types.Style) *Style {
	if st == nil {
		return nil
	}
	out := &Style{Date: st.Date, Order: st.Order, Interval: st.Interval, FloatDigits: st.FloatDigits}
	if st.Loc != nil && st.Loc != time.UTC {
		out.Zone = st.Loc.String()
		if _, err := time.LoadLocation(out.Zone); err != nil {
			_, out.Offset = time.Unix(0, 0).In(st.Loc).Zone()
			out.Fixed = true
		}
	}
	return out
}

// style is the types.Style a command's expressions evaluate with.
func (s *Style) style() *types.Style {
	if s == nil {
		return nil
	}
	st := &types.Style{Date: s.Date, Order: s.Order, Interval: s.Interval, FloatDigits: s.FloatDigits}
	switch {
	case s.Zone == "":
	case s.Fixed:
		st.Loc = time.FixedZone(s.Zone, s.Offset)
	default:
		if loc, err := time.LoadLocation(s.Zone); err == nil {
			st.Loc = loc
		}
	}
	return st
}

// Result is the outcome of an applied command: the rows it inserted,
// updated or deleted.
type Result struct {
	N int
}

// Encode returns the wire form of a command with id.
func Encode(id [IDLen]byte, c *Command) []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain data
	}
	out := make([]byte, 0, 1+IDLen+len(b))
	out = append(out, opWrite)
	out = append(out, id[:]...)
	return append(out, b...)
}

// EncodeParams key-encodes parameter values.
func EncodeParams(ds []types.Datum) []Param {
	ps := make([]Param, len(ds))
	for i, d := range ds {
		ps[i] = Param{T: d.T, Key: scalar.AppendKey(nil, d)}
	}
	return ps
}

func decodeParams(ps []Param) ([]types.Datum, error) {
	ds := make([]types.Datum, len(ps))
	for i, p := range ps {
		d, _, err := scalar.DecodeKey(p.Key, p.T)
		if err != nil {
			return nil, err
		}
		ds[i] = scalar.Own(d)
	}
	return ds, nil
}

// RowKey returns the storage key of a row with primary key values kv.
func RowKey(prefix []byte, kv []types.Datum) []byte {
	k := append(append([]byte(nil), prefix...), 'r')
	for _, d := range kv {
		k = scalar.AppendKey(k, d)
	}
	return k
}

// KeyPart returns the encoded primary key of a row key.
func KeyPart(prefix, rowKey []byte) []byte { return rowKey[len(prefix)+1:] }

// EncodeKey is the encoding of primary key values (RowKey without the
// prefix), the form Command.Keys and the shard hash take.
func EncodeKey(kv []types.Datum) []byte {
	var k []byte
	for _, d := range kv {
		k = scalar.AppendKey(k, d)
	}
	return k
}

// EncodeRow encodes a row of cols: the column ids, then a one-row batch
// of the values (lossless for every type).
func EncodeRow(cols []catalog.Column, row []types.Datum) []byte {
	out := binary.AppendUvarint(nil, uint64(len(cols)))
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		out = binary.AppendUvarint(out, uint64(c.ID))
		ts[i] = c.T
	}
	b := types.NewBatch(ts)
	b.AppendRow(row)
	return types.AppendEncoded(out, b)
}

// DecodeRow decodes a stored row into the layout of cols (dst reused):
// a column the row lacks (added after it was written) reads its default,
// a value whose column is gone is skipped.
func DecodeRow(cols []catalog.Column, v []byte, dst []types.Datum) ([]types.Datum, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return nil, fmt.Errorf("tablesm: corrupt row")
	}
	v = v[k:]
	ids := make([]uint32, n)
	for i := range ids {
		id, k := binary.Uvarint(v)
		if k <= 0 {
			return nil, fmt.Errorf("tablesm: corrupt row")
		}
		ids[i] = uint32(id)
		v = v[k:]
	}
	var b types.Batch
	if err := types.Decode(v, &b); err != nil {
		return nil, fmt.Errorf("tablesm: row: %w", err)
	}
	if b.N != 1 || len(b.Cols) != len(ids) {
		return nil, fmt.Errorf("tablesm: corrupt row")
	}
	dst = dst[:0]
	for _, c := range cols {
		d, found := types.Datum{}, false
		for j, id := range ids {
			if id == c.ID && b.Cols[j].T == c.T {
				d, found = scalar.Own(b.Cols[j].Datum(0)), true
				break
			}
		}
		if !found {
			var err error
			if d, err = DefaultValue(c); err != nil {
				return nil, err
			}
		}
		dst = append(dst, d)
	}
	return dst, nil
}

// DefaultValue evaluates a column's constant default (NULL when none).
func DefaultValue(c catalog.Column) (types.Datum, error) {
	if c.Default == "" {
		return types.NullOf(c.T), nil
	}
	e, err := parser.ParseExpr(c.Default)
	if err != nil {
		return types.Datum{}, err
	}
	x, err := scalar.CompileAssign(e, nil, c.T, nil)
	if err != nil {
		return types.Datum{}, err
	}
	d, err := x.EvalRow(&scalar.Ctx{}, nil)
	return scalar.Own(d), err
}

// SM is a table shard's state machine.
type SM struct {
	prefix []byte
	db     pebble.Reader // the engine, as of the last committed apply batch

	// Owned by the apply loop.
	ids     map[[IDLen]byte][]byte // command id -> stored result
	idOrder [][IDLen]byte
	// The apply batch is not indexed (reading it back is not possible),
	// so the rows written into it since it was last committed are kept
	// here too, until Durable: over maps a row key to its value (nil:
	// deleted); truncated hides every row the engine holds.
	over      map[string][]byte
	truncated bool
}

// New returns the state machine of the table shard whose data range
// starts with prefix; db is the engine the apply batches commit to.
func New(prefix []byte, db pebble.Reader) *SM {
	return &SM{prefix: append([]byte(nil), prefix...), db: db, ids: map[[IDLen]byte][]byte{}, over: map[string][]byte{}}
}

// Durable implements raftstore.DurableNotifier: the apply batch is in the
// engine, so reads go there again.
func (sm *SM) Durable() {
	clear(sm.over)
	sm.truncated = false
}

// get reads a row as of the writes applied so far (nil when absent).
func (sm *SM) get(key []byte) ([]byte, error) {
	if v, ok := sm.over[string(key)]; ok {
		return v, nil
	}
	if sm.truncated {
		return nil, nil
	}
	return get(sm.db, key)
}

// rows calls fn with every row as of the writes applied so far.
func (sm *SM) rows(fn func(key, v []byte) error) error {
	if !sm.truncated {
		err := Rows(sm.db, sm.prefix, func(key, v []byte) error {
			if ov, ok := sm.over[string(key)]; ok {
				if ov == nil {
					return nil
				}
				v = ov
			}
			return fn(key, v)
		})
		if err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(sm.over))
	for k := range sm.over {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same order (and so the same first error) on every replica
	for _, k := range keys {
		v := sm.over[k]
		if v == nil {
			continue
		}
		if !sm.truncated {
			old, err := get(sm.db, []byte(k))
			if err != nil {
				return err
			}
			if old != nil {
				continue // visited above
			}
		}
		if err := fn([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

func (sm *SM) key(tag byte, rest []byte) []byte {
	k := append(append([]byte(nil), sm.prefix...), tag)
	return append(k, rest...)
}

// Load rebuilds the dedupe table from the engine.
func (sm *SM) Load(r pebble.Reader) error {
	sm.ids = map[[IDLen]byte][]byte{}
	sm.idOrder = nil
	sm.Durable()
	lo := sm.key('i', nil)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: sm.key('j', nil)})
	if err != nil {
		return err
	}
	type ent struct {
		id    [IDLen]byte
		index uint64
	}
	var ents []ent
	for it.First(); it.Valid(); it.Next() {
		var id [IDLen]byte
		copy(id[:], it.Key()[len(lo):])
		v := it.Value()
		if len(v) < 8 {
			continue
		}
		sm.ids[id] = bytes.Clone(v[8:])
		ents = append(ents, ent{id, binary.BigEndian.Uint64(v)})
	}
	if err := it.Close(); err != nil {
		return err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].index < ents[j].index })
	for _, e := range ents {
		sm.idOrder = append(sm.idOrder, e.id)
	}
	return nil
}

// storedResult is a command's result as the dedupe table keeps it.
type storedResult struct {
	N       int    `json:"n"`
	Code    string `json:"code,omitempty"`
	Message string `json:"msg,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Hint    string `json:"hint,omitempty"`
}

func (r *storedResult) result() any {
	if r.Code != "" {
		e := pgerr.New(r.Code, "%s", r.Message)
		e.Detail, e.Hint = r.Detail, r.Hint
		return e
	}
	return Result{N: r.N}
}

// Apply applies a command. The result is a Result, or a *pgerr.Error
// when the command changed nothing (a client error), or an error for an
// undecodable command.
func (sm *SM) Apply(wb *pebble.Batch, index uint64, cmd []byte) any {
	if len(cmd) < 1+IDLen || cmd[0] != opWrite {
		return fmt.Errorf("%w: at index %d", ErrCorruptCommand, index)
	}
	var id [IDLen]byte
	copy(id[:], cmd[1:])
	if prev, ok := sm.ids[id]; ok {
		var r storedResult
		if err := json.Unmarshal(prev, &r); err == nil {
			return r.result()
		}
	}
	var c Command
	if err := json.Unmarshal(cmd[1+IDLen:], &c); err != nil {
		return fmt.Errorf("%w: at index %d: %v", ErrCorruptCommand, index, err)
	}
	writes, n, perr := sm.plan(&c)
	var r storedResult
	if perr != nil {
		r = storedResult{Code: perr.Code, Message: perr.Message, Detail: perr.Detail, Hint: perr.Hint}
	} else {
		r.N = n
		for _, w := range writes {
			var err error
			switch {
			case w.del && w.rangeEnd != nil:
				err = wb.DeleteRange(w.key, w.rangeEnd, nil)
				clear(sm.over)
				sm.truncated = true
			case w.del:
				err = wb.Delete(w.key, nil)
				sm.over[string(w.key)] = nil
			default:
				err = wb.Set(w.key, w.val, nil)
				sm.over[string(w.key)] = w.val
			}
			if err != nil {
				return err
			}
		}
	}
	if err := sm.remember(wb, index, id, &r); err != nil {
		return err
	}
	return r.result()
}

// remember records a command's result for dedupe.
func (sm *SM) remember(wb *pebble.Batch, index uint64, id [IDLen]byte, r *storedResult) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	v := binary.BigEndian.AppendUint64(nil, index)
	v = append(v, b...)
	if err := wb.Set(sm.key('i', id[:]), v, nil); err != nil {
		return err
	}
	sm.ids[id] = b
	sm.idOrder = append(sm.idOrder, id)
	for len(sm.idOrder) > maxDedupe {
		old := sm.idOrder[0]
		sm.idOrder = sm.idOrder[1:]
		delete(sm.ids, old)
		if err := wb.Delete(sm.key('i', old[:]), nil); err != nil {
			return err
		}
	}
	return nil
}

// write is one change a command decided.
type write struct {
	key, val []byte
	del      bool
	rangeEnd []byte // with del: delete [key, rangeEnd)
}

// plan decides a command's writes without making them.
func (sm *SM) plan(c *Command) ([]write, int, *pgerr.Error) {
	switch c.Op {
	case OpTruncate:
		return []write{{key: sm.key('r', nil), rangeEnd: sm.key('s', nil), del: true}}, 0, nil
	case OpInsert:
		return sm.planInsert(c)
	case OpUpdate, OpDelete:
		return sm.planUpdate(c)
	}
	return nil, 0, pgerr.Internal.New(fmt.Errorf("tablesm: unknown op %q", c.Op))
}

// get reads the row at key (nil when absent).
func get(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// keyDetail is PostgreSQL's detail of a key: "Key (id)=(1)".
func keyDetail(c *Command, row []types.Datum) string {
	names := make([]string, len(c.Key))
	vals := make([]string, len(c.Key))
	for i, k := range c.Key {
		names[i] = c.Cols[k].Name
		if row[k].Null {
			vals[i] = "null"
		} else {
			vals[i] = string(types.AppendText(nil, row[k]))
		}
	}
	return fmt.Sprintf("Key (%s)=(%s)", strings.Join(names, ", "), strings.Join(vals, ", "))
}

func (c *Command) keyOf(row []types.Datum) []types.Datum {
	kv := make([]types.Datum, len(c.Key))
	for i, k := range c.Key {
		kv[i] = row[k]
	}
	return kv
}

// ctx is the evaluation context of a command's expressions.
func (c *Command) ctx() (*scalar.Ctx, *pgerr.Error) {
	ps, err := decodeParams(c.Params)
	if err != nil {
		return nil, pgerr.Internal.New(err)
	}
	return &scalar.Ctx{Now: time.UnixMicro(c.Now).UTC(), Params: ps, Style: c.Style.style()}, nil
}

// compiled are a command's SET expressions and WHERE, compiled over its
// columns (and, for DO UPDATE, the excluded row's after them).
type compiled struct {
	set   []*scalar.Expr
	where *scalar.Expr
}

func (c *Command) compile(excluded bool) (*compiled, *pgerr.Error) {
	cols := make([]scalar.Column, 0, 2*len(c.Cols))
	for _, col := range c.Cols {
		cols = append(cols, scalar.Column{Name: col.Name, T: col.T})
	}
	if excluded {
		for _, col := range c.Cols {
			cols = append(cols, scalar.Column{Name: "excluded." + col.Name, T: col.T})
		}
	}
	pt := &scalar.ParamTypes{Types: make([]types.T, len(c.Params)), Style: c.Style.style()}
	for i, p := range c.Params {
		pt.Types[i] = p.T
	}
	var out compiled
	for _, s := range c.Set {
		e, err := parser.ParseExpr(s.SQL)
		if err != nil {
			return nil, pgerr.From(err)
		}
		x, err := scalar.CompileAssign(e, cols, c.Cols[s.Col].T, pt)
		if err != nil {
			return nil, pgerr.From(err)
		}
		out.set = append(out.set, x)
	}
	if c.Where != "" {
		e, err := parser.ParseExpr(c.Where)
		if err != nil {
			return nil, pgerr.From(err)
		}
		x, err := scalar.Compile(e, cols, pt)
		if err != nil {
			return nil, pgerr.From(err)
		}
		out.where = x
	}
	return &out, nil
}

// keep evaluates WHERE over row.
func (x *compiled) keep(ec *scalar.Ctx, row []types.Datum) (bool, *pgerr.Error) {
	if x.where == nil {
		return true, nil
	}
	d, err := x.where.EvalRow(ec, row)
	if err != nil {
		return false, pgerr.From(err)
	}
	return !d.Null && d.I != 0, nil
}

// assign computes the updated row: the SET expressions over in (the old
// row, and the excluded one after it for DO UPDATE).
func (c *Command) assign(ec *scalar.Ctx, x *compiled, in, old []types.Datum) ([]types.Datum, *pgerr.Error) {
	next := append([]types.Datum(nil), old...)
	for i, s := range c.Set {
		d, err := x.set[i].EvalRow(ec, in)
		if err != nil {
			return nil, pgerr.From(err)
		}
		next[s.Col] = scalar.Own(d)
	}
	if err := c.checkNotNull(next); err != nil {
		return nil, err
	}
	for _, k := range c.Key {
		if scalar.CompareDatums(next[k], old[k]) != 0 {
			return nil, pgerr.UpdateKeyColumn.New(c.Cols[k].Name)
		}
	}
	return next, nil
}

func (c *Command) checkNotNull(row []types.Datum) *pgerr.Error {
	for i, col := range c.Cols {
		if col.NotNull && row[i].Null {
			return pgerr.NullInColumn.New(col.Name, c.Table)
		}
	}
	return nil
}

func (sm *SM) planInsert(c *Command) ([]write, int, *pgerr.Error) {
	var x *compiled
	var ec *scalar.Ctx
	if c.Conflict == ConflictUpdate {
		var perr *pgerr.Error
		if x, perr = c.compile(true); perr != nil {
			return nil, 0, perr
		}
		if ec, perr = c.ctx(); perr != nil {
			return nil, 0, perr
		}
	}
	pending := map[string]int{} // row key -> index in writes
	var writes []write
	n := 0
	var row, old []types.Datum
	for _, enc := range c.Rows {
		var err error
		if row, err = DecodeRow(c.Cols, enc, row); err != nil {
			return nil, 0, pgerr.Internal.New(err)
		}
		if perr := c.checkNotNull(row); perr != nil {
			return nil, 0, perr
		}
		key := RowKey(sm.prefix, c.keyOf(row))
		var cur []byte
		wi, inStmt := pending[string(key)]
		if inStmt {
			cur = writes[wi].val
		} else if cur, err = sm.get(key); err != nil {
			return nil, 0, pgerr.Internal.New(err)
		}
		if cur == nil {
			pending[string(key)] = len(writes)
			writes = append(writes, write{key: key, val: EncodeRow(c.Cols, row)})
			n++
			continue
		}
		switch c.Conflict {
		case ConflictNothing:
			continue
		case ConflictUpdate:
			if inStmt {
				// PostgreSQL: a row may not be affected twice by one command.
				return nil, 0, pgerr.ConflictTwice.New()
			}
			if old, err = DecodeRow(c.Cols, cur, old); err != nil {
				return nil, 0, pgerr.Internal.New(err)
			}
			in := append(append([]types.Datum(nil), old...), row...)
			ok, perr := x.keep(ec, in)
			if perr != nil {
				return nil, 0, perr
			}
			if !ok {
				continue
			}
			next, perr := c.assign(ec, x, in, old)
			if perr != nil {
				return nil, 0, perr
			}
			pending[string(key)] = len(writes)
			writes = append(writes, write{key: key, val: EncodeRow(c.Cols, next)})
			n++
		default:
			return nil, 0, pgerr.DuplicateKey.New(c.Table+"_pkey").WithDetail("%s already exists.", keyDetail(c, row))
		}
	}
	return writes, n, nil
}

func (sm *SM) planUpdate(c *Command) ([]write, int, *pgerr.Error) {
	x, perr := c.compile(false)
	if perr != nil {
		return nil, 0, perr
	}
	ec, perr := c.ctx()
	if perr != nil {
		return nil, 0, perr
	}
	var writes []write
	var row []types.Datum
	each := func(key, v []byte) *pgerr.Error {
		var err error
		if row, err = DecodeRow(c.Cols, v, row); err != nil {
			return pgerr.Internal.New(err)
		}
		ok, perr := x.keep(ec, row)
		if perr != nil || !ok {
			return perr
		}
		if c.Op == OpDelete {
			writes = append(writes, write{key: bytes.Clone(key), del: true})
			return nil
		}
		next, perr := c.assign(ec, x, row, row)
		if perr != nil {
			return perr
		}
		writes = append(writes, write{key: bytes.Clone(key), val: EncodeRow(c.Cols, next)})
		return nil
	}
	if c.Keys != nil {
		seen := map[string]bool{}
		for _, k := range c.Keys {
			key := sm.key('r', k)
			if seen[string(key)] {
				continue
			}
			seen[string(key)] = true
			v, err := sm.get(key)
			if err != nil {
				return nil, 0, pgerr.Internal.New(err)
			}
			if v == nil {
				continue
			}
			if perr := each(key, v); perr != nil {
				return nil, 0, perr
			}
		}
		return writes, len(writes), nil
	}
	err := sm.rows(func(key, v []byte) error {
		if perr := each(key, v); perr != nil {
			return perr
		}
		return nil
	})
	if err != nil {
		return nil, 0, pgerr.From(err)
	}
	return writes, len(writes), nil
}

// Rows calls fn with every stored row of the shard whose data range
// starts with prefix, in key order (key and value valid during the call).
func Rows(r pebble.Reader, prefix []byte, fn func(key, val []byte) error) error {
	lo := append(append([]byte(nil), prefix...), 'r')
	hi := append(append([]byte(nil), prefix...), 's')
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}

// Lookup reads the row with encoded primary key k (see EncodeKey) of the
// shard whose data range starts with prefix; nil when absent.
func Lookup(r pebble.Reader, prefix, k []byte) ([]byte, error) {
	return get(r, append(append(append([]byte(nil), prefix...), 'r'), k...))
}

// ShardOf returns the shard (of shards) that holds the row with encoded
// primary key k: an FNV-1a hash of the key encoding, the same on every
// node and across restarts.
func ShardOf(k []byte, shards int) int {
	if shards <= 1 {
		return 0
	}
	var h uint64 = 14695981039346656037
	for _, b := range k {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return int(h % uint64(shards))
}
