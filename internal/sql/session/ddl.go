package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

// maxShards bounds shards per stream or view.
const maxShards = 256

func optInt(o parser.Option, min, max int) (int, error) {
	v, _ := optString(o)
	i, err := strconv.Atoi(v)
	if err != nil || i < min || i > max {
		return 0, pgerr.IntOptionRange.New(o.Key, min, max, v).WithPos(o.P)
	}
	return i, nil
}

func unknownOption(o parser.Option, what string, valid []string) error {
	return pgerr.UnknownOption.New(what, o.Key).
		WithHint("Valid options: %s.", strings.Join(valid, ", ")).WithPos(o.P)
}

var streamOptions = []string{"shards", "replicas", "shard_key", "retention", "regions", "primary_region", "learners_per_region", "on_shard_unavailable"}

func (s *Session) prepareCreateStream(cs *parser.CreateStream) (*prepared, error) {
	if cs.Foreign && !strings.EqualFold(cs.Server, "pipelinedb") {
		return nil, pgerr.ForeignServerUnsupported.New(cs.Server).
			WithHint("Use SERVER pipelinedb to create a stream, or CREATE STREAM.").WithPos(cs.P)
	}
	if len(cs.Cols) == 0 {
		return nil, pgerr.StreamWithoutColumns.New().WithPos(cs.P)
	}
	st := &catalog.Stream{Name: cs.Name, Shards: defaultShards(s.b.Catalog()), Replicas: defaultReplicas(s.b.Catalog()), Foreign: cs.Foreign, Owner: s.currentUser()}
	seen := map[string]bool{}
	var rs regionSpec // regions.go
	for _, c := range cs.Cols {
		if seen[c.Name] {
			return nil, pgerr.ColumnRepeated.New(c.Name).WithPos(c.P)
		}
		seen[c.Name] = true
		t, ok := types.FromName(c.Type.Name)
		if !ok {
			return nil, pgerr.TypeNotFound.New(c.Type.Name).WithPos(c.Type.P)
		}
		if t == types.Bytea {
			return nil, pgerr.ByteaStreamColumn.New(c.Name).WithPos(c.Type.P)
		}
		if len(c.Type.Mods) > 0 {
			// numeric(10,2), varchar(20): the ingest paths would not
			// enforce the modifier, so it is refused, not ignored.
			return nil, pgerr.StreamTypmod.New(c.Name, c.Type.Name).WithPos(c.Type.P)
		}
		st.Cols = append(st.Cols, catalog.Column{Name: c.Name, T: t})
	}
	for _, o := range cs.With {
		var err error
		switch o.Key {
		case "shards":
			st.Shards, err = optInt(o, 1, maxShards)
		case "replicas":
			rs.replicas = true
			if st.Replicas, err = optInt(o, 1, 7); err == nil {
				err = checkReplicas(s.b.Catalog(), st.Replicas, o.P)
			}
		case "shard_key":
			v, _ := optString(o)
			if !seen[v] {
				err = pgerr.ShardKeyNotAColumn.New(v, cs.Name).WithPos(o.P)
			}
			st.ShardKey = v
		case "retention":
			v, _ := optString(o)
			if _, perr := types.ParseText(types.Interval, v); perr != nil {
				err = pgerr.BadRetention.New(v).WithPos(o.P)
			}
			st.Retention = v
		case "regions", "primary_region", "learners_per_region":
			err = rs.option(o)
		case "on_shard_unavailable":
			err = optOnShardUnavailable(o, st) // reroute.go
		default:
			err = unknownOption(o, "stream", streamOptions)
		}
		if err != nil {
			return nil, err
		}
	}
	if rs.set {
		if err := rs.check(s.b.Catalog()); err != nil {
			return nil, err
		}
	}
	if err := checkRerouteStream(st, cs.With); err != nil {
		return nil, err
	}
	tag := "CREATE STREAM"
	if cs.Foreign {
		tag = "CREATE FOREIGN TABLE"
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		var err error
		if rs.set {
			st.Nodes, st.Regional, err = s.placeRegional("stream "+st.Name, &rs, st.Shards, &st.Replicas)
		} else {
			st.Nodes, err = s.b.Place(st.Shards, st.Replicas)
		}
		if err != nil {
			return "", err
		}
		res, err := s.b.Propose(ctx, &catalog.CreateStream{Stream: st, IfNotExists: cs.IfNotExists})
		if err != nil {
			return "", err
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		if err := s.b.WaitGroups(ctx, res.Stream.Groups); err != nil {
			return "", err
		}
		return tag, nil
	}}, nil
}

