package exec

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Windows and expiry of continuous views.
//
// A sliding window (PipelineDB: WHERE t > clock_timestamp() - interval
// 'w', or WITH (sw = 'w')) keeps the view's state in step-sized buckets:
// each stored group key gets a hidden suffix, the bucket of the row's
// time (t truncated to the step). A read merges, per group, the buckets
// still inside the window at read time; Apply drops buckets that have
// left it, so state stays bounded by (window / step) buckets per group.
//
// tumble(s, t, size) and hop(s, t, slide, size) in FROM expose
// window_start and window_end; the view groups by them like by any
// column. Each view shard keeps a watermark, the largest event time it
// has folded; an event whose window ended more than the allowed lateness
// before the watermark is late: it is counted, not folded.
//
// ttl/ttl_column expire groups whose timestamp key column is older than
// the ttl. Expiry in Apply uses the time the leader put into the delta,
// so every replica drops the same rows at the same log index.

// ViewOptions are the WITH options of a continuous view that shape its
// plan; the catalog stores them with the view.
type ViewOptions map[string]string

// WindowOptionKeys are the WITH options PlanViewWith understands.
var WindowOptionKeys = []string{"sw", "step_factor", "ttl", "ttl_column", "lateness"}

const (
	winSliding = iota + 1
	winTumble
	winHop
)

// windowPlan is a view's time window.
type windowPlan struct {
	kind     int
	col      int   // time column in the stream; -1 = arrival_timestamp
	size     int64 // microseconds: the window (sliding) or window size
	slide    int64 // hop: window start every slide; tumble: size
	step     int64 // sliding: bucket width
	lateness int64 // tumble/hop: allowed lateness behind the watermark
	passes   int   // hop: windows per row (ceil(size/slide))
}

// ttlPlan expires groups by a timestamp group key.
type ttlPlan struct {
	key int   // index of the key column in v.keys
	ttl int64 // microseconds
}

// bucketLen is the encoded length of a sliding window's bucket suffix
// (scalar.AppendKey of a non-null timestamp).
const bucketLen = 9

// timeFuncs are the functions whose value is the current time: in a
// continuous view they would be evaluated when a row is folded, not when
// the view is read.
var timeFuncs = map[string]bool{
	"now": true, "clock_timestamp": true, "statement_timestamp": true, "transaction_timestamp": true,
	"timeofday": true, "current_date": true, "localtimestamp": true, "localtime": true, "current_time": true,
}

func isTimeFunc(e parser.Expr) bool {
	switch e := e.(type) {
	case *parser.Func:
		return timeFuncs[strings.ToLower(e.Name)]
	case *parser.ColumnRef:
		return e.Table == "" && (e.Name == "current_timestamp" || e.Name == "current_date" || e.Name == "localtimestamp")
	}
	return false
}

// intervalMicros evaluates a constant interval expression (or a string
// such as '5 minutes') to microseconds; months are refused, a month has
// no fixed length.
func intervalMicros(e parser.Expr, what string) (int64, error) {
	c := &scalar.Compiler{NoAgg: what}
	n, err := c.Compile(e)
	if err != nil {
		return 0, err
	}
	if n, err = c.Coerce(n, types.Interval, e.Pos()); err != nil {
		return 0, err
	}
	d, err := n.Fn(&Ctx{}, scalar.RowInput(nil))
	if err != nil {
		return 0, scalar.PosErr(err, e.Pos())
	}
	return ivMicros(d, what, e.Pos())
}

func ivMicros(d types.Datum, what string, pos int) (int64, error) {
	if d.Null || d.Iv.Months != 0 {
		return 0, pgerr.WindowFixedLength.New(what).WithPos(pos)
	}
	us := int64(d.Iv.Days)*86_400_000_000 + d.Iv.Micros
	if us <= 0 {
		return 0, pgerr.WindowNotPositive.New(what).WithPos(pos)
	}
	return us, nil
}

// optionMicros parses a duration option ('5 minutes', '1 day').
func optionMicros(key, val string) (int64, error) {
	d, err := scalar.Coerce(types.NewText(val), types.Interval)
	if err != nil {
		return 0, pgerr.BadWindowOption.New(key, val)
	}
	return ivMicros(d, key, 0)
}

// conjuncts splits e at top-level ANDs.
func conjuncts(e parser.Expr, out []parser.Expr) []parser.Expr {
	if b, ok := e.(*parser.Binary); ok && strings.EqualFold(b.Op, "AND") {
		return conjuncts(b.R, conjuncts(b.L, out))
	}
	return append(out, e)
}

