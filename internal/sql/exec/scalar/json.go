package scalar

import (
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// json and jsonb operators and functions. Values are stored as text (see
// internal/types/json.go) and parsed when an operator needs their
// structure.

// isJSONOp reports whether op is one of the json operators.
func isJSONOp(op string) bool {
	switch op {
	case "->", "->>", "#>", "#>>", "@>", "<@", "?", "?|", "?&":
		return true
	}
	return false
}

func parseDoc(d types.Datum) (types.JSONValue, error) {
	return types.ParseJSON(d.S, d.T == types.Jsonb)
}

// jsonOut renders a sub-document as a value of type t: json returns the
// element's text as written, jsonb its normalized text.
func jsonOut(t types.T, v *types.JSONValue) types.Datum {
	if t == types.Json {
		return types.Datum{T: t, S: v.Raw}
	}
	return types.Datum{T: t, S: string(types.AppendJSONB(nil, v))}
}

// jsonText is ->> / #>>: a string's text, NULL for JSON null, otherwise
// the value's json text.
func jsonText(t types.T, v *types.JSONValue) types.Datum {
	switch v.Kind {
	case types.JSONNull:
		return types.NullOf(types.Text)
	case types.JSONString:
		return types.NewText(v.Str)
	}
	return types.NewText(jsonOut(t, v).S)
}

// jsonField returns the object member key or nil; of duplicate keys
// (json keeps them) the last.
func jsonField(v *types.JSONValue, key string) *types.JSONValue {
	if v.Kind != types.JSONObject {
		return nil
	}
	for i := len(v.Keys) - 1; i >= 0; i-- {
		if v.Keys[i] == key {
			return &v.Elems[i]
		}
	}
	return nil
}

// jsonIndex returns array element i (negative counts from the end) or nil.
func jsonIndex(v *types.JSONValue, i int64) *types.JSONValue {
	if v.Kind != types.JSONArray {
		return nil
	}
	if i < 0 {
		i += int64(len(v.Elems))
	}
	if i < 0 || i >= int64(len(v.Elems)) {
		return nil
	}
	return &v.Elems[i]
}

// jsonPathStep follows one #> path element: a key of an object, an index
// of an array.
func jsonPathStep(v *types.JSONValue, step string) *types.JSONValue {
	switch v.Kind {
	case types.JSONObject:
		return jsonField(v, step)
	case types.JSONArray:
		i, err := strconv.ParseInt(strings.TrimSpace(step), 10, 64)
		if err != nil {
			return nil
		}
		return jsonIndex(v, i)
	}
	return nil
}

func (c *Compiler) compileJSONOp(op string, l, r *Node, e *parser.Binary) (*Node, error) {
	var err error
	if !l.T.IsJSON() || l.Untyped {
		if !(l.Untyped && (op == "@>" || op == "<@" || op == "?" || op == "?|" || op == "?&") && r.T == types.Jsonb) {
			return nil, opErr(e.Op, l, r, e.P)
		}
		if l, err = c.Coerce(l, types.Jsonb, e.L.Pos()); err != nil {
			return nil, err
		}
	}
	t := l.T
	switch op {
	case "->", "->>":
		if r.Untyped || r.Param > 0 {
			if r, err = c.Coerce(r, types.Text, e.R.Pos()); err != nil {
				return nil, err
			}
		}
		if r.T != types.Text && !r.T.IsInt() {
			return nil, opErr(e.Op, l, r, e.P)
		}
		rt := t
		if op == "->>" {
			rt = types.Text
		}
		return fold(newNode(rt, func(ec *Ctx, in Input) (types.Datum, error) {
			a, b, null, err := binEval(l, r, ec, in)
			if err != nil || null {
				return types.NullOf(rt), err
			}
			v, err := parseDoc(a)
			if err != nil {
				return types.Datum{}, err
			}
			var x *types.JSONValue
			if b.T == types.Text {
				x = jsonField(&v, b.S)
			} else {
				x = jsonIndex(&v, b.I)
			}
			switch {
			case x == nil:
				return types.NullOf(rt), nil
			case op == "->>":
				return jsonText(t, x), nil
			}
			return jsonOut(t, x), nil
		}), l, r)
	case "#>", "#>>":
		if r, err = c.textArrayArg(r, e.R.Pos()); err != nil {
			return nil, err
		}
		if r == nil {
			return nil, opErr(e.Op, l, r, e.P)
		}
		rt := t
		if op == "#>>" {
			rt = types.Text
		}
		return fold(newNode(rt, func(ec *Ctx, in Input) (types.Datum, error) {
			a, b, null, err := binEval(l, r, ec, in)
			if err != nil || null {
				return types.NullOf(rt), err
			}
			path, err := types.ParseArrayElems(b.S)
			if err != nil {
				return types.Datum{}, err
			}
			v, err := parseDoc(a)
			if err != nil {
				return types.Datum{}, err
			}
			x := &v
			for _, step := range path {
				if step == nil {
					return types.NullOf(rt), nil
				}
				if x = jsonPathStep(x, *step); x == nil {
					return types.NullOf(rt), nil
				}
			}
			if op == "#>>" {
				return jsonText(t, x), nil
			}
			return jsonOut(t, x), nil
		}), l, r)
	case "@>", "<@":
		if t != types.Jsonb {
			return nil, opErr(e.Op, l, r, e.P)
		}
		if r.Untyped || r.Param > 0 {
			if r, err = c.Coerce(r, types.Jsonb, e.R.Pos()); err != nil {
				return nil, err
			}
		}
		if r.T != types.Jsonb {
			return nil, opErr(e.Op, l, r, e.P)
		}
		rev := op == "<@"
		return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
			a, b, null, err := binEval(l, r, ec, in)
			if err != nil || null {
				return types.NullOf(types.Bool), err
			}
			if rev {
				a, b = b, a
			}
			x, err := parseDoc(a)
			if err != nil {
				return types.Datum{}, err
			}
			y, err := parseDoc(b)
			if err != nil {
				return types.Datum{}, err
			}
			return types.NewBool(jsonContainsTop(&x, &y)), nil
		}), l, r)
	}
	// ?, ?| and ?&: key (or string element) existence.
	if t != types.Jsonb {
		return nil, opErr(e.Op, l, r, e.P)
	}
	if op == "?" {
		if r.Untyped || r.Param > 0 {
			if r, err = c.Coerce(r, types.Text, e.R.Pos()); err != nil {
				return nil, err
			}
		}
		if r.T != types.Text {
			return nil, opErr(e.Op, l, r, e.P)
		}
	} else {
		if r, err = c.textArrayArg(r, e.R.Pos()); err != nil {
			return nil, err
		}
		if r == nil {
			return nil, opErr(e.Op, l, r, e.P)
		}
	}
	return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, null, err := binEval(l, r, ec, in)
		if err != nil || null {
			return types.NullOf(types.Bool), err
		}
		v, err := parseDoc(a)
		if err != nil {
			return types.Datum{}, err
		}
		if op == "?" {
			return types.NewBool(jsonHasKey(&v, b.S)), nil
		}
		keys, err := types.ParseArrayElems(b.S)
		if err != nil {
			return types.Datum{}, err
		}
		all := op == "?&"
		for _, k := range keys {
			if k == nil {
				continue
			}
			if jsonHasKey(&v, *k) != all {
				return types.NewBool(!all), nil
			}
		}
		return types.NewBool(all), nil
	}), l, r)
}