var viewOptions = []string{"shards", "replicas", "num_shards", "num_replicas", "start", "sw", "step_factor", "ttl", "ttl_column", "lateness", "ha", "disk", "checkpoint_interval", "regions", "primary_region", "learners_per_region"}

// viewSettings are the Timeplus SETTINGS keys Cairn accepts.
var viewSettings = []string{"checkpoint_settings", "checkpoint_interval"}

// viewFrom resolves the FROM of a new view (a stream, a transform, or
// output_of('transform'), maybe inside tumble()/hop()) to its base stream
// and the chain of transforms between them (nearest first: names and
// queries).
func (s *Session) viewFrom(cv *parser.CreateView) (st *catalog.Stream, over, chain []string, err error) {
	sel := cv.Query
	if sel.From != nil && sel.From.Join != nil {
		st, err := s.joinViewStream(cv) // viewjoin.go
		return st, nil, nil, err
	}
	if sel.From == nil || sel.From.Subquery != nil {
		return nil, nil, nil, pgerr.ViewNotFromStream.New().WithPos(sel.P)
	}
	name, pos, outputOf, err := exec.ViewFrom(sel)
	if err != nil {
		return nil, nil, nil, err
	}
	if sel.From.Func != nil && name == "" {
		// Not tumble(stream, ...): let the planner say what is wrong.
		if _, err := exec.PlanView(sel, nil); err != nil {
			return nil, nil, nil, err
		}
	}
	if !outputOf && sel.From.Func == nil {
		name = s.fromKey(sel.From.Schema, name)
	} else {
		name = s.lookupKey(name)
	}
	if name == cv.Name {
		return nil, nil, nil, pgerr.ViewReadsItself.New(name).WithPos(pos)
	}
	cat := s.b.Catalog()
	if st := cat.Streams[name]; st != nil {
		if outputOf {
			return nil, nil, nil, pgerr.OutputOfNotTransform.New(name, parser.QuoteIdent(name)).WithPos(pos)
		}
		return st, nil, nil, nil
	}
	if v := cat.Views[name]; v != nil {
		if !v.Transform {
			return nil, nil, nil, pgerr.ViewOverAggregate.New(name, v.Stream).WithPos(pos)
		}
		if st = cat.Streams[v.Stream]; st == nil {
			return nil, nil, nil, catalog.ErrNoStream(v.Stream).WithPos(pos)
		}
		return st, append([]string{v.Name}, v.Over...), append([]string{v.Query}, v.Chain...), nil
	}
	if cv.Kind == parser.ViewPlain || outputOf {
		return nil, nil, nil, pgerr.RelationNotFound.New(name).
			WithHint("CREATE VIEW makes a continuous view over a stream or a transform; create that first.").WithPos(pos)
	}
	return nil, nil, nil, catalog.ErrNoStream(name).WithPos(pos)
}

// stateOptions are the view options that shape a view's state; a
// transform has none.
var stateOptions = []string{"shards", "num_shards", "replicas", "num_replicas", "start", "ha", "disk", "checkpoint_interval", "regions", "primary_region", "learners_per_region"}