func andAll(es []parser.Expr) parser.Expr {
	var out parser.Expr
	for _, e := range es {
		if out == nil {
			out = e
		} else {
			out = &parser.Binary{P: e.Pos(), Op: "AND", L: out, R: e}
		}
	}
	return out
}

// slidingPredicate recognizes `col > clock_timestamp() - interval 'w'`
// (also >=, now(), current_timestamp, and the mirrored form).
func slidingPredicate(e parser.Expr) (*parser.ColumnRef, parser.Expr, bool) {
	b, ok := e.(*parser.Binary)
	if !ok {
		return nil, nil, false
	}
	col, bound := b.L, b.R
	switch b.Op {
	case ">", ">=":
	case "<", "<=":
		col, bound = b.R, b.L
	default:
		return nil, nil, false
	}
	c, ok := col.(*parser.ColumnRef)
	if !ok {
		return nil, nil, false
	}
	m, ok := bound.(*parser.Binary)
	if !ok || m.Op != "-" || !isTimeFunc(m.L) {
		return nil, nil, false
	}
	return c, m.R, true
}

// timeColumn resolves the time column of a window: a timestamp column of
// the stream, or arrival_timestamp (-1).
func timeColumn(in *scalar.Compiler, r *parser.ColumnRef) (int, error) {
	idx, err := in.ResolveCol(r)
	if err != nil {
		return 0, err
	}
	if idx < 0 {
		if r.Name == ArrivalColumn {
			return -1, nil
		}
		return 0, pgerr.ColumnNotFound.New(r.Name).WithPos(r.P)
	}
	if t := in.Cols[idx].T; !t.IsTime() {
		return 0, pgerr.WindowNotTime.New(r.Name, t).WithPos(r.P)
	}
	return idx, nil
}

// ArrivalColumn is the implicit column of every stream: when the row's
// batch was appended (PipelineDB's arrival_timestamp).
const ArrivalColumn = "arrival_timestamp"

// planWindow sets up v's window from FROM tumble()/hop(), a sliding
// predicate in WHERE, and the options; it returns the WHERE left to fold
// and the compiler scope's virtual columns.
func (v *ViewPlan) planWindow(sel *parser.Select, in *scalar.Compiler, opts ViewOptions) (parser.Expr, error) {
	where := sel.Where
	if f := sel.From.Func; f != nil {
		if err := v.planTableWindow(f, in); err != nil {
			return nil, err
		}
	}
	var rest []parser.Expr
	if where != nil {
		for _, c := range conjuncts(where, nil) {
			col, bound, ok := slidingPredicate(c)
			if !ok {
				rest = append(rest, c)
				continue
			}
			if v.win != nil {
				return nil, pgerr.WindowTwice.New().WithPos(c.Pos())
			}
			idx, err := timeColumn(in, col)
			if err != nil {
				return nil, err
			}
			size, err := intervalMicros(bound, "a sliding window")
			if err != nil {
				return nil, err
			}
			v.win = &windowPlan{kind: winSliding, col: idx, size: size}
		}
	}
	if sw, ok := opts["sw"]; ok {
		if v.win != nil {
			return nil, pgerr.WindowTwice.New()
		}
		size, err := optionMicros("sw", sw)
		if err != nil {
			return nil, err
		}
		v.win = &windowPlan{kind: winSliding, col: -1, size: size}
	}
	if sf, ok := opts["step_factor"]; ok {
		if v.win == nil || v.win.kind != winSliding {
			return nil, pgerr.WindowOptionWithout.New("step_factor", "a sliding window")
		}
		f, err := strconv.ParseFloat(sf, 64)
		if err != nil || f < 1 || f > 50 {
			return nil, pgerr.StepFactorRange.New(sf)
		}
		v.win.step = int64(float64(v.win.size) * f / 100)
	}
	if v.win != nil && v.win.kind == winSliding && v.win.step == 0 {
		v.win.step = v.win.size * 5 / 100 // PipelineDB's default step_factor
	}
	if v.win != nil && v.win.step < 1 {
		v.win.step = 1
	}
	if l, ok := opts["lateness"]; ok {
		if v.win == nil || v.win.kind == winSliding {
			return nil, pgerr.WindowOptionWithout.New("lateness", "tumble() or hop()")
		}
		if strings.TrimSpace(l) == "0" {
			v.win.lateness = 0
		} else {
			us, err := optionMicros("lateness", l)
			if err != nil {
				return nil, err
			}
			v.win.lateness = us
		}
	}
	rem := andAll(rest)
	for _, e := range []parser.Expr{rem} {
		if e != nil && agg.Any(e, isTimeFunc) {
			return nil, pgerr.ViewNowInWhere.New().WithPos(e.Pos())
		}
	}
	for _, it := range sel.Items {
		if agg.Any(it.Expr, isTimeFunc) {
			return nil, pgerr.ViewNowInWhere.New().WithPos(it.Expr.Pos())
		}
	}
	for _, g := range sel.GroupBy {
		if agg.Any(g, isTimeFunc) {
			return nil, pgerr.ViewNowInWhere.New().WithPos(g.Pos())
		}
	}
	return rem, nil
}

