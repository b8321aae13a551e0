package session

import (
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/systables"
)

// pgCatalog is pg_catalog and information_schema as this session sees
// them now (its search_path, user and database); it also answers the
// catalog functions (pg_table_is_visible, ::regclass) of a statement.
func (s *Session) pgCatalog() *systables.PG {
	path, _ := s.get("search_path")
	db, ok := s.get("database")
	if !ok || db == "" {
		db = "cairn"
	}
	p := &systables.PG{Cat: s.b.Catalog(), Path: searchPathList(path), User: s.user, Database: db}
	if p.User == "" {
		p.User = "cairn"
	}
	p.Settings = func() [][3]string {
		var out [][3]string
		for _, name := range settingNames() {
			v, _ := s.get(name)
			out = append(out, [3]string{name, v, settings[name].desc})
		}
		return out
	}
	p.ViewColumns = func(v *catalog.View) []exec.Column {
		src, err := s.viewSource(p.Cat, v)
		if err != nil {
			return nil // a view its stream no longer plans: listed without columns
		}
		return src.Columns()
	}
	return p
}

// resolvePG resolves a relation of pg_catalog or information_schema.
func (s *Session) resolvePG(schema, name string) (exec.Source, bool) {
	t, ok := s.pgCatalog().Table(schema, name)
	if !ok {
		return nil, false
	}
	return t, true
}
