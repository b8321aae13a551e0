package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// client is one connection as the bench uses it. The pgx implementation
// is below; tests substitute an in-memory one.
type client interface {
	// exec runs a statement that returns no rows.
	exec(ctx context.Context, sql string) error
	// queryInt runs a query returning at most one integer; no row or NULL
	// is 0.
	queryInt(ctx context.Context, sql string) (int64, error)
	// lookupInt runs a query with one int4 parameter (extended protocol)
	// returning at most one integer: found is false when no row came.
	lookupInt(ctx context.Context, sql string, arg int32) (v int64, found bool, err error)
	// eventIDs reads back the id of every generated event in the stream:
	// its timestamp's offset in µs from t0, plus 1.
	eventIDs(ctx context.Context, t0 int64) ([]int64, error)
	// load sends one batch and returns once the server acked it.
	load(ctx context.Context, b *loadBatch, mode string) error
	close()
}

// dialFunc opens a client.
type dialFunc func(ctx context.Context, url string) (client, error)

type pgClient struct{ c *pgx.Conn }

func dialPG(ctx context.Context, url string) (client, error) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	return &pgClient{c: c}, nil
}

func (p *pgClient) close() { _ = p.c.Close(context.Background()) }

// isTLS reports whether the connection negotiated TLS.
func (p *pgClient) isTLS() bool {
	_, ok := p.c.PgConn().Conn().(*tls.Conn)
	return ok
}

// Statements go through the simple query protocol: it is the least a
// server must implement, and these statements run once or are tiny.
func (p *pgClient) exec(ctx context.Context, sql string) error {
	_, err := p.c.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	return err
}

func (p *pgClient) queryInt(ctx context.Context, sql string) (int64, error) {
	rows, err := p.c.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var v int64
	if rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return 0, err
		}
		if len(vals) != 1 {
			return 0, fmt.Errorf("%s: got %d columns, want 1", sql, len(vals))
		}
		if v, err = toInt64(vals[0]); err != nil {
			return 0, fmt.Errorf("%s: %w", sql, err)
		}
	}
	return v, rows.Err()
}

func (p *pgClient) lookupInt(ctx context.Context, sql string, arg int32) (int64, bool, error) {
	rows, err := p.c.Query(ctx, sql, arg)
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, false, rows.Err()
	}
	vals, err := rows.Values()
	if err != nil {
		return 0, false, err
	}
	if len(vals) != 1 {
		return 0, false, fmt.Errorf("%s: got %d columns, want 1", sql, len(vals))
	}
	v, err := toInt64(vals[0])
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", sql, err)
	}
	return v, true, rows.Err()
}

func (p *pgClient) eventIDs(ctx context.Context, t0 int64) ([]int64, error) {
	rows, err := p.c.Query(ctx, sqlEventTimes, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var ts time.Time
		if err := rows.Scan(&ts); err != nil {
			return nil, fmt.Errorf("%s: %w", sqlEventTimes, err)
		}
		out = append(out, ts.UnixMicro()-t0+1)
	}
	return out, rows.Err()
}

// toInt64 accepts the integer shapes a count or sum may come back as
// (PostgreSQL's sum(bigint) is numeric).
func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case float64:
		return int64(x), nil
	case pgtype.Numeric:
		if !x.Valid {
			return 0, nil
		}
		i8, err := x.Int64Value()
		if err != nil {
			return 0, err
		}
		return i8.Int64, nil
	case *big.Int:
		return x.Int64(), nil
	}
	return 0, fmt.Errorf("unexpected result type %T", v)
}

func (p *pgClient) load(ctx context.Context, b *loadBatch, mode string) error {
	var n int64
	switch mode {
	case ModeCopy:
		var err error
		n, err = p.c.CopyFrom(ctx, pgx.Identifier{w1Stream}, w1Columns, &copySource{vals: b.vals, n: b.n})
		if err != nil {
			return err
		}
	case ModeBinary, ModeCSV:
		sql := sqlCopyCSV
		if mode == ModeBinary {
			sql = sqlCopyBinary
		}
		tag, err := p.c.PgConn().CopyFrom(ctx, bytes.NewReader(b.text), sql)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
	case ModeInsert:
		tag, err := p.c.Exec(ctx, string(b.text), pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	// A server that acks fewer rows than sent has lost some: fail loudly.
	if n != int64(b.n) {
		return fmt.Errorf("server acknowledged %d of %d events in a batch", n, b.n)
	}
	return nil
}

// copySource feeds pre-built rows to pgx CopyFrom without allocating.
type copySource struct {
	vals []any
	n, i int
}

func (s *copySource) Next() bool { s.i++; return s.i <= s.n }

func (s *copySource) Values() ([]any, error) {
	j := (s.i - 1) * 4
	return s.vals[j : j+4], nil
}

func (s *copySource) Err() error { return nil }

// loadRetrying sends b, and sends it again after a pause when the node
// refuses it with 53200: memory backpressure refuses an insert before
// any of it is applied, so a client is expected to retry (40001 is not
// retried: a batch that may have been applied would be sent twice). The
// pause doubles from 20 ms to 1 s; the run's context bounds the whole.
func loadRetrying(ctx context.Context, c client, b *loadBatch, mode string, refused *atomic.Int64) error {
	pause := 20 * time.Millisecond
	for {
		err := c.load(ctx, b, mode)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "53200" {
			return err
		}
		refused.Add(1)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}
