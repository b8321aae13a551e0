package node

import (
	"context"

	"github.com/cairndb/cairn/internal/frontend/console"
	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/sql/session"
)

// consoleBackend gives the web console (frontend/console) the node: the
// admin API's statement runner, the read-only runner of the SQL page and
// the timeline (timeline.go).
type consoleBackend struct{ n *Node }

func (c consoleBackend) NodeID() string { return c.n.cfg.NodeID }

func (c consoleBackend) RunSQL(ctx context.Context, user, sql string) (*httpapi.SQLResult, error) {
	return c.n.RunSQL(ctx, user, sql)
}

func (c consoleBackend) RunReadOnly(ctx context.Context, user, sql string, maxRows int) (*httpapi.SQLResult, bool, error) {
	r, more, err := session.RunReadOnly(ctx, sessionBackend(c), user, sql, maxRows)
	if err != nil {
		return nil, false, err
	}
	return (*httpapi.SQLResult)(r), more, nil
}

func (c consoleBackend) Timeline() []console.Event { return c.n.timeline.events() }

// startConsole mounts the web console on the HTTP server and starts the
// timeline's observer.
func (n *Node) startConsole() {
	n.console = console.New(console.Config{Gatherer: n.metrics.Registry, Registerer: n.metrics.Registry, Logger: n.log}, consoleBackend{n})
	n.console.Mount(n.http)
	n.wg.Add(1)
	go n.every(timelinePoll, nil, n.observeTimeline)
}
