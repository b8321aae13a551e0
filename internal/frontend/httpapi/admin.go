package httpapi

// The admin API maps REST routes onto Cairn's SQL admin statements. It
// builds SQL text and hands it to an SQLRunner, so the SQL layer stays the
// single place where cluster operations are checked and executed, and the
// HTTP API, the CLI and psql can never disagree about what a command does.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cairndb/cairn/internal/pgerr"
)

// SQLResult is one statement's result.
type SQLResult struct {
	Columns []string    `json:"columns"`
	Rows    [][]*string `json:"rows"` // text format, nil = NULL
	Tag     string      `json:"tag"`  // command tag, e.g. "ALTER NODE"
	Notices []string    `json:"notices,omitempty"`
}

// SQLRunner runs one SQL statement in a fresh session of user on this
// node, so the statement is checked against user's privileges. Errors are
// *pgerr.Error (internal/pgerr) when a client should see them.
type SQLRunner interface {
	RunSQL(ctx context.Context, user, sql string) (*SQLResult, error)
}

// Authorizer checks a privilege: nil, or a *pgerr.Error 42501.
type Authorizer interface {
	Authorize(user string, priv Privilege, obj Object) error
}

// ClusterStatus is the reply of GET /api/v1/cluster/status.
type ClusterStatus struct {
	Nodes      *SQLResult `json:"nodes"`
	Operations *SQLResult `json:"operations"` // pending or running only
}

// AdminError is the "error" member of every admin API error reply:
// {"error":{"code":"55000","message":"...","detail":"...","hint":"..."}}.
type AdminError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
	Hint    string `json:"hint,omitempty"`
}

// AdminErrorReply is the body of an admin API error reply.
type AdminErrorReply struct {
	Error AdminError `json:"error"`
}

// AdminPrefix is the path prefix the admin handler serves.
const AdminPrefix = "/api/v1/"

// maxAdminBody bounds one admin request body; statements and the small
// JSON objects the routes take are far below it.
const maxAdminBody = 1 << 20

// settingName is what ALTER SYSTEM SET accepts as a name from the API; it
// is interpolated into SQL unquoted, so nothing else may pass.
var settingName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// nodeActions maps POST /api/v1/nodes/{name}/{action} to the ALTER NODE
// keyword.
var nodeActions = map[string]string{
	"offline":      "OFFLINE",
	"recover":      "RECOVER",
	"drain":        "DRAIN",
	"decommission": "DECOMMISSION",
}

// admin serves the routes; it holds no state besides the runner and the
// authorizer.
type admin struct {
	run SQLRunner
	az  Authorizer
	mux *http.ServeMux
	log *slog.Logger
}

// NewAdminHandler serves the admin API; it is mounted so that it sees full
// paths starting with /api/v1/ (e.g. mux.Handle("/api/v1/", h)) behind
// Server's authentication, which names the user (UserFrom). Read routes
// and /api/v1/sql need only a user (the SQL runs as that user); routes
// that change the cluster need admin (az).
func NewAdminHandler(r SQLRunner, az Authorizer) http.Handler {
	a := &admin{run: r, az: az, mux: http.NewServeMux(), log: slog.Default()}
	m := a.mux
	user := func(pattern string, h http.HandlerFunc) { m.HandleFunc(pattern, a.authed(h, false)) }
	adm := func(pattern string, h http.HandlerFunc) { m.HandleFunc(pattern, a.authed(h, true)) }
	user("POST /api/v1/sql", a.sql)
	user("GET /api/v1/nodes", a.query("SELECT * FROM cairn_cluster.nodes"))
	adm("POST /api/v1/nodes/{name}/{action}", a.nodeAction)
	adm("DELETE /api/v1/nodes/{name}", a.nodeRemove)
	user("GET /api/v1/shards", a.query("SELECT * FROM cairn_cluster.shards"))
	adm("POST /api/v1/shards/{id}/{action}", a.shardAction)
	user("GET /api/v1/operations", a.query("SELECT * FROM cairn_cluster.operations"))
	user("GET /api/v1/operations/{id}", a.operation)
	adm("POST /api/v1/operations/{id}/cancel", a.cancel)
	user("GET /api/v1/cluster/settings", a.query("SELECT * FROM cairn_cluster.settings"))
	adm("POST /api/v1/cluster/settings", a.setSetting)
	adm("POST /api/v1/cluster/failover", a.failover)
	adm("POST /api/v1/cluster/rebalance", a.rebalance)
	user("GET /api/v1/cluster/status", a.status)
	user("GET /api/v1/health", a.objects("SELECT * FROM cairn_cluster.health")) // health.go (issue 15)
	user("GET /api/v1/quorum", a.objects("SELECT * FROM cairn_cluster.quorum"))
	m.HandleFunc("/", a.notFound)
	return m
}