// planTableWindow plans FROM tumble(stream, t, size) or
// hop(stream, t, slide, size).
func (v *ViewPlan) planTableWindow(f *parser.Func, in *scalar.Compiler) error {
	name := strings.ToLower(f.Name)
	want := 3
	switch name {
	case "tumble":
	case "hop":
		want = 4
	default:
		return pgerr.TableFuncInView.New(f.Name).WithPos(f.P)
	}
	if len(f.Args) != want || f.Star || f.Distinct {
		return pgerr.WindowArgs.New(name).WithPos(f.P)
	}
	r, ok := f.Args[1].(*parser.ColumnRef)
	if !ok {
		return pgerr.WindowArgs.New(name).WithPos(f.Args[1].Pos())
	}
	idx, err := timeColumn(in, r)
	if err != nil {
		return err
	}
	w := &windowPlan{kind: winTumble, col: idx, passes: 1}
	if w.size, err = intervalMicros(f.Args[2], "a window size"); err != nil {
		return err
	}
	w.slide = w.size
	if name == "hop" {
		w.kind = winHop
		w.slide = w.size
		if w.size, err = intervalMicros(f.Args[3], "a window size"); err != nil {
			return err
		}
		if w.slide > w.size {
			return pgerr.HopSlideTooBig.New().WithPos(f.Args[2].Pos())
		}
		w.passes = int((w.size + w.slide - 1) / w.slide)
		if w.passes > 1000 {
			return pgerr.HopTooManyWindows.New(w.passes).WithPos(f.P)
		}
	}
	w.lateness = w.size // default: a window takes late events for one more window length
	v.win = w
	arrival := in.Virtual
	in.Virtual = func(col string) *scalar.Node {
		switch col {
		case "window_start":
			return scalar.VirtualNode(types.TimestampTZ, func(ec *Ctx, x scalar.Input) (types.Datum, error) {
				t, ok := w.rowTime(x)
				if !ok {
					return types.NullOf(types.TimestampTZ), nil
				}
				return types.NewInt(types.TimestampTZ, w.start(t, ec.Pass)), nil
			})
		case "window_end":
			return scalar.VirtualNode(types.TimestampTZ, func(ec *Ctx, x scalar.Input) (types.Datum, error) {
				t, ok := w.rowTime(x)
				if !ok {
					return types.NullOf(types.TimestampTZ), nil
				}
				return types.NewInt(types.TimestampTZ, w.start(t, ec.Pass)+w.size), nil
			})
		}
		if arrival != nil {
			return arrival(col)
		}
		return nil
	}
	return nil
}

// arrivalColumn resolves the implicit arrival_timestamp column.
func arrivalColumn(col string) *scalar.Node {
	if col == ArrivalColumn {
		return scalar.ArrivalNode()
	}
	return nil
}

// rowTime reads the window's time column of one row.
func (w *windowPlan) rowTime(x scalar.Input) (int64, bool) {
	b := x.Batch()
	if b == nil {
		return 0, false
	}
	if w.col < 0 {
		return b.Arrival, b.Arrival != 0
	}
	d := scalar.InputDatum(x, w.col)
	return d.I, !d.Null
}

// floorDiv rounds toward minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// start is the start of the pass-th window (0 = the latest) containing t.
func (w *windowPlan) start(t int64, pass int) int64 {
	return floorDiv(t, w.slide)*w.slide - int64(pass)*w.slide
}

// bucket is a sliding window's bucket of time t.
func (w *windowPlan) bucket(t int64) int64 { return floorDiv(t, w.step) * w.step }

func appendBucket(dst []byte, b int64) []byte {
	dst = append(dst, 1)
	return binary.BigEndian.AppendUint64(dst, uint64(b)^1<<63)
}

