package agg

import (
	"encoding/binary"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// json_agg / jsonb_agg (x) and json_object_agg / jsonb_object_agg (k, v):
// the state is the list of JSON texts folded (to_json of each value; for
// objects the key's text and the value's JSON), so like string_agg a
// merge is a followed by b and a view gives stream order. jsonb results
// are normalized at the end (jsonb_object_agg: sorted keys, the last of
// equal keys wins, as PostgreSQL).

func jsonAggs() map[string]extDef {
	m := map[string]extDef{}
	for name, jsonb := range map[string]bool{"json_agg": false, "jsonb_agg": true} {
		m[name] = extDef{direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 1 {
				return errNoMatch
			}
			if args[0].Untyped || args[0].Param > 0 {
				return pgerr.JSONTypeUnknown.New().WithPos(argPos(f, 0))
			}
			s.Args, s.Arg, s.T, s.Blob = args, args[0], jsonT(jsonb), jsonAgg{jsonb: jsonb}
			return nil
		}}
	}
	for name, jsonb := range map[string]bool{"json_object_agg": false, "jsonb_object_agg": true} {
		m[name] = extDef{direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 2 {
				return errNoMatch
			}
			for i, a := range args {
				if a.Untyped || a.Param > 0 {
					return pgerr.JSONTypeUnknown.New().WithPos(argPos(f, i))
				}
			}
			s.Args, s.Arg, s.T, s.Blob = args, args[0], jsonT(jsonb), jsonAgg{jsonb: jsonb, object: true}
			return nil
		}}
	}
	return m
}

func jsonT(jsonb bool) types.T {
	if jsonb {
		return types.Jsonb
	}
	return types.Json
}

type jsonAgg struct{ jsonb, object bool }

// jsonState holds the folded texts: values, or key, value pairs.
type jsonState struct {
	a     jsonAgg
	items []string
}

func (a jsonAgg) New() BlobState { return &jsonState{a: a} }

func (a jsonAgg) Decode(buf []byte) (BlobState, error) {
	st := &jsonState{a: a}
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) || (a.object && n%2 != 0) {
		return nil, scalar.ErrCorruptState
	}
	buf = buf[k:]
	for range n {
		item, rest, err := readBytes(buf)
		if err != nil {
			return nil, err
		}
		st.items, buf = append(st.items, string(item)), rest
	}
	if len(buf) != 0 {
		return nil, scalar.ErrCorruptState
	}
	return st, nil
}

func (s *jsonState) Add(args []types.Datum) error {
	if s.a.object {
		k, v := args[0], args[1]
		if k.Null {
			return pgerr.JSONNullKey.New()
		}
		vs := "null"
		if !v.Null {
			var err error
			if vs, err = scalar.JSONText(v, s.a.jsonb); err != nil {
				return err
			}
		}
		s.items = append(s.items, string(types.AppendText(nil, k)), vs)
		return nil
	}
	vs := "null"
	if !args[0].Null {
		var err error
		if vs, err = scalar.JSONText(args[0], s.a.jsonb); err != nil {
			return err
		}
	}
	s.items = append(s.items, vs)
	return nil
}

func (s *jsonState) Merge(o BlobState) error {
	s.items = append(s.items, o.(*jsonState).items...)
	return nil
}

func (s *jsonState) Append(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s.items)))
	for _, it := range s.items {
		dst = binary.AppendUvarint(dst, uint64(len(it)))
		dst = append(dst, it...)
	}
	return dst
}

func (s *jsonState) Result() (types.Datum, error) {
	t := jsonT(s.a.jsonb)
	if len(s.items) == 0 {
		return types.NullOf(t), nil
	}
	var b []byte
	if s.a.object {
		b = append(b, "{ "...)
		for i := 0; i < len(s.items); i += 2 {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = types.AppendJSONString(b, s.items[i])
			b = append(b, " : "...)
			b = append(b, s.items[i+1]...)
		}
		b = append(b, " }"...)
	} else {
		b = append(b, '[')
		for i, it := range s.items {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, it...)
		}
		b = append(b, ']')
	}
	if !s.a.jsonb {
		return types.Datum{T: t, S: string(b)}, nil
	}
	norm, err := types.ParseJSONText(types.Jsonb, string(b))
	if err != nil {
		return types.Datum{}, err
	}
	return types.Datum{T: t, S: norm}, nil
}