// authed runs h for an authenticated user, and with admin only for an
// admin. A request without a user (the handler mounted without Server's
// authentication) is refused rather than run as anyone.
func (a *admin) authed(h http.HandlerFunc, admin bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := UserFrom(r.Context())
		if u == "" {
			a.failStatus(w, http.StatusUnauthorized, pgerr.HTTPAuthRequired.New())
			return
		}
		if admin {
			if err := a.az.Authorize(u, PrivAdmin, adminObject(r)); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		h(w, r)
	}
}

// adminStatus maps a SQLSTATE to the HTTP status of an admin reply.
func adminStatus(code string) int {
	switch code {
	case pgerr.UndefinedObject, pgerr.UndefinedTable:
		return http.StatusNotFound
	case pgerr.DuplicateObject:
		return http.StatusConflict
	case pgerr.SerializationFailure, pgerr.CannotConnectNow, pgerr.AdminShutdown:
		return http.StatusServiceUnavailable
	case pgerr.FeatureNotSupported:
		return http.StatusBadRequest
	case pgerr.InsufficientPrivilege:
		return http.StatusForbidden
	}
	switch code[:2] {
	case "28":
		return http.StatusUnauthorized
	case "08":
		return http.StatusServiceUnavailable
	case "55":
		return http.StatusConflict
	case "42", "22":
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// fail replies with err's SQLSTATE, message, detail and hint.
func (a *admin) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := pgerr.From(err)
	code := e.Code
	if len(code) != 5 {
		code = pgerr.InternalError
	}
	status := adminStatus(code)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	// Only faults of the node itself are worth an operator's log; a
	// statement refused as unsupported also answers 500 but is not one.
	if c := code[:2]; c == "XX" || c == "58" {
		a.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	a.failStatus(w, status, &pgerr.Error{Code: code, Message: e.Message, Detail: e.Detail, Hint: e.Hint})
}

// failStatus replies with an explicit HTTP status (routing errors, which
// have no natural SQLSTATE class).
func (a *admin) failStatus(w http.ResponseWriter, status int, e *pgerr.Error) {
	writeJSON(w, status, AdminErrorReply{Error: AdminError{Code: e.Code, Message: e.Message, Detail: e.Detail, Hint: e.Hint}})
}

// exec runs one statement and replies with its result.
func (a *admin) exec(w http.ResponseWriter, r *http.Request, sql string) {
	res, err := a.run.RunSQL(r.Context(), UserFrom(r.Context()), sql)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, normalize(res))
}

// query returns a handler that runs a fixed statement.
func (a *admin) query(sql string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { a.exec(w, r, sql) }
}

// normalize returns res with empty slices instead of nil, so clients see
// [] rather than null for a statement with no columns or no rows. It does
// not modify the runner's value.
func normalize(res *SQLResult) *SQLResult {
	out := SQLResult{}
	if res != nil {
		out = *res
	}
	if out.Columns == nil {
		out.Columns = []string{}
	}
	if out.Rows == nil {
		out.Rows = [][]*string{}
	}
	return &out
}

// quoteLiteral renders s as a SQL string literal. Cairn's plain '...'
// strings treat backslashes as ordinary characters, so doubling quotes is
// the whole escape.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// checkName validates a node name taken from a path or a body.
func checkName(what, s string) error {
	switch {
	case s == "":
		return pgerr.NameEmpty.New(what)
	case !utf8.ValidString(s):
		return pgerr.NameNotUTF8.New(what)
	case strings.IndexByte(s, 0) >= 0:
		return pgerr.NameHasNUL.New(what)
	}
	return nil
}

// parseID validates a shard or operation id from the path: a positive
// integer, checked before it goes into SQL text.
func parseID(what, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || s[0] == '+' {
		return 0, pgerr.BadIDParam.New(what, s)
	}
	return n, nil
}

// decodeBody reads a JSON object into v. Unknown fields are errors so a
// typo ("too" for "to") is not silently ignored. An empty body leaves v
// unchanged when allowEmpty is set.
func decodeBody(r *http.Request, v any, allowEmpty bool) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil {
		return pgerr.BodyReadFailed.New(err)
	}
	if len(body) > maxAdminBody {
		return pgerr.BodyTooLarge.New(maxAdminBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return pgerr.BodyEmpty.New()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return pgerr.BadJSONBody.New(jsonProblem(err))
	}
	if dec.More() {
		return pgerr.JSONTrailingData.New()
	}
	return nil
}

// jsonProblem phrases a decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q must not be a JSON %s", te.Field, te.Value)
		}
		return fmt.Sprintf("expected a JSON object, got a JSON %s", te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// bodyNode reads the node name of field key ("to" or "on") from a body
// like {"to": "n3"}.
func bodyNode(r *http.Request, key string) (string, error) {
	var p *string
	var err error
	if key == "to" {
		var b struct {
			To *string `json:"to"`
		}
		err = decodeBody(r, &b, false)
		p = b.To
	} else {
		var b struct {
			On *string `json:"on"`
		}
		err = decodeBody(r, &b, false)
		p = b.On
	}
	if err != nil {
		return "", err
	}
	if p == nil {
		return "", pgerr.BodyNeedsNode.New(key)
	}
	if err := checkName(fmt.Sprintf("%q", key), *p); err != nil {
		return "", err
	}
	return *p, nil
}

func (a *admin) sql(w http.ResponseWriter, r *http.Request) {
	var b struct {
		SQL *string `json:"sql"`
	}
	if err := decodeBody(r, &b, false); err != nil {
		a.fail(w, r, err)
		return
	}
	if b.SQL == nil || strings.TrimSpace(*b.SQL) == "" {
		a.fail(w, r, pgerr.NoSQLGiven.New().WithHint(`send {"sql": "SELECT ..."}`))
		return
	}
	a.exec(w, r, *b.SQL)
}

func (a *admin) nodeAction(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("name"), r.PathValue("action")
	kw, ok := nodeActions[action]
	if !ok {
		a.failStatus(w, http.StatusNotFound, pgerr.UnknownAction.New("node", action).
			WithHint("use offline, recover, drain or decommission; DELETE /api/v1/nodes/{name} removes a node"))
		return
	}
	if err := checkName("node name", name); err != nil {
		a.fail(w, r, err)
		return
	}
	a.exec(w, r, "ALTER NODE "+quoteLiteral(name)+" "+kw)
}

func (a *admin) nodeRemove(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := checkName("node name", name); err != nil {
		a.fail(w, r, err)
		return
	}
	a.exec(w, r, "ALTER NODE "+quoteLiteral(name)+" REMOVE")
}

func (a *admin) shardAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	switch action {
	case "transfer-leader", "recover-replica", "force-recover":
	default:
		a.failStatus(w, http.StatusNotFound, pgerr.UnknownAction.New("shard", action).
			WithHint("use transfer-leader, recover-replica or force-recover"))
		return
	}
	id, err := parseID("shard", r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var sql string
	switch action {
	case "transfer-leader":
		node, err := bodyNode(r, "to")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		sql = fmt.Sprintf("ALTER SHARD %d TRANSFER LEADER TO %s", id, quoteLiteral(node))
	case "recover-replica":
		node, err := bodyNode(r, "on")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		sql = fmt.Sprintf("ALTER SHARD %d RECOVER REPLICA ON %s", id, quoteLiteral(node))
	default: // force-recover
		// An empty body is a dry run: data loss must be confirmed
		// explicitly, never by omission.
		var b struct {
			Confirm *bool `json:"confirm_data_loss"`
		}
		if err := decodeBody(r, &b, true); err != nil {
			a.fail(w, r, err)
			return
		}
		sql = fmt.Sprintf("ALTER SHARD %d FORCE RECOVER", id)
		if b.Confirm != nil && *b.Confirm {
			sql += " CONFIRM DATA LOSS"
		}
	}
	a.exec(w, r, sql)
}

func (a *admin) operation(w http.ResponseWriter, r *http.Request) {
	id, err := parseID("operation", r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.run.RunSQL(r.Context(), UserFrom(r.Context()), fmt.Sprintf("SELECT * FROM cairn_cluster.operations WHERE op_id = %d", id))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if res == nil || len(res.Rows) == 0 {
		a.fail(w, r, pgerr.OperationNotFound.New(id).
			WithHint("cairn ops ls (GET /api/v1/operations) lists the operations the cluster remembers"))
		return
	}
	writeJSON(w, http.StatusOK, normalize(res))
}

func (a *admin) cancel(w http.ResponseWriter, r *http.Request) {
	id, err := parseID("operation", r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.exec(w, r, fmt.Sprintf("CANCEL OPERATION %d", id))
}

func (a *admin) setSetting(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Name  *string         `json:"name"`
		Value json.RawMessage `json:"value"`
	}
	if err := decodeBody(r, &b, false); err != nil {
		a.fail(w, r, err)
		return
	}
	if b.Name == nil {
		a.fail(w, r, pgerr.SettingBodyNeeded.New())
		return
	}
	if len(*b.Name) > 63 || !settingName.MatchString(*b.Name) {
		a.fail(w, r, pgerr.BadSettingName.New(*b.Name).
			WithHint("a setting name is lower-case letters, digits and underscores, e.g. auto_failover"))
		return
	}
	value, err := settingValue(b.Value)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.exec(w, r, "ALTER SYSTEM SET "+*b.Name+" = "+quoteLiteral(value))
}

// settingValue accepts a JSON string, boolean or number and returns its
// text; scripts may send {"value": false} as well as {"value": "off"}.
func settingValue(raw json.RawMessage) (string, error) {
	bad := pgerr.BadSettingValue.New()
	if len(raw) == 0 {
		return "", pgerr.SettingBodyNeeded.New()
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", bad
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case bool:
		s = strconv.FormatBool(x)
	case json.Number:
		s = x.String()
	default:
		return "", bad
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", pgerr.SettingValueNUL.New()
	}
	return s, nil
}

func (a *admin) failover(w http.ResponseWriter, r *http.Request) {
	node, err := bodyNode(r, "to")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.exec(w, r, "ALTER SYSTEM FAILOVER TO "+quoteLiteral(node))
}

func (a *admin) rebalance(w http.ResponseWriter, r *http.Request) {
	// The body is optional but, when present, must be an empty object, so
	// a client that thinks it can pass options learns that it cannot.
	var b struct{}
	if err := decodeBody(r, &b, true); err != nil {
		a.fail(w, r, err)
		return
	}
	a.exec(w, r, "ALTER SYSTEM REBALANCE")
}

func (a *admin) status(w http.ResponseWriter, r *http.Request) {
	nodes, err := a.run.RunSQL(r.Context(), UserFrom(r.Context()), "SELECT * FROM cairn_cluster.nodes")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ops, err := a.run.RunSQL(r.Context(), UserFrom(r.Context()), "SELECT * FROM cairn_cluster.operations WHERE status IN ('pending','running')")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ClusterStatus{Nodes: normalize(nodes), Operations: normalize(ops)})
}

// notFound answers paths no route matches, and paths that a route matches
// for another method (405 with Allow), always with a JSON error.
func (a *admin) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		a.failStatus(w, http.StatusMethodNotAllowed, pgerr.MethodNotAllowed.New(r.Method, r.URL.Path).WithHint("use %s", strings.Join(allow, " or ")))
		return
	}
	a.failStatus(w, http.StatusNotFound, pgerr.NoAdminRoute.New(r.Method, r.URL.Path).
		WithHint("routes start with %s: sql, nodes, shards, operations, cluster", AdminPrefix))
}
