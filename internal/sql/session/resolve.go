package session

import (
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
)

// resolve maps a FROM name to a source: a stream (its retained history),
// a view (its finalized rows), or a system table.
func (s *Session) resolve(schema, name string) (exec.Source, error) {
	switch strings.ToLower(schema) {
	case "", "public":
	case "cairn_cluster", "cairn_catalog":
		switch name {
		case "operations":
			return operationsTable(s.b.Catalog()), nil
		case "settings":
			return settingsTable(s.b.Catalog()), nil
		}
		src, ok, err := s.b.SystemTable(name)
		if ok || err != nil {
			return src, err
		}
		return nil, pgerr.SystemTableNotFound.New(schema, name)
	default:
		return nil, pgerr.QualifiedRelationNotFound.New(schema, name)
	}
	cat := s.b.Catalog()
	if st := cat.Streams[name]; st != nil {
		return s.b.StreamSource(st, ReadPolicy{Linearizable: s.readFromLeader(), Skip: s.partial()}), nil
	}
	if v := cat.Views[name]; v != nil {
		return s.b.ViewSource(v, ReadPolicy{Linearizable: s.readFromLeader(), Skip: s.partial()}), nil
	}
	return nil, pgerr.RelationNotFound.New(name)
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
