package session

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// copyOptions reads COPY's options (FROM and TO alike).
func copyOptions(list []parser.Option) (pgwire.CopyOptions, error) {
	var opts pgwire.CopyOptions
	var err error
	for _, o := range list {
		v, ok := optString(o)
		if !ok {
			return opts, pgerr.BadCopyOption.New(o.Key).WithPos(o.P)
		}
		single := func() (byte, error) {
			if len(v) != 1 {
				return 0, pgerr.CopyCharTooLong.New(o.Key).WithPos(o.P)
			}
			return v[0], nil
		}
		switch o.Key {
		case "format":
			switch strings.ToLower(v) {
			case "text":
				opts.Format = pgwire.CopyText
			case "csv":
				opts.Format = pgwire.CopyCSV
			case "binary":
				opts.Format = pgwire.CopyBinary
			default:
				return opts, pgerr.UnknownCopyFormat.New(v).WithHint("Use text, csv or binary.").WithPos(o.P)
			}
		case "delimiter":
			if opts.Delimiter, err = single(); err != nil {
				return opts, err
			}
		case "quote":
			if opts.Quote, err = single(); err != nil {
				return opts, err
			}
		case "escape":
			if opts.Escape, err = single(); err != nil {
				return opts, err
			}
		case "null":
			opts.Null = v
		case "header":
			switch strings.ToLower(v) {
			case "", "true", "on", "1", "yes", "t", "y":
				opts.Header = true
			case "false", "off", "0", "no", "f", "n":
			case "match":
				return opts, pgerr.CopyHeaderMatch.New().WithPos(o.P)
			default:
				return opts, pgerr.CopyHeaderNotBool.New().WithPos(o.P)
			}
		case "encoding":
			if r, err := settings["client_encoding"].check(v, ""); err != nil || r != "UTF8" {
				return opts, pgerr.CopyEncoding.New(v).WithPos(o.P)
			}
		case "freeze", "force_quote", "force_not_null", "force_null", "default":
			return opts, pgerr.CopyOptionUnsupported.New(strings.ToUpper(o.Key)).WithPos(o.P)
		default:
			return opts, pgerr.UnknownCopyOption.New(o.Key).
				WithHint("COPY options: format, delimiter, null, header, quote, escape, encoding.").WithPos(o.P)
		}
	}
	return opts, nil
}

// checkCopyToOptions refuses the combinations PostgreSQL refuses, so an
// option is never accepted and then ignored.
func checkCopyToOptions(list []parser.Option, opts pgwire.CopyOptions) error {
	for _, o := range list {
		switch {
		case opts.Format == pgwire.CopyBinary && o.Key != "format" && o.Key != "encoding":
			return pgerr.CopyOptionInBinary.New(strings.ToUpper(o.Key)).WithPos(o.P)
		case opts.Format != pgwire.CopyCSV && (o.Key == "quote" || o.Key == "escape"):
			return pgerr.CopyOptionCSVOnly.New(o.Key).WithPos(o.P)
		}
	}
	d := opts.Delimiter
	switch {
	case d == '\n' || d == '\r':
		return pgerr.CopyBadDelimiter.New(string(d))
	case opts.Format == pgwire.CopyText && (d == '\\' || d == '.' || d >= 'a' && d <= 'z' || d >= '0' && d <= '9'):
		return pgerr.CopyBadDelimiter.New(string(d))
	case d != 0 && strings.IndexByte(opts.Null, d) >= 0:
		return pgerr.CopyDelimiterInNull.New()
	case opts.Format == pgwire.CopyCSV && d != 0 && d == opts.Quote,
		opts.Format == pgwire.CopyCSV && d == 0 && opts.Quote == ',',
		opts.Format == pgwire.CopyCSV && d == '"' && opts.Quote == 0:
		return pgerr.CopyDelimiterIsQuote.New()
	}
	return nil
}

// prepareCopyTo plans COPY ... TO STDOUT: a stream (its retained
// history), a view, any relation SELECT reads, or a query.
func (s *Session) prepareCopyTo(ctx context.Context, c *parser.CopyTo, oids []uint32) (*prepared, error) {
	opts, err := copyOptions(c.Options)
	if err != nil {
		return nil, err
	}
	if err := checkCopyToOptions(c.Options, opts); err != nil {
		return nil, err
	}
	q := c.Query
	if q == nil {
		// COPY name (cols) TO is SELECT cols FROM name: the same sources
		// (streams, views, tables) and the same errors.
		sel := &parser.Select{P: c.P, From: &parser.TableRef{P: c.P, Name: c.Table}}
		if len(c.Cols) == 0 {
			sel.Items = []parser.SelectItem{{Expr: &parser.Star{P: c.P}}}
		}
		for _, col := range c.Cols {
			sel.Items = append(sel.Items, parser.SelectItem{Expr: &parser.ColumnRef{P: c.P, Name: col}})
		}
		q = sel
	} else if !innerAllowed(q) {
		return nil, pgerr.CopyNeedsQuery.New(stmtName(q)).WithPos(c.P)
	}
	inner, err := s.prepare(ctx, q, oids)
	if err != nil {
		return nil, err
	}
	if inner.cols == nil {
		return nil, pgerr.CopyNeedsQuery.New(stmtName(q)).WithPos(c.P)
	}
	return &prepared{params: inner.params, run: func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
		co, ok := w.(pgwire.CopyOuter)
		if !ok {
			return "", pgerr.CopyOutUnavailable.New()
		}
		sink, err := co.CopyOut(opts, inner.cols)
		if err != nil {
			return "", err
		}
		cw := &copyWriter{ResultWriter: w, sink: sink}
		if _, err := inner.run(ctx, params, cw); err != nil {
			return "", err
		}
		return fmt.Sprintf("COPY %d", cw.n), nil
	}}, nil
}

// copyWriter sends a query's rows to a COPY TO sink.
type copyWriter struct {
	pgwire.ResultWriter
	sink pgwire.CopySink
	n    int
}

func (w *copyWriter) Row(row []types.Datum) error {
	w.n++
	return w.sink.Row(row)
}