func (s *Session) prepareCreateView(cv *parser.CreateView) (*prepared, error) {
	sel := cv.Query
	for _, o := range cv.With {
		if o.Key == "action" || o.Key == "outputfunc" {
			val, _ := optString(o)
			if o.Key == "outputfunc" {
				val = "transform, outputfunc = " + val
			}
			return nil, pgerr.TransformAction.New(val).WithPos(o.P)
		}
	}
	st, over, chain, err := s.viewFrom(cv)
	if err != nil {
		return nil, err
	}
	opts := exec.ViewOptions{}
	optPos := map[string]int{}
	for _, o := range cv.With {
		if slices.Contains(exec.WindowOptionKeys, o.Key) {
			val, ok := optString(o)
			if !ok {
				return nil, pgerr.BadWindowOption.New(o.Key, "").WithPos(o.P)
			}
			opts[o.Key] = val
			optPos[o.Key] = o.P
		}
	}
	var plan *exec.ViewPlan
	var tr *exec.Transform
	var recordJoined func(*catalog.View)
	if sel.From.Join != nil {
		plan, recordJoined, err = s.planJoinView(cv, st, opts) // viewjoin.go
	} else {
		plan, tr, err = exec.PlanChain(sel, st.Name, exec.StreamColumns(st), chain, opts)
	}
	if err != nil {
		// An option's error points at the option: the longest option
		// name the message mentions (ttl_column before ttl).
		e := pgerr.From(err)
		best := ""
		for k := range optPos {
			if e.Position == 0 && strings.Contains(e.Message, k) && len(k) > len(best) {
				best = k
			}
		}
		if best != "" {
			e = e.WithPos(optPos[best])
		}
		return nil, e
	}
	if tz := s.style(); !tz.IsUTC() {
		// Views are evaluated by background tasks in UTC; refuse a
		// definition whose result would depend on this session's zone.
		hasTime := false
		for _, c := range st.Cols {
			hasTime = hasTime || c.T == types.TimestampTZ || c.T == types.Timestamp || c.T == types.Date
		}
		if what, dep := zoneDependent(sel, hasTime); dep {
			zone, _ := s.get("timezone")
			return nil, pgerr.ViewDependsOnTimeZone.New(cv.Name, zone).
				WithDetail("The definition uses %s.", what).WithPos(sel.P)
		}
	}
	if cv.OrReplace && s.b.Catalog().Views[cv.Name] != nil {
		// OR REPLACE of a view that does not exist yet just creates it.
		return nil, pgerr.ViewReplaceUnsupported.New(cv.Name).
			WithHint("Continuous views are not redefined in place: DROP VIEW %s, then CREATE it again (it back-fills from the stream's retained history).", cv.Name).WithPos(cv.P)
	}
	v := &catalog.View{Name: cv.Name, Query: cv.QueryText, Stream: st.Name, StreamID: st.ID, Shards: defaultShards(s.b.Catalog()), Replicas: defaultReplicas(s.b.Catalog()),
		Transform: tr != nil, Over: over, Chain: chain, Owner: s.currentUser()}
	if len(opts) > 0 {
		v.Options = opts
	}
	if recordJoined != nil {
		recordJoined(v)
	}
	for _, src := range []*catalog.Stream{st, s.b.Catalog().Streams[v.JoinStream]} {
		if err := checkRerouteView(cv.Name, src, plan, sel.From.Join != nil, cv.P); err != nil { // reroute.go
			return nil, err
		}
	}
	if err := s.noteViewSources(v); err != nil { // authz.go: SELECT on what it reads
		return nil, err
	}
	if plan != nil {
		v.Window = plan.WindowText()
	}
	switch {
	case tr != nil && cv.Kind == parser.ViewMaterialized:
		return nil, pgerr.MaterializedNoState.New().WithPos(cv.P)
	case tr != nil:
		v.Kind, v.Shards, v.Replicas = "transform", 0, 0
		for _, o := range cv.With {
			if slices.Contains(stateOptions, o.Key) {
				return nil, pgerr.TransformOption.New(o.Key).WithPos(o.P)
			}
		}
		if len(cv.Settings) > 0 {
			return nil, pgerr.TransformOption.New(cv.Settings[0].Key).WithPos(cv.Settings[0].P)
		}
	case cv.Kind == parser.ViewMaterialized:
		v.Kind = "materialized"
	case cv.Kind == parser.ViewContinuous:
		v.Kind = "continuous"
	default:
		v.Kind = "view"
	}
	withInterval, err := s.viewHA(cv, v) // scheduled.go: WITH (ha = 'scheduled', …)
	if err != nil {
		return nil, err
	}
	latest := false
	v.StartFrom = "earliest"
	var rs regionSpec // regions.go
	for _, o := range cv.With {
		var err error
		switch o.Key {
		case "shards", "num_shards":
			v.Shards, err = optInt(o, 1, maxShards)
		case "replicas":
			rs.replicas = true
			if v.Replicas, err = optInt(o, 1, 7); err == nil {
				err = checkReplicas(s.b.Catalog(), v.Replicas, o.P)
			}
		case "num_replicas": // PipelineDB counts copies beyond the primary
			rs.replicas = true
			var r int
			if r, err = optInt(o, 0, 6); err == nil {
				v.Replicas = r + 1
				if v.Replicas > s.b.Catalog().DataNodes() {
					err = pgerr.TooFewNodesForReplicas.New(r, r+1, s.b.Catalog().DataNodes()).WithPos(o.P)
				} else {
					err = checkReplicas(s.b.Catalog(), v.Replicas, o.P)
				}
			}
		case "start":
			val, _ := optString(o)
			switch strings.ToLower(val) {
			case "latest":
				latest, v.StartFrom = true, "latest"
			case "earliest":
				v.StartFrom = "earliest"
			default:
				err = pgerr.BadViewStart.New(val).WithPos(o.P)
			}
		case "sw", "step_factor", "ttl", "ttl_column", "lateness":
			// Planned above (windows and expiry).
		case "ha", "disk", "checkpoint_interval":
			// Read by viewHA.
		case "regions", "primary_region", "learners_per_region":
			if err = rs.option(o); err == nil && v.Sched != nil {
				err = pgerr.RegionsScheduledView.New(o.Key).WithPos(o.P)
			}
		default:
			err = unknownOption(o, "view", viewOptions)
		}
		if err != nil {
			return nil, err
		}
	}
	if rs.set {
		if err := rs.check(s.b.Catalog()); err != nil {
			return nil, err
		}
	}
	interval := ""
	for _, o := range cv.Settings {
		val, _ := optString(o)
		switch o.Key {
		case "checkpoint_settings":
			ck, err := checkCheckpointSettings(val, o.P)
			if err != nil {
				return nil, err
			}
			if iv := ck.interval; iv != "" {
				if interval != "" {
					return nil, pgerr.CheckpointIntervalTwice.New().WithPos(o.P)
				}
				interval = iv
			}
		case "checkpoint_interval":
			d, err := parseCheckpointInterval(val, o.P)
			if err != nil {
				return nil, err
			}
			if interval != "" {
				return nil, pgerr.CheckpointIntervalTwice.New().WithPos(o.P)
			}
			interval = d
		default:
			return nil, pgerr.UnknownViewSetting.New(o.Key).
				WithHint("Valid settings: %s.", strings.Join(viewSettings, ", ")).WithPos(o.P)
		}
		if v.Settings == nil {
			v.Settings = map[string]string{}
		}
		v.Settings[o.Key] = val
	}
	if withInterval != "" {
		if interval != "" && interval != withInterval {
			return nil, pgerr.ViewHADisagree.New("WITH (checkpoint_interval = …)", "the SETTINGS interval").WithPos(cv.P)
		}
		interval = withInterval
	}
	if interval != "" {
		if v.Settings == nil {
			v.Settings = map[string]string{}
		}
		v.Settings["checkpoint_interval"] = interval // normalized: what view tasks read
	}
	setSchedInterval(v, interval)
	tag := "CREATE MATERIALIZED VIEW"
	switch cv.Kind {
	case parser.ViewContinuous:
		tag = "CREATE CONTINUOUS VIEW"
	case parser.ViewPlain:
		tag = "CREATE VIEW"
	}
	if v.Transform {
		return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
			// No state: nothing to place, start or back-fill.
			v.StartFrom = ""
			res, err := s.b.Propose(ctx, &catalog.CreateView{View: v, IfNotExists: cv.IfNotExists})
			if err != nil {
				return "", err
			}
			if res.Notice != "" {
				w.Notice(res.Notice)
			}
			return tag, nil
		}}, nil
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		var err error
		if v.Sched != nil {
			// One owner, picked by the scheduler: refuse now if none can be.
			if !s.canOwnViews() {
				return "", pgerr.NoViewOwner.New(v.Name)
			}
		} else if rs.set {
			if v.Nodes, v.Regional, err = s.placeRegional("view "+v.Name, &rs, v.Shards, &v.Replicas); err != nil {
				return "", err
			}
		} else if v.Nodes, err = s.b.Place(v.Shards, v.Replicas); err != nil {
			return "", err
		}
		// The stream's end now is what the view must have folded before
		// CREATE returns (and where start = 'latest' begins).
		bg, _ := s.get("background_ddl")
		v.BackfillTo = nil
	ends:
		for _, src := range s.viewStreams(st, v) { // two for a join of two streams
			for i := range src.Groups {
				end, err := s.b.StreamEnd(ctx, src, i)
				if err != nil {
					if bg == "on" && !latest {
						// Nothing waits for the back-fill: create the view
						// without a recorded target.
						v.BackfillTo = nil
						break ends
					}
					return "", err
				}
				v.BackfillTo = append(v.BackfillTo, end)
			}
		}
		if latest {
			v.Start = slices.Clone(v.BackfillTo)
		}
		res, err := s.b.Propose(ctx, &catalog.CreateView{View: v, IfNotExists: cv.IfNotExists})
		if err != nil {
			return "", err
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		if err := s.b.WaitGroups(ctx, res.View.Groups); err != nil {
			return "", err
		}
		if res.View.Sched != nil && bg != "on" && res.Notice == "" {
			if res.View, err = s.waitAssigned(ctx, res.View, w); err != nil { // scheduled.go
				return "", err
			}
		}
		if bg != "on" {
			if err := s.waitBackfill(ctx, res.View, w); err != nil {
				return "", err
			}
		}
		return tag, nil
	}}, nil
}