func readBucket(key []byte) int64 {
	return int64(binary.BigEndian.Uint64(key[len(key)-8:]) ^ 1<<63)
}

// Windowed reports whether the view's stored keys carry a sliding
// window's bucket, so that readers must call GroupKey.
func (v *ViewPlan) Windowed() bool { return v.win != nil && v.win.kind == winSliding }

// Expires reports whether the view's groups expire with time (a sliding
// window or a ttl): readers filter with Live, Apply drops with Sweep.
func (v *ViewPlan) Expires() bool { return v.Windowed() || v.ttl != nil }

// Watermarked reports whether the view keeps an event-time watermark
// (tumble and hop windows).
func (v *ViewPlan) Watermarked() bool {
	return v.win != nil && (v.win.kind == winTumble || v.win.kind == winHop)
}

// ExpiresAt returns when the group with this stored key leaves the view
// (Unix microseconds), or ok = false if it never does.
func (v *ViewPlan) ExpiresAt(key []byte) (int64, bool) {
	switch {
	case v.Windowed():
		if len(key) < bucketLen {
			return 0, false
		}
		// Rows are in the window while bucket > now - size.
		return readBucket(key) + v.win.size, true
	case v.ttl != nil:
		var d types.Datum
		var err error
		rest := key
		for i := 0; i <= v.ttl.key; i++ {
			if d, rest, err = scalar.DecodeKey(rest, v.keys[i].T); err != nil {
				return 0, false
			}
		}
		if d.Null {
			return 0, false
		}
		t := d.I
		if d.T == types.Date {
			t = d.I * 86_400_000_000
		}
		return t + v.ttl.ttl, true
	}
	return 0, false
}

// Live reports whether the group with this stored key is in the view at
// time now (Unix microseconds).
func (v *ViewPlan) Live(key []byte, now int64) bool {
	at, ok := v.ExpiresAt(key)
	return !ok || now < at
}

// GroupKey strips a sliding window's bucket from a stored key; other
// keys are returned as they are.
func (v *ViewPlan) GroupKey(key []byte) []byte {
	if v.Windowed() && len(key) >= bucketLen {
		return key[:len(key)-bucketLen]
	}
	return key
}

// SweepEvery is how often (microseconds of delta time) Apply looks for
// expired groups: a sliding window's step, or a twentieth of the ttl
// (at least a second).
func (v *ViewPlan) SweepEvery() int64 {
	switch {
	case v.Windowed():
		return v.win.step
	case v.ttl != nil:
		return max(v.ttl.ttl/20, 1_000_000)
	}
	return 0
}

// planTTL resolves WITH (ttl, ttl_column) against the planned keys.
func (v *ViewPlan) planTTL(opts ViewOptions, items []selItem) error {
	ttl, hasTTL := opts["ttl"]
	col, hasCol := opts["ttl_column"]
	if !hasTTL && !hasCol {
		return nil
	}
	if !hasTTL || !hasCol {
		return pgerr.TTLNeedsBoth.New()
	}
	us, err := optionMicros("ttl", ttl)
	if err != nil {
		return err
	}
	for oi, it := range items {
		if it.name != col {
			continue
		}
		for ki, kc := range v.keyCols {
			if kc == oi {
				t := v.keys[ki].T
				if !t.IsTime() && t != types.Date {
					return pgerr.TTLColumnNotTime.New(col, t)
				}
				v.ttl = &ttlPlan{key: ki, ttl: us}
				return nil
			}
		}
	}
	return pgerr.TTLColumnNotKey.New(col)
}

// WindowText describes the view's window and expiry for people:
// "sliding 5m0s (step 15s)", "tumble 1m0s", "hop 5m0s every 1m0s",
// "ttl 24h0m0s on minute"; "" for none.
func (v *ViewPlan) WindowText() string {
	var parts []string
	if w := v.win; w != nil {
		switch w.kind {
		case winSliding:
			parts = append(parts, fmt.Sprintf("sliding %v (step %v)", micros(w.size), micros(w.step)))
		case winTumble:
			parts = append(parts, fmt.Sprintf("tumble %v, lateness %v", micros(w.size), micros(w.lateness)))
		case winHop:
			parts = append(parts, fmt.Sprintf("hop %v every %v, lateness %v", micros(w.size), micros(w.slide), micros(w.lateness)))
		}
	}
	if v.ttl != nil {
		parts = append(parts, fmt.Sprintf("ttl %v on %s", micros(v.ttl.ttl), v.cols[v.keyCols[v.ttl.key]].Name))
	}
	return strings.Join(parts, ", ")
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