// jsonHasKey is jsonb ?: a top-level key, or a string element of a
// top-level array (or the string itself).
func jsonHasKey(v *types.JSONValue, k string) bool {
	switch v.Kind {
	case types.JSONObject:
		return jsonField(v, k) != nil
	case types.JSONArray:
		for i := range v.Elems {
			if e := &v.Elems[i]; e.Kind == types.JSONString && e.Str == k {
				return true
			}
		}
	case types.JSONString:
		return v.Str == k
	}
	return false
}

// jsonContainsTop is jsonb @>; at the top level an array also contains
// a scalar it holds, as in PostgreSQL.
func jsonContainsTop(a, b *types.JSONValue) bool {
	if a.Kind == types.JSONArray && b.Kind != types.JSONArray && b.Kind != types.JSONObject {
		for i := range a.Elems {
			if jsonContains(&a.Elems[i], b) {
				return true
			}
		}
		return false
	}
	return jsonContains(a, b)
}

func jsonContains(a, b *types.JSONValue) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case types.JSONObject:
		for i, k := range b.Keys {
			x := jsonField(a, k)
			if x == nil || !jsonContains(x, &b.Elems[i]) {
				return false
			}
		}
		return true
	case types.JSONArray:
		for i := range b.Elems {
			found := false
			for j := range a.Elems {
				if jsonContains(&a.Elems[j], &b.Elems[i]) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	return cmpJSON(a, b) == 0
}

// jsonRank orders kinds as jsonb's btree does: Object > Array > Boolean
// > Number > String > Null.
func jsonRank(k types.JSONKind) int {
	switch k {
	case types.JSONNull:
		return 0
	case types.JSONString:
		return 1
	case types.JSONNumber:
		return 2
	case types.JSONBool:
		return 3
	case types.JSONArray:
		return 4
	}
	return 5
}

// cmpJSON orders jsonb values: by kind, then arrays and objects by size
// and then member by member, numbers by value, strings bytewise.
func cmpJSON(a, b *types.JSONValue) int {
	if ra, rb := jsonRank(a.Kind), jsonRank(b.Kind); ra != rb {
		return cmpInt(int64(ra), int64(rb))
	}
	switch a.Kind {
	case types.JSONNull:
		return 0
	case types.JSONString:
		return strings.Compare(a.Str, b.Str)
	case types.JSONNumber:
		return CompareNumeric(a.Str, b.Str)
	case types.JSONBool:
		return strings.Compare(a.Str, b.Str) // "false" < "true"
	}
	if c := cmpInt(int64(len(a.Elems)), int64(len(b.Elems))); c != 0 {
		return c
	}
	for i := range a.Elems {
		if a.Kind == types.JSONObject {
			if c := strings.Compare(a.Keys[i], b.Keys[i]); c != 0 {
				return c
			}
		}
		if c := cmpJSON(&a.Elems[i], &b.Elems[i]); c != 0 {
			return c
		}
	}
	return 0
}

// CompareJSONB orders two jsonb texts as PostgreSQL's jsonb ordering.
func CompareJSONB(a, b string) int {
	if a == b {
		return 0
	}
	x, err1 := types.ParseJSON(a, true)
	y, err2 := types.ParseJSON(b, true)
	if err1 != nil || err2 != nil {
		return strings.Compare(a, b)
	}
	return cmpJSON(&x, &y)
}

// textArrayArg accepts a text array for #>, ?| and ?&: an untyped
// literal or parameter ('{a,b}') or text, parsed when evaluated; nil when
// the argument cannot be one.
func (c *Compiler) textArrayArg(r *Node, pos int) (*Node, error) {
	if r.Untyped || r.Param > 0 {
		n, err := c.Coerce(r, types.Text, pos)
		if err != nil {
			return nil, err
		}
		if n.konst && !n.val.Null {
			if _, err := types.ParseArrayElems(n.val.S); err != nil {
				return nil, PosErr(err, pos)
			}
		}
		return n, nil
	}
	if r.T == types.Text || r.T == types.TextArray {
		return r, nil
	}
	return nil, nil
}

// JSON functions.

func jsonTypeName(k types.JSONKind) string {
	return [...]string{"null", "string", "number", "boolean", "array", "object"}[k]
}

func buildJSONTypeof(jsonb bool) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		t := jsonType(jsonb)
		if err := c.want(f, args, t); err != nil {
			return nil, err
		}
		return unaryFn(types.Text, args[0], func(d types.Datum) (types.Datum, error) {
			v, err := parseDoc(d)
			if err != nil {
				return types.Datum{}, err
			}
			return types.Datum{S: jsonTypeName(v.Kind)}, nil
		}), nil
	}
}