// backfillNoticeEvery is how often a waiting CREATE VIEW reports progress.
var backfillNoticeEvery = 2 * time.Second

// waitBackfill waits until view v folded its stream up to v.BackfillTo,
// with a NOTICE on its progress every backfillNoticeEvery. A cancelled
// wait leaves the view in place, back-filling in the background.
func (s *Session) waitBackfill(ctx context.Context, v *catalog.View, w pgwire.ResultWriter) error {
	if len(v.BackfillTo) == 0 {
		return nil // created before back-fill targets were recorded
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, backfillNoticeEvery)
		err := s.b.WaitViewsCover(wctx, []*catalog.View{v}, v.BackfillTo)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			w.Notice(fmt.Sprintf("view %q was created; its back-fill goes on in the background (cairn_cluster.views shows its progress)", v.Name))
			return pgerr.BackfillWaitCanceled.New(strings.TrimSuffix(pgerr.From(err).Message, "."), v.Name).
				WithHint("SELECT backfilled, backfill_done, backfill_target FROM cairn_cluster.views WHERE name = '%s' shows its progress; SET background_ddl = on makes CREATE VIEW return without waiting.", v.Name)
		case wctx.Err() == nil:
			return err
		}
		if p := v.BackfillProgress(s.b.ViewOffsets(ctx, v)); p.Known && p.Target > 0 {
			w.Notice(fmt.Sprintf("back-fill of %s: %s of %s events (%d%%)", v.Name, thousands(p.Done), thousands(p.Target), p.Done*100/p.Target))
		}
	}
}

