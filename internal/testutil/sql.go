package testutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Query runs sql (one or more statements, simple protocol) on a fresh
// connection to url, bounded by timeout, and returns the rows of the last
// result as text.
func Query(ctx context.Context, url string, timeout time.Duration, sql string) ([][]string, error) {
	res, err := run(ctx, url, timeout, sql)
	if err != nil || len(res) == 0 {
		return nil, err
	}
	return text(res[len(res)-1].Rows), nil
}

// QueryText runs sql on a fresh connection to url (at most 15 s) and
// returns every result's rows as "a|b" lines.
func QueryText(url, sql string) (string, error) {
	res, err := run(context.Background(), url, 15*time.Second, sql)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, r := range res {
		for _, row := range text(r.Rows) {
			lines = append(lines, strings.Join(row, "|"))
		}
	}
	return strings.Join(lines, "\n"), nil
}

func run(ctx context.Context, url string, timeout time.Duration, sql string) ([]*pgconn.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := pgconn.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	return c.Exec(ctx, sql).ReadAll()
}

// ExecConn runs sql on conn and returns the rows of the last result as text.
func ExecConn(ctx context.Context, conn *pgconn.PgConn, sql string) ([][]string, error) {
	res, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil || len(res) == 0 {
		return nil, err
	}
	return text(res[len(res)-1].Rows), nil
}

func text(rows [][][]byte) [][]string {
	out := make([][]string, len(rows))
	for i, row := range rows {
		out[i] = make([]string, len(row))
		for j, v := range row {
			out[i][j] = string(v)
		}
	}
	return out
}

// ErrFaultUnsupported means a node refused a fault request as unknown.
var ErrFaultUnsupported = errors.New("fault not supported by this build")

var faultClient = &http.Client{Timeout: 3 * time.Second}

// PostFault sends one POST /debug/faults to the node. A 404 or 400 is
// reported as ErrFaultUnsupported: the endpoint or that request kind is
// missing (a node started without --unsafe-test-faults, or an old build).
func (n *Node) PostFault(ctx context.Context, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.HTTPBase()+"/debug/faults", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := faultClient
	if n.CertsDir != "" {
		if client, err = n.HTTPClient(faultClient.Timeout); err != nil {
			return err
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest:
		return fmt.Errorf("%w: %s: %s", ErrFaultUnsupported, resp.Status, strings.TrimSpace(string(msg)))
	}
	return fmt.Errorf("POST /debug/faults %s to %s: %s %s", body, n.name(), resp.Status, strings.TrimSpace(string(msg)))
}

// Conns keeps one open connection per node for a client that spreads its
// work over the nodes: a connection that failed is dropped and dialled
// again on next use.
type Conns map[string]*pgconn.PgConn

// Get returns the open connection to node, or dials url (bounded by
// timeout) and keeps it.
func (c Conns) Get(ctx context.Context, node, url string, timeout time.Duration) (*pgconn.PgConn, error) {
	if cn := c[node]; cn != nil {
		return cn, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cn, err := pgconn.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	c[node] = cn
	return cn, nil
}

// Drop closes and forgets the connection to node.
func (c Conns) Drop(node string) {
	if cn := c[node]; cn != nil {
		cn.Close(context.Background())
		delete(c, node)
	}
}

// Close closes every connection.
func (c Conns) Close() {
	for node := range c {
		c.Drop(node)
	}
}