func jsonType(jsonb bool) types.T {
	if jsonb {
		return types.Jsonb
	}
	return types.Json
}

func buildJSONArrayLength(jsonb bool) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if err := c.want(f, args, jsonType(jsonb)); err != nil {
			return nil, err
		}
		return unaryFn(types.Int4, args[0], func(d types.Datum) (types.Datum, error) {
			v, err := parseDoc(d)
			if err != nil {
				return types.Datum{}, err
			}
			switch v.Kind {
			case types.JSONArray:
				return types.Datum{I: int64(len(v.Elems))}, nil
			case types.JSONObject:
				return types.Datum{}, pgerr.JSONArrayLengthOf.New("a non-array")
			}
			return types.Datum{}, pgerr.JSONArrayLengthOf.New("a scalar")
		}), nil
	}
}

// buildToJSON is to_json/to_jsonb of a scalar: numbers and booleans as
// themselves, json as is, everything else as a JSON string of its text.
func buildToJSON(jsonb bool) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) != 1 {
			return nil, errNoMatch
		}
		if args[0].Untyped || args[0].Param > 0 {
			return nil, pgerr.JSONTypeUnknown.New().WithPos(f.P)
		}
		t := jsonType(jsonb)
		return unaryFn(t, args[0], func(d types.Datum) (types.Datum, error) {
			s, err := JSONText(d, jsonb)
			return types.Datum{S: s}, err
		}), nil
	}
}

// JSONText is to_json/to_jsonb of a non-NULL scalar, as JSON text:
// numbers and booleans as themselves, json as is, everything else as a
// JSON string of its text.
func JSONText(d types.Datum, jsonb bool) (string, error) {
	switch {
	case d.T.IsJSON():
		if jsonb && d.T == types.Json {
			return types.ParseJSONText(types.Jsonb, d.S)
		}
		return d.S, nil
	case d.T == types.Bool:
		return formatTextStyle(d, nil), nil
	case d.T.IsInt() || d.T == types.Numeric:
		return formatTextStyle(d, nil), nil
	case d.T.IsFloat():
		s := formatTextStyle(d, nil)
		if s == "NaN" || strings.Contains(s, "Infinity") {
			return string(types.AppendJSONString(nil, s)), nil
		}
		if jsonb {
			return ToNumeric(d).S, nil
		}
		return s, nil
	case d.T.IsTime():
		// ISO 8601 with a T and a full offset, as PostgreSQL's json
		// output writes timestamps.
		s := strings.Replace(formatTextStyle(d, nil), " ", "T", 1)
		if d.T == types.TimestampTZ && strings.HasSuffix(s, "+00") {
			s += ":00"
		}
		return string(types.AppendJSONString(nil, s)), nil
	}
	return string(types.AppendJSONString(nil, formatTextStyle(d, nil))), nil
}
