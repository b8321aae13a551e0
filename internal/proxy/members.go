package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Membership: the proxy asks any node it can reach (the ones it learned
// first, then --join) for cairn_cluster.nodes, the lb_min_health_score
// setting and, in health_based mode, cairn_cluster.health. It keeps one
// connection open to the node that answered last.

// membership is one answer.
type membership struct {
	nodes    []Node
	minScore int64
	from     string // the address that answered
}

// errNoHealth says the cluster has no cairn_cluster.health to read.
var errNoHealth = errors.New("cairn_cluster.health is not available")

// fetcher holds the membership connection.
type fetcher struct {
	user, database string
	health         bool // read scores (health_based)
	timeout        time.Duration
	conn           *pgx.Conn
	connAddr       string
}

func (f *fetcher) close() {
	if f.conn != nil {
		_ = f.conn.Close(context.Background())
		f.conn = nil
	}
}

// fetch asks the addresses in order until one answers.
func (f *fetcher) fetch(ctx context.Context, addrs []string) (membership, error) {
	if f.conn != nil {
		m, err := f.query(ctx, f.conn)
		if err == nil {
			m.from = f.connAddr
			return m, nil
		}
		f.close()
		if errors.Is(err, errNoHealth) {
			return m, err
		}
	}
	var errs []string
	for _, a := range addrs {
		cctx, cancel := context.WithTimeout(ctx, f.timeout)
		c, err := pgx.Connect(cctx, f.url(a))
		cancel()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", a, err))
			continue
		}
		m, err := f.query(ctx, c)
		if err != nil {
			_ = c.Close(context.Background())
			if errors.Is(err, errNoHealth) {
				return m, err
			}
			errs = append(errs, fmt.Sprintf("%s: %v", a, err))
			continue
		}
		f.conn, f.connAddr, m.from = c, a, a
		return m, nil
	}
	return membership{}, fmt.Errorf("no node answered: %s", strings.Join(errs, "; "))
}

func (f *fetcher) url(addr string) string {
	u := url.URL{Scheme: "postgres", User: url.User(f.user), Host: addr, Path: "/" + f.database}
	secs := max(1, int(f.timeout/time.Second))
	u.RawQuery = "sslmode=disable&application_name=cairn-proxy&connect_timeout=" + strconv.Itoa(secs)
	return u.String()
}

func (f *fetcher) query(ctx context.Context, c *pgx.Conn) (membership, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	var m membership
	rows, err := c.Query(ctx, "SELECT node_id, address, role, state, weight, pg_address FROM cairn_cluster.nodes", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return m, err
	}
	for rows.Next() {
		var n Node
		var clusterAddr string
		if err := rows.Scan(&n.Name, &clusterAddr, &n.Role, &n.State, &n.Weight, &n.Addr); err != nil {
			rows.Close()
			return m, err
		}
		n.Addr = dialable(n.Addr, clusterAddr)
		n.Score = -1
		m.nodes = append(m.nodes, n)
	}
	if err := rows.Err(); err != nil {
		return m, err
	}
	var v string
	if err := c.QueryRow(ctx, "SHOW lb_min_health_score", pgx.QueryExecModeSimpleProtocol).Scan(&v); err != nil {
		return m, err
	}
	m.minScore, _ = strconv.ParseInt(v, 10, 64)
	if f.health {
		scores := map[string]int64{}
		rows, err := c.Query(ctx, "SELECT node, score FROM cairn_cluster.health", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return m, fmt.Errorf("%w: %v", errNoHealth, err)
		}
		for rows.Next() {
			var name string
			var score *int64
			if err := rows.Scan(&name, &score); err != nil {
				rows.Close()
				return m, err
			}
			if score != nil {
				scores[name] = *score
			}
		}
		if err := rows.Err(); err != nil {
			return m, fmt.Errorf("%w: %v", errNoHealth, err)
		}
		for i := range m.nodes {
			if s, ok := scores[m.nodes[i].Name]; ok {
				m.nodes[i].Score = s
			}
		}
	}
	sort.Slice(m.nodes, func(i, j int) bool { return m.nodes[i].Name < m.nodes[j].Name })
	return m, nil
}

// dialable turns a listen address (":26257", "0.0.0.0:26257") into one
// to dial, taking the host from the node's cluster address.
func dialable(pg, cluster string) string {
	host, port, err := net.SplitHostPort(pg)
	if err != nil {
		return pg
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if ch, _, err := net.SplitHostPort(cluster); err == nil && ch != "" {
			return net.JoinHostPort(ch, port)
		}
		return net.JoinHostPort("127.0.0.1", port)
	}
	return pg
}
