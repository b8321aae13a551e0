package agg

import (
	"encoding/binary"
	"errors"
	"slices"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Beyond the five built-in aggregates (whose fold loops are specialised
// in Accum and in exec's Delta), every aggregate is an Ext: a value of
// one of two interfaces that SELECT (Accum) and continuous views (Layout,
// State, exec's Delta) drive the same way, so both compute identical
// results from the same code.
//
//   - Fixed: the state is a fixed number of 64-bit words, the first the
//     number of values folded. Folding into an existing group writes
//     words in place and never allocates (stddev, corr, bool_and, ...).
//   - Blob: the state is a Go value (BlobState) of variable size; in a
//     Delta the group's word indexes it, encoded it is length-prefixed
//     bytes after the count word (string_agg, keyed_min, DISTINCT, ...).
//
// Every merge is deterministic: the same states merged in the same order
// give the same bytes, which is what Raft replicas need.

// Fixed is an aggregate whose state is Words() 64-bit words; p[0] counts
// the values folded (0 = empty state).
type Fixed interface {
	Words() int
	// Add folds one row's argument values (NULLs included: the aggregate
	// applies its own NULL rule) into p.
	Add(p []uint64, args []types.Datum) error
	// Merge returns the merge of non-empty states a and b. States pass
	// by value (not as slices) so that merging and finalizing from the
	// stack does not make them escape to the heap.
	Merge(a, b Words) (Words, error)
	// Result finalizes w (which may be empty).
	Result(w Words) types.Datum
}

// Words holds a Fixed aggregate's state words (the first Words()).
type Words = [MaxWords]uint64

// Blob is an aggregate whose state is a variable-size Go value.
type Blob interface {
	New() BlobState
	// Decode reads a state written by BlobState.Append; corrupt input is
	// an error (scalar.ErrCorruptState), never a panic. The state may not
	// alias buf.
	Decode(buf []byte) (BlobState, error)
}

// BlobState is the running state of a Blob aggregate in one group.
type BlobState interface {
	// Add folds one row's argument values (NULLs included).
	Add(args []types.Datum) error
	// Merge merges o (a state of the same aggregate, which the call may
	// consume) into the receiver.
	Merge(o BlobState) error
	// Append appends a deterministic encoding of the state.
	Append(dst []byte) []byte
	// Result finalizes the state.
	Result() (types.Datum, error)
}

// Ext reports whether s is driven through Fixed or Blob rather than the
// built-in fold paths.
func (s *Spec) Ext() bool { return s.Fixed != nil || s.Blob != nil }

// extDef is an aggregate known by name: build resolves it for argument
// types (already compiled, possibly untyped literals), setting s.T and
// s.Fixed or s.Blob, or returns errNoMatch.
type extDef struct {
	// direct is the number of direct arguments of an ordered-set
	// aggregate (`f(direct...) WITHIN GROUP (ORDER BY x)`); -1 for a
	// plain aggregate (WITHIN GROUP refused).
	direct int
	// notInView, when set, refuses the aggregate in a continuous view
	// with this hint (0A000).
	notInView string
	build     func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error
}

// errNoMatch makes addAgg report 42883 (no such function for these types).
var errNoMatch = errors.New("no matching aggregate")

var extAggs map[string]extDef

func init() {
	extAggs = map[string]extDef{}
	for name, d := range statsAggs() {
		extAggs[name] = d
	}
	for name, d := range blobAggs() {
		extAggs[name] = d
	}
	for name, d := range sketchAggs() {
		extAggs[name] = d
	}
	for name, d := range jsonAggs() {
		extAggs[name] = d
	}
	for name, d := range arrayAggs() {
		extAggs[name] = d
	}
}

// ExtNames lists the extension aggregates' names (for tests that check
// scalar.IsAggName knows them all).
func ExtNames() []string {
	var out []string
	for n := range extAggs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// buildExt resolves an extension aggregate, or the DISTINCT form of any
// aggregate, into spec.
func (a *Scope) buildExt(f *parser.Func, name string, spec *Spec, args []*scalar.Node) error {
	def, ok := extAggs[name]
	if !ok {
		return scalar.NoFunc(f, args)
	}
	if def.direct >= 0 && len(f.WithinGroup) == 0 {
		return pgerr.WithinGroupRequired.New(name).WithPos(f.P)
	}
	if def.direct < 0 && len(f.WithinGroup) > 0 {
		return pgerr.WithinGroupNotAllowed.New(name).WithPos(f.P)
	}
	spec.Kind, spec.NotInView = Other, def.notInView
	if err := def.build(a, f, spec, args); err != nil {
		if err == errNoMatch {
			return scalar.NoFunc(f, args)
		}
		return err
	}
	return nil
}

// coerceAll applies implicit casts of args to t (untyped literals and
// parameters take t), or returns errNoMatch.
func (a *Scope) coerceAll(f *parser.Func, args []*scalar.Node, t types.T) error {
	for i, n := range args {
		if !(n.Untyped || n.Param > 0 || scalar.ImplicitCast(n.T, t)) {
			return errNoMatch
		}
		c, err := a.In.Coerce(n, t, argPos(f, i))
		if err != nil {
			return err
		}
		args[i] = c
	}
	return nil
}

// argPos is the position of argument i of f (the WITHIN GROUP keys
// follow the direct arguments).
func argPos(f *parser.Func, i int) int {
	if i < len(f.Args) {
		return f.Args[i].Pos()
	}
	if k := i - len(f.Args); k < len(f.WithinGroup) {
		return f.WithinGroup[k].Expr.Pos()
	}
	return f.P
}

// extAdd folds one row into an Accum's extension state.
func (a *Accum) extAdd(s *Spec, args []types.Datum) error {
	if s.Fixed != nil {
		if a.w == nil {
			a.w = make([]uint64, s.Fixed.Words())
		}
		return s.Fixed.Add(a.w, args)
	}
	if a.b == nil {
		a.b = s.Blob.New()
	}
	return a.b.Add(args)
}

// extResult finalizes an Accum's extension state.
func (a *Accum) extResult(s *Spec) (types.Datum, error) {
	if s.Fixed != nil {
		if a.w == nil {
			a.w = make([]uint64, s.Fixed.Words())
		}
		var w Words
		copy(w[:], a.w)
		return s.Fixed.Result(w), nil
	}
	if a.b == nil {
		a.b = s.Blob.New()
	}
	return a.b.Result()
}

// AddRow folds one row into a: args are the values of s.Args in the row
// (none for count(*)). The caller has applied s.Filter.
func (a *Accum) AddRow(s *Spec, args []types.Datum, scratch *[]byte) error {
	if s.Ext() {
		return a.extAdd(s, args)
	}
	var v types.Datum
	if len(args) > 0 {
		v = args[0]
	}
	return a.Add(s, v, scratch)
}

// readBytes reads uvarint-length-prefixed bytes from buf and returns
// them and the rest.
func readBytes(buf []byte) ([]byte, []byte, error) {
	n, k := binary.Uvarint(buf)
	if k <= 0 || uint64(len(buf)-k) < n {
		return nil, nil, scalar.ErrCorruptState
	}
	return buf[k : k+int(n)], buf[k+int(n):], nil
}

// DecodeBlob decodes a blob aggregate's state bytes (st.S of a StateB
// aggregate); an empty state decodes to a new one.
func DecodeBlob(l Layout, st *State) (BlobState, error) {
	if st.W[0] == 0 {
		return l.Blob.New(), nil
	}
	return l.Blob.Decode(st.S)
}

// FinalResult finalizes aggregate s from its merged partial state st, for
// every kind (PartialResult serves the built-in ones).
func FinalResult(s *Spec, l Layout, st *State) (types.Datum, error) {
	switch l.Class {
	case StateW:
		return l.Fixed.Result(st.W), nil
	case StateB:
		b, err := DecodeBlob(l, st)
		if err != nil {
			return types.Datum{}, err
		}
		return b.Result()
	}
	return PartialResult(s, l, st), nil
}
