package session

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Schemas. Object names reach the session as catalog keys: "name" in
// public, "schema.name" when qualified (see parser.objectName). An
// unqualified name is looked up along search_path; a new object goes
// into the first schema of search_path that can hold objects (public or
// one made by CREATE SCHEMA), as in PostgreSQL.

// systemSchemas hold system relations only.
var systemSchemas = map[string]bool{"pg_catalog": true, "information_schema": true, "cairn_cluster": true, "cairn_catalog": true}

// pathSchemas is search_path as a list of lower-cased names.
func (s *Session) pathSchemas() []string {
	path, _ := s.get("search_path")
	return searchPathList(path)
}

// lookupKey resolves an object name to the catalog key of the first
// stream or view of that name along search_path; a qualified name, or a
// name found nowhere, is returned as is (the caller reports it missing).
func (s *Session) lookupKey(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	cat := s.b.Catalog()
	for _, sc := range s.pathSchemas() {
		if systemSchemas[sc] || sc == "$user" {
			continue
		}
		if key := catalog.Qualify(sc, name); cat.Exists(key) != "" {
			return key
		}
	}
	return name
}

// createKey is the catalog key of a new object: a qualified name's
// schema must exist and hold objects; an unqualified one goes into the
// first such schema of search_path.
func (s *Session) createKey(name, kind string) (string, error) {
	cat := s.b.Catalog()
	if sc, _, ok := strings.Cut(name, "."); ok {
		if systemSchemas[sc] {
			return "", pgerr.SchemaInName.New(sc, kind+"s")
		}
		if !cat.HasSchema(sc) {
			return "", pgerr.SchemaNotFound.New(sc)
		}
		return name, nil
	}
	for _, sc := range s.pathSchemas() {
		if !systemSchemas[sc] && sc != "$user" && cat.HasSchema(sc) {
			return catalog.Qualify(sc, name), nil
		}
	}
	return "", pgerr.NoSchemaSelected.New()
}

// qualifyNames rewrites the object names of a statement into catalog
// keys (idempotent: a key stays the same key).
func (s *Session) qualifyNames(stmt parser.Statement) error {
	var err error
	switch st := stmt.(type) {
	case *parser.CreateStream:
		st.Name, err = s.createKey(st.Name, "stream")
	case *parser.CreateView:
		st.Name, err = s.createKey(st.Name, "view")
	case *parser.Drop:
		for i, n := range st.Names {
			st.Names[i] = s.lookupKey(n)
		}
	case *parser.CreateTable:
		st.Name, err = s.createKey(st.Name, "table")
	case *parser.AlterTable:
		st.Name = s.lookupKey(st.Name)
	case *parser.Truncate:
		for i, n := range st.Names {
			st.Names[i] = s.lookupKey(n)
		}
	case *parser.Update:
		st.Table = s.lookupKey(st.Table)
	case *parser.Delete:
		st.Table = s.lookupKey(st.Table)
	case *parser.Insert:
		st.Table = s.lookupKey(st.Table)
	case *parser.Copy:
		st.Table = s.lookupKey(st.Table)
	case *parser.CopyTo:
		if st.Query == nil {
			st.Table = s.lookupKey(st.Table)
		}
	}
	if err != nil {
		return pgerr.From(err).WithPos(stmtPos(stmt))
	}
	return nil
}

func stmtPos(stmt parser.Statement) int {
	switch st := stmt.(type) {
	case *parser.CreateStream:
		return st.P
	case *parser.CreateView:
		return st.P
	case *parser.CreateTable:
		return st.P
	}
	return 0
}

// fromKey is the catalog key a FROM item names.
func (s *Session) fromKey(schema, name string) string {
	if schema != "" {
		return catalog.Qualify(strings.ToLower(schema), name)
	}
	return s.lookupKey(name)
}

func (s *Session) prepareCreateSchema(cs *parser.CreateSchema) (*prepared, error) {
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		res, err := s.b.Propose(ctx, &catalog.CreateSchema{Name: cs.Name, IfNotExists: cs.IfNotExists, Owner: s.currentUser()})
		if err != nil {
			return "", pgerr.From(err).WithPos(cs.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		return "CREATE SCHEMA", nil
	}}, nil
}

func (s *Session) prepareDropSchema(d *parser.DropSchema) (*prepared, error) {
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		res, err := s.b.Propose(ctx, &catalog.DropSchemas{Names: d.Names, IfExists: d.IfExists, Cascade: d.Cascade})
		if err != nil {
			return "", pgerr.From(err).WithPos(d.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		if len(res.Dropped) > 0 {
			w.Notice(fmt.Sprintf("drop cascades to %d other objects", len(res.Dropped)))
			s.b.Reconcile()
		}
		return "DROP SCHEMA", nil
	}}, nil
}
