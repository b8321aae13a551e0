package scalar

import (
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// has_table_privilege, has_schema_privilege and has_database_privilege
// ask the statement's catalog (PrivilegeChecker) whether a role holds a
// privilege. Forms: (object, privilege) for the current user, or (user,
// object, privilege); user and object are names (text) or OIDs.

// PrivilegeChecker is the part of a Catalog that answers the privilege
// functions.
type PrivilegeChecker interface {
	// HasPrivilege reports whether user holds any of privs (a
	// comma-separated list, as PostgreSQL takes it) on the object of
	// kind "table", "schema" or "database" named name, or with OID oid
	// when byOID. ok is false when no object has that OID (the function
	// answers NULL).
	HasPrivilege(user string, userOID int64, userByOID bool, kind, name string, oid int64, byOID bool, privs string) (has, ok bool, err error)
}

func buildHasPrivilege(kind string) funcBuilder {
	fname := "has_" + kind + "_privilege"
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) != 2 && len(args) != 3 {
			return nil, errNoMatch
		}
		// Each of the user and object arguments is a name or an OID.
		byOID := make([]bool, len(args))
		for i := 0; i < len(args)-1; i++ {
			if args[i].T.IsInt() {
				byOID[i] = true
				continue
			}
			n, err := c.Coerce(args[i], types.Text, f.Args[i].Pos())
			if err != nil {
				return nil, err
			}
			args[i] = n
		}
		last := len(args) - 1
		n, err := c.Coerce(args[last], types.Text, f.Args[last].Pos())
		if err != nil {
			return nil, err
		}
		args[last] = n
		node := newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
			vals := make([]types.Datum, len(args))
			for i, a := range args {
				d, err := a.Fn(ec, in)
				if err != nil || d.Null {
					return types.NullOf(types.Bool), err
				}
				vals[i] = d
			}
			cat, err := catalogOf(ec, fname+"()")
			if err != nil {
				return types.Datum{}, err
			}
			pc, ok := cat.(PrivilegeChecker)
			if !ok {
				return types.Datum{}, pgerr.NoCatalogHere.New(fname + "()")
			}
			user, userOID, userByOID := "", int64(0), false
			obj := vals[0]
			objByOID := byOID[0]
			if len(args) == 3 {
				user, userOID, userByOID = vals[0].S, vals[0].I, byOID[0]
				obj, objByOID = vals[1], byOID[1]
			} else if ec.Setting != nil {
				user, _ = ec.Setting("user")
			}
			has, found, err := pc.HasPrivilege(user, userOID, userByOID, kind, obj.S, obj.I, objByOID, vals[last].S)
			if err != nil || !found {
				return types.NullOf(types.Bool), err
			}
			return types.NewBool(has), nil
		})
		node.Volatile = true
		return node, nil
	}
}
