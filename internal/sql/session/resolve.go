package session

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/systables"
	"github.com/cairndb/cairn/internal/types"
)

// resolve maps a FROM name to a source: a stream (its retained history),
// a view (its finalized rows), a table (its rows, read linearizably), or
// a system table.
//
// An unqualified name is looked up in the schemas of search_path, in
// order; the first that has it wins.
func (s *Session) resolve(schema, name string) (exec.Source, error) {
	if schema != "" {
		return s.resolveIn(schema, name)
	}
	path, _ := s.get("search_path")
	list := searchPathList(path)
	if !slices.Contains(list, "pg_catalog") {
		list = append([]string{"pg_catalog"}, list...) // searched first unless placed
	}
	for _, sc := range list {
		if sc == "$user" || !systemSchemas[sc] && !s.b.Catalog().HasSchema(sc) {
			continue // no such schema: skipped, as in PostgreSQL
		}
		src, err := s.resolveIn(sc, name)
		if err == nil || pgerr.From(err).Code != pgerr.UndefinedTable {
			return src, err
		}
	}
	return nil, pgerr.RelationNotFound.New(name)
}

// resolveIn looks name up in one schema.
func (s *Session) resolveIn(schema, name string) (exec.Source, error) {
	switch strings.ToLower(schema) {
	case "pg_catalog", "information_schema":
		if strings.ToLower(schema) == "pg_catalog" && name == "pg_authid" {
			// Only admins see the stored verifiers (PostgreSQL: superusers).
			// The admin check itself, not SELECT on a table key: a user
			// table named pg_authid in public has that key, and its owner
			// would pass.
			if err := s.noteAdminRead("pg_authid"); err != nil {
				return nil, err
			}
		}
		if src, ok := s.resolvePG(strings.ToLower(schema), name); ok {
			return src, nil
		}
		return nil, pgerr.QualifiedRelationNotFound.New(schema, name)
	case "cairn_cluster", "cairn_catalog":
		if name == "audit_log" {
			if err := s.noteAdmin("reading cairn_cluster.audit_log"); err != nil {
				return nil, err
			}
		}
		if name == systables.AlertsTable {
			if err := s.noteAdmin("reading cairn_cluster.alerts"); err != nil {
				return nil, err
			}
		}
		build := func() (exec.Source, bool, error) {
			switch name {
			case "operations":
				return operationsTable(s.b.Catalog()), true, nil
			case "settings":
				return settingsTable(s.b.Catalog()), true, nil
			case systables.DisksTable:
				return systables.Disks(s.b.Catalog()), true, nil
			case systables.SchedulesTable:
				return systables.Schedules(s.b.Catalog()), true, nil
			case systables.AlertsTable:
				return systables.Alerts(s.b.Catalog()), true, nil
			}
			return s.b.SystemTable(name)
		}
		src, ok, err := build()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, pgerr.SystemTableNotFound.New(schema, name)
		}
		return &liveTable{Source: src, built: time.Now(), build: build}, nil
	}
	cat := s.b.Catalog()
	sc := strings.ToLower(schema)
	key := catalog.Qualify(sc, name)
	if kind := cat.Exists(key); kind != "" {
		if err := s.noteRead(kind, key); err != nil { // authz.go
			return nil, err
		}
	}
	if st := cat.Streams[key]; st != nil {
		return s.b.StreamSource(st, ReadPolicy{Linearizable: s.readFromLeader(), Skip: s.partial()}), nil
	}
	if v := cat.Views[key]; v != nil {
		if err := s.noteViewOwners(cat, v); err != nil { // authz.go
			return nil, err
		}
		return s.viewSource(cat, v)
	}
	if t := cat.Tables[key]; t != nil {
		return s.b.TableSource(t), nil
	}
	if sc != "public" {
		return nil, pgerr.QualifiedRelationNotFound.New(schema, name)
	}
	return nil, pgerr.RelationNotFound.New(name)
}

// viewSource reads a view: an aggregating view's rows through its
// read-time clauses (HAVING, ORDER BY, LIMIT), or a transform's base
// stream through the transform.
func (s *Session) viewSource(cat *catalog.Catalog, v *catalog.View) (exec.Source, error) {
	st := cat.Streams[v.Stream]
	if st == nil {
		return nil, catalog.ErrNoStream(v.Stream)
	}
	p, ok := s.views[v.ID]
	if !ok {
		var err error
		if v.Joins() {
			p.view, err = exec.PlanStoredJoinView(v, st) // a stream joined to a table or a stream
		} else {
			p.view, p.transform, err = exec.PlanStoredChain(v.Query, st.Name, exec.StreamColumns(st), v.Chain, v.Options)
		}
		if err != nil {
			return nil, err
		}
		if len(s.views) >= maxCachedViews {
			clear(s.views)
		}
		s.views[v.ID] = p
	}
	policy := ReadPolicy{Linearizable: s.readFromLeader(), Skip: s.partial(), Notice: s.notice}
	ec := func() *exec.Ctx { return s.execCtx(nil) }
	if p.transform != nil {
		return exec.NewTransformSource(p.transform, s.b.StreamSource(st, policy), ec)
	}
	return exec.NewViewReader(s.b.ViewSource(v, policy), p.view, ec), nil
}

// maxCachedViews bounds a session's cache of view plans.
const maxCachedViews = 64

// viewPlan is a view planned from the catalog: one of the two is set.
// Views are never changed in place (a new one gets a new ID), so plans
// are cached by ID.
type viewPlan struct {
	view      *exec.ViewPlan
	transform *exec.Transform
}

// readFromLeader reports whether reads must be linearizable: the session
// says read_from = leader, or the cluster says primary_only = on (unless
// the session set read_from itself).
func (s *Session) readFromLeader() bool {
	if v, set := s.values["read_from"]; set {
		return v == "leader"
	}
	v, _ := s.b.Catalog().Setting("primary_only")
	return v == "on"
}

// liveTable is a cluster table read afresh at each run of a statement:
// a prepared statement or cursor that reads cairn_cluster.audit_log or
// nodes sees the rows of the moment it runs, not of the moment it was
// prepared. The rows built at prepare serve the first run if it follows
// at once (the usual Parse, Bind, Execute), so a one-off query builds
// them once.
type liveTable struct {
	exec.Source // built at prepare: its Columns are the table's
	built       time.Time
	build       func() (exec.Source, bool, error)
}

// liveTableReuse is how young the rows built at prepare must be for the
// first run to use them.
const liveTableReuse = 250 * time.Millisecond

func (t *liveTable) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	src := t.Source
	if t.built.IsZero() || time.Since(t.built) > liveTableReuse {
		fresh, _, err := t.build()
		if err != nil {
			return err
		}
		src = fresh
	}
	t.built = time.Time{}
	return src.Scan(ctx, fn)
}