// thousands formats n with comma separators: 4,500,000.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Bounds of a view's checkpoint_interval.
const (
	minCheckpointInterval = 100 * time.Millisecond
	maxCheckpointInterval = 24 * time.Hour
)

// parseCheckpointInterval parses a checkpoint interval: seconds, as
// Timeplus counts them ('5'), or a number with a unit ('500ms', '2min').
// It returns the interval in Go form ("5s"), which the view tasks read.
func parseCheckpointInterval(v string, pos int) (string, error) {
	t := strings.TrimSpace(v)
	d, err := time.Duration(0), error(nil)
	if f, ferr := strconv.ParseFloat(t, 64); ferr == nil {
		d = time.Duration(f * float64(time.Second))
	} else {
		d, err = parseDurationSetting(t)
	}
	if err != nil || d < minCheckpointInterval || d > maxCheckpointInterval {
		return "", pgerr.BadCheckpointInterval.New(v).
			WithHint("Give seconds (5) or a duration ('500ms', '2min') between %v and %v.", minCheckpointInterval, maxCheckpointInterval).WithPos(pos)
	}
	return d.String(), nil
}

// checkCheckpointSettings validates Timeplus checkpoint_settings
// ('key=value;key=value') and returns what they say, the interval in Go
// form. storage_type=local (the default: a Raft view checkpoints into
// its replicas' engines, in the same write as each delta, so async=true
// is refused for it) or storage_type=shared with shared_disk=<disk> (a
// scheduled view; viewHA checks that the entries agree with each other
// and with WITH (ha = …)).
func checkCheckpointSettings(v string, pos int) (ck ckSettings, err error) {
	valid := map[string][]string{"storage_type": {"shared", "local"}, "shared_disk": nil, "async": {"true", "false"}, "interval": nil}
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		allowed, known := valid[k]
		if !ok || !known {
			return ck, pgerr.UnknownCheckpointEntry.New(part).
				WithHint("Entries: storage_type=local|shared; shared_disk=<disk>; async=false; interval=<seconds>.").WithPos(pos)
		}
		if allowed != nil && !slices.Contains(allowed, val) {
			return ck, pgerr.BadCheckpointValue.New(k, strings.Join(allowed, ", "), val).WithPos(pos)
		}
		switch k {
		case "storage_type":
			ck.storage = val
		case "shared_disk":
			ck.disk = val
		case "async":
			ck.async = val
		case "interval":
			if ck.interval != "" {
				return ck, pgerr.CheckpointIntervalTwice.New().WithPos(pos)
			}
			if ck.interval, err = parseCheckpointInterval(val, pos); err != nil {
				return ck, err
			}
		}
	}
	if ck.async == "true" && ck.storage != "shared" && ck.disk == "" {
		return ck, pgerr.CheckpointEntryUnsupported.New("async=true", "a view shard checkpoints in the same engine write as the delta it applies").
			WithHint("Leave out async, or say async=false.").WithPos(pos)
	}
	return ck, nil
}

