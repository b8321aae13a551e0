package catalog

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Schemas. Public always exists and holds objects under their bare
// names; an object of another schema s is keyed "s.name" in Streams and
// Views (its Name), so every map and lookup keyed by name works
// unchanged and two schemas may hold objects of the same name. Schema
// names hold no dot (the parser refuses one), so the key is unambiguous.

// BuiltinSchemas exist without CREATE SCHEMA and cannot be created or
// dropped: public holds objects, the others system relations.
var BuiltinSchemas = []string{"public", "pg_catalog", "information_schema", "cairn_cluster", "cairn_catalog"}

// The schema commands.
type (
	// CreateSchema creates an empty schema (its ID is assigned here).
	CreateSchema struct {
		Name        string
		IfNotExists bool
		Owner       string // the creating role ("": cairn)
	}
	// DropSchemas drops schemas; with Cascade, the objects in them (and
	// the views over those) too.
	DropSchemas struct {
		Names    []string
		IfExists bool
		Cascade  bool
	}
)

const (
	opCreateSchema = "create_schema"
	opDropSchema   = "drop_schema"
)

func (c *CreateSchema) envelope() *envelope {
	e := &envelope{Op: opCreateSchema, Names: []string{c.Name}, IfNotExists: c.IfNotExists}
	if c.Owner != "" {
		e.Authz = &authzBody{Name: c.Owner}
	}
	return e
}

func (c *DropSchemas) envelope() *envelope {
	return &envelope{Op: opDropSchema, Names: c.Names, IfExists: c.IfExists, Cascade: c.Cascade}
}

// schemaCommand decodes the schema commands; ok is false for other tags.
func (e *envelope) schemaCommand() (Command, bool, *pgerr.Error) {
	switch e.Op {
	case opCreateSchema:
		if len(e.Names) != 1 {
			return nil, true, pgerr.CatalogIncomplete.New(e.Op, "name")
		}
		c := &CreateSchema{Name: e.Names[0], IfNotExists: e.IfNotExists}
		if e.Authz != nil {
			c.Owner = e.Authz.Name
		}
		return c, true, nil
	case opDropSchema:
		return &DropSchemas{Names: e.Names, IfExists: e.IfExists, Cascade: e.Cascade}, true, nil
	}
	return nil, false, nil
}

// Qualify is the catalog key of name in schema ("" or public: the bare
// name).
func Qualify(schema, name string) string {
	if schema == "" || schema == "public" {
		return name
	}
	return schema + "." + name
}

// SplitName splits a catalog key into its schema and name.
func SplitName(key string) (schema, name string) {
	if s, n, ok := strings.Cut(key, "."); ok {
		return s, n
	}
	return "public", key
}

// HasSchema reports whether schema exists (built in or created).
func (c *Catalog) HasSchema(name string) bool {
	if name == "public" {
		return true
	}
	_, ok := c.Schemas[name]
	return ok
}

// SortedSchemas returns the created schemas by name.
func (c *Catalog) SortedSchemas() []string {
	names := make([]string, 0, len(c.Schemas))
	for n := range c.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkSchemaOf refuses a key whose schema does not exist.
func (c *Catalog) checkSchemaOf(key string) *pgerr.Error {
	if s, _ := SplitName(key); !c.HasSchema(s) {
		return pgerr.SchemaNotFound.New(s)
	}
	return nil
}

func (cmd *CreateSchema) apply(c *Catalog) *Result {
	name := cmd.Name
	for _, b := range BuiltinSchemas {
		if name == b {
			if cmd.IfNotExists && name == "public" {
				return &Result{Notice: fmt.Sprintf("schema %q already exists, skipping", name)}
			}
			return &Result{Err: pgerr.SchemaExists.New(name)}
		}
	}
	if strings.HasPrefix(name, "pg_") {
		return &Result{Err: pgerr.SchemaNameReserved.New(name)}
	}
	if _, ok := c.Schemas[name]; ok {
		if cmd.IfNotExists {
			return &Result{Notice: fmt.Sprintf("schema %q already exists, skipping", name)}
		}
		return &Result{Err: pgerr.SchemaExists.New(name)}
	}
	if c.Schemas == nil {
		c.Schemas = map[string]uint64{}
	}
	c.Schemas[name] = c.NextID
	c.NextID++
	if cmd.Owner != "" {
		if c.SchemaOwners == nil {
			c.SchemaOwners = map[string]string{}
		}
		c.SchemaOwners[name] = cmd.Owner
	}
	return &Result{}
}

func (cmd *DropSchemas) apply(c *Catalog) *Result {
	res := &Result{}
	for _, name := range cmd.Names {
		if _, ok := c.Schemas[name]; !ok {
			for _, b := range BuiltinSchemas {
				if name == b {
					return &Result{Err: pgerr.SchemaBuiltin.New(name)}
				}
			}
			if cmd.IfExists {
				res.Notice = fmt.Sprintf("schema %q does not exist, skipping", name)
				continue
			}
			return &Result{Err: pgerr.SchemaNotFound.New(name)}
		}
		var streams, views, tables []string
		for _, t := range c.SortedTables() {
			if sc, _ := SplitName(t.Name); sc == name {
				tables = append(tables, t.Name)
			}
		}
		for _, s := range c.SortedStreams() {
			if sc, _ := SplitName(s.Name); sc == name {
				streams = append(streams, s.Name)
			}
		}
		for _, v := range c.SortedViews() {
			if sc, _ := SplitName(v.Name); sc == name {
				views = append(views, v.Name)
			}
		}
		if len(streams)+len(views)+len(tables) > 0 && !cmd.Cascade {
			return &Result{Err: pgerr.SchemaNotEmpty.New(name, strings.Join(slices.Concat(streams, tables, views), ", "))}
		}
		if len(views) > 0 {
			r := (&DropViews{Names: views, IfExists: true, Cascade: true}).apply(c)
			if r.Err != nil {
				return r
			}
			res.Dropped = append(res.Dropped, r.Dropped...)
		}
		if len(streams) > 0 {
			r := (&DropStreams{Names: streams, IfExists: true, Cascade: true}).apply(c)
			if r.Err != nil {
				return r
			}
			res.Dropped = append(res.Dropped, r.Dropped...)
		}
		if len(tables) > 0 {
			r := (&DropTables{Names: tables, IfExists: true, Cascade: true}).apply(c)
			if r.Err != nil {
				return r
			}
			res.Dropped = append(res.Dropped, r.Dropped...)
		}
		delete(c.Schemas, name)
		delete(c.SchemaOwners, name)
	}
	return res
}