func (s *Session) prepareDrop(d *parser.Drop) (*prepared, error) {
	cmd, tag := catalog.Command(&catalog.DropStreams{Names: d.Names, IfExists: d.IfExists, Cascade: d.Cascade}), "DROP STREAM"
	if d.Kind == parser.ObjView {
		cmd, tag = &catalog.DropViews{Names: d.Names, IfExists: d.IfExists, Cascade: d.Cascade}, "DROP VIEW"
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		res, err := s.b.Propose(ctx, cmd)
		if err != nil {
			return "", pgerr.From(err).WithPos(d.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		if len(res.Dropped) > len(d.Names) {
			w.Notice(fmt.Sprintf("drop cascades to %d other objects", len(res.Dropped)-len(d.Names)))
		}
		s.b.Reconcile()
		return tag, nil
	}}, nil
}

// ---- SET / SHOW / RESET ----

func (s *Session) prepareSet(st *parser.Set) (*prepared, error) {
	name := strings.ToLower(st.Name)
	def, known := settings[name]
	if !known && !strings.Contains(name, ".") {
		return nil, pgerr.UnknownParameter.New(st.Name).WithPos(st.P)
	}
	if err := checkPipelineDBSetting(name); err != nil {
		return nil, pgerr.From(err).WithPos(st.P)
	}
	if name == "transaction_read_only" {
		return s.prepareSetTxReadOnly(st) // readonly.go
	}
	if known && def.readOnly {
		return nil, pgerr.ParameterReadOnly.New(st.Name).WithPos(st.P)
	}
	if st.Local {
		// SET LOCAL lasts until the end of the transaction; Cairn has no
		// transaction-scoped settings, so it is refused rather than made
		// session-wide.
		return nil, pgerr.SetLocalUnsupported.New().WithPos(st.P)
	}
	value := strings.Join(st.Values, ", ")
	if !st.Default && known && def.check != nil {
		cur, _ := s.get(name)
		v, err := def.check(value, cur)
		if err != nil {
			return nil, pgerr.From(err).WithPos(st.P)
		}
		value = v
	}
	return &prepared{run: func(_ context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		if st.Default {
			delete(s.values, name)
		} else {
			s.values[name] = value
		}
		if known && def.reported != "" {
			v, _ := s.get(name)
			w.ParameterStatus(def.reported, v)
		}
		return "SET", nil
	}}, nil
}

// pipelineDBHints say what Cairn does instead of a PipelineDB setting.
var pipelineDBHints = map[string]string{
	"pipelinedb.stream_insert_level":         "SET stream_insert_level = sync_commit (or async) does this in Cairn.",
	"pipelinedb.num_combiners":               "Cairn runs one combiner per view shard; use WITH (shards = n) on CREATE VIEW.",
	"pipelinedb.num_workers":                 "Cairn runs one worker per view shard; use WITH (shards = n) on CREATE VIEW.",
	"pipelinedb.num_queues":                  "Cairn has no worker queues to size: each view shard reads its stream shard's log.",
	"pipelinedb.commit_interval":             "Use CREATE VIEW ... WITH (checkpoint_interval = ...).",
	"pipelinedb.sliding_window_step_factor":  "Sliding-window steps are set per view: CREATE VIEW ... WITH (sw = '...').",
	"pipelinedb.continuous_queries_enabled":  "Continuous views cannot be paused in Cairn; DROP VIEW stops one.",
	"pipelinedb.matrels_writable":            "A view's rows are written only by the view itself in Cairn.",
	"pipelinedb.fillfactor":                  "Cairn's view storage has no fillfactor.",
	"pipelinedb.ttl_expiration_batch_size":   "TTL is set per view: CREATE VIEW ... WITH (ttl = '...', ttl_column = '...').",
	"pipelinedb.ttl_expiration_threshold":    "TTL is set per view: CREATE VIEW ... WITH (ttl = '...', ttl_column = '...').",
	"pipelinedb.batch_size":                  "Cairn batches appends itself; COPY sends many rows at once.",
	"pipelinedb.max_wait":                    "Cairn batches appends itself; there is no flush delay to set.",
	"pipelinedb.queue_mem":                   "Cairn has no worker queues to size.",
	"pipelinedb.ipc_hwm":                     "Cairn has no worker queues to size.",
	"pipelinedb.anonymous_update_checks":     "Cairn sends no update checks.",
	"pipelinedb.stats":                       "Cluster state is in cairn_cluster.views, shards and nodes.",
	"pipelinedb.combiner_work_mem":           "Cairn sizes combiner memory itself.",
	"pipelinedb.min_parallelism":             "Cairn parallelism is per view shard: WITH (shards = n).",
	"pipelinedb.max_parallelism":             "Cairn parallelism is per view shard: WITH (shards = n).",
	"pipelinedb.num_reapers":                 "Cairn drops expired rows itself.",
	"pipelinedb.reaper_interval":             "Cairn drops expired rows itself.",
	"pipelinedb.ttl_expiration_batch_size_s": "TTL is set per view.",
}

// checkPipelineDBSetting refuses PipelineDB's settings: a user setting
// one expects it to change something. pipelinedb.stream_targets is not
// refused here (it is a separate feature).
func checkPipelineDBSetting(name string) error {
	if !strings.HasPrefix(name, "pipelinedb.") || name == "pipelinedb.stream_targets" {
		return nil
	}
	hint, ok := pipelineDBHints[name]
	if !ok {
		hint = "Cairn has no PipelineDB settings: view options go in CREATE VIEW ... WITH (...), cluster settings in ALTER SYSTEM SET, session settings are listed by SHOW ALL."
	}
	return pgerr.PipelineDBSetting.New(name).WithHint("%s", hint)
}

func (s *Session) prepareReset(r *parser.Reset) (*prepared, error) {
	name := strings.ToLower(r.Name)
	if !r.All {
		if _, ok := settings[name]; !ok && !strings.Contains(name, ".") {
			return nil, pgerr.UnknownParameter.New(r.Name).WithPos(r.P)
		}
		if err := checkPipelineDBSetting(name); err != nil {
			return nil, pgerr.From(err).WithPos(r.P)
		}
		if st, ok := settings[name]; ok && st.readOnly {
			return nil, pgerr.ParameterReadOnly.New(r.Name).WithPos(r.P)
		}
	}
	return &prepared{run: func(_ context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		changed := []string{name}
		if r.All {
			changed = changed[:0]
			for k := range s.values {
				changed = append(changed, k)
			}
			s.values = map[string]string{}
		} else {
			delete(s.values, name)
		}
		sort.Strings(changed)
		for _, k := range changed {
			if st, ok := settings[k]; ok && st.reported != "" {
				v, _ := s.get(k)
				w.ParameterStatus(st.reported, v)
			}
		}
		return "RESET", nil
	}}, nil
}

// rowsStmt returns a statement producing fixed text rows.
func rowsStmt(cols []pgwire.Column, rows [][]types.Datum, tag string) *prepared {
	return &prepared{cols: cols, run: func(_ context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		for _, r := range rows {
			if err := w.Row(r); err != nil {
				return "", err
			}
		}
		if tag == "" {
			tag = fmt.Sprintf("SELECT %d", len(rows))
		}
		return tag, nil
	}}
}

func textCols(names ...string) []pgwire.Column {
	cols := make([]pgwire.Column, len(names))
	for i, n := range names {
		cols[i] = pgwire.Column{Name: n, T: types.Text}
	}
	return cols
}

func (s *Session) prepareShow(sh *parser.Show) (*prepared, error) {
	name := strings.ToLower(sh.Name)
	if name == "all" {
		var rows [][]types.Datum
		for _, k := range settingNames() {
			v, _ := s.get(k)
			rows = append(rows, []types.Datum{types.NewText(k), types.NewText(v), types.NewText(settings[k].desc)})
		}
		return rowsStmt(textCols("name", "setting", "description"), rows, "SHOW"), nil
	}
	if v, ok := s.b.Catalog().Setting(name); ok {
		return rowsStmt(textCols(name), [][]types.Datum{{types.NewText(v)}}, "SHOW"), nil
	}
	v, ok := s.get(name)
	if !ok {
		if _, known := settings[name]; !known {
			return nil, pgerr.UnknownParameter.New(sh.Name).WithPos(sh.P)
		}
	}
	return &prepared{cols: textCols(name), run: func(_ context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		v, _ = s.get(name)
		if err := w.Row([]types.Datum{types.NewText(v)}); err != nil {
			return "", err
		}
		return "SHOW", nil
	}}, nil
}

// clusterSetting is one ALTER SYSTEM setting: its check and description
// (its default is catalog.SettingDefaults').
type clusterSetting struct {
	check func(string) (string, error)
	desc  string
}

// clusterSettings are the ALTER SYSTEM settings.
var clusterSettings = map[string]clusterSetting{
	"primary_only":           {valueOnly(checkBool("primary_only")), "reads are linearizable (ReadIndex on the leader) unless a session sets read_from"},
	"auto_failover":          {valueOnly(checkBool("auto_failover")), "replace replicas on dead nodes without an operator"},
	"auto_rebalance":         {valueOnly(checkBool("auto_rebalance")), "even out replicas across live data nodes (when one joins, say)"},
	"suspect_after":          {checkDurationIn("suspect_after", 500*time.Millisecond, time.Hour), "a node not heard from for this long is suspect"},
	"dead_after":             {checkDurationIn("dead_after", time.Second, 24*time.Hour), "a node not heard from for this long is dead; its replicas are replaced (auto_failover)"},
	"preferred_leader":       {checkNodeName, "a node every shard leader moves to where it holds a replica (ALTER SYSTEM FAILOVER TO sets it, REBALANCE clears it)"},
	catalog.AuditMaxSetting:  {checkAuditMax, "the most events cairn_cluster.audit_log keeps; older ones are dropped at the next event"},
	catalog.ScaleOutLag:      {checkDurationIn(catalog.ScaleOutLag, 100*time.Millisecond, 24*time.Hour), "cairn_cluster.compute_load recommends scale_out when compute nodes' scheduled views lag more than this on average"},
	catalog.ScaleOutViews:    {checkScaleOutViews, "cairn_cluster.compute_load recommends scale_out when every compute node owns more scheduled views than this"},
	catalog.LBMinHealthScore: {checkHealthScore, "cairn proxy --mode health_based sends new sessions only to nodes whose cairn_cluster.health score is at least this (0-100)"}, // weight.go
}

// valueOnly adapts a session setting check to a cluster setting's.
func valueOnly(check func(v, cur string) (string, error)) func(string) (string, error) {
	return func(v string) (string, error) { return check(v, "") }
}

// checkDurationIn accepts a duration between lo and hi (milliseconds, or
// a number with a unit) and stores it in Go form ("3s").
func checkDurationIn(name string, lo, hi time.Duration) func(string) (string, error) {
	return func(v string) (string, error) {
		d, err := parseDurationSetting(v)
		if err != nil || d < lo || d > hi {
			return "", pgerr.DurationSettingRange.New(name, lo, hi, v)
		}
		return d.String(), nil
	}
}

func checkNodeName(v string) (string, error) { return v, nil }

func (s *Session) prepareAlterSystem(a *parser.AlterSystemSet) (*prepared, error) {
	name := strings.ToLower(a.Name)
	cs, ok := clusterSettings[name]
	if !ok {
		names := make([]string, 0, len(clusterSettings))
		for k := range clusterSettings {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, pgerr.UnknownClusterSetting.New(a.Name).
			WithHint("Cluster settings: %s.", strings.Join(names, ", ")).WithPos(a.P)
	}
	var value *string
	if !a.Reset {
		v, err := cs.check(a.Value)
		if err != nil {
			return nil, pgerr.From(err).WithPos(a.P)
		}
		if name == "preferred_leader" && v != "" && s.b.Catalog().Nodes[v] == nil {
			return nil, pgerr.NodeNotFound.New(v).WithPos(a.P)
		}
		value = &v
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, _ pgwire.ResultWriter) (string, error) {
		if _, err := s.b.Propose(ctx, &catalog.SetSetting{Key: name, Value: value}); err != nil {
			return "", err
		}
		return "ALTER SYSTEM", nil
	}}, nil
}

func (s *Session) prepareShowObjects(so *parser.ShowObjects) (*prepared, error) {
	kind := strings.ToLower(so.Kind)
	table := kind
	switch kind {
	case "streams", "views", "shards", "nodes", "operations", "tables", "disks":
	case "alerts": // alert.go (cairn_cluster.alerts)
		if err := s.noteAdmin("SHOW ALERTS"); err != nil {
			return nil, err
		}
	default:
		return nil, pgerr.ShowUnsupported.New(strings.ToUpper(kind)).WithPos(so.P)
	}
	src, err := systemTable(s.b, table)
	if err != nil {
		return nil, err
	}
	return &prepared{cols: toPGColumns(src.Columns()), run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		n := 0
		row := make([]types.Datum, len(src.Columns()))
		err := src.Scan(ctx, func(b *types.Batch) error {
			for i := 0; i < b.N; i++ {
				for c := range row {
					row[c] = b.Cols[c].Datum(i)
				}
				if err := w.Row(row); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("SHOW %d", n), nil
	}}, nil
}

// ddlName names a DDL statement in errors.
func ddlName(st parser.Statement) string {
	switch st := st.(type) {
	case *parser.CreateStream:
		return "CREATE STREAM"
	case *parser.CreateView:
		return "CREATE VIEW"
	case *parser.Drop:
		if st.Kind == parser.ObjView {
			return "DROP VIEW"
		}
		return "DROP STREAM"
	case *parser.AlterSystemSet:
		return "ALTER SYSTEM"
	case *parser.CreateSchema:
		return "CREATE SCHEMA"
	case *parser.DropSchema:
		return "DROP SCHEMA"
	}
	return "this statement"
}
