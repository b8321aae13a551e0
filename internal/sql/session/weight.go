package session

import (
	"context"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// Load balancing (issue 15): ALTER NODE … SET WEIGHT and the
// lb_min_health_score cluster setting, both read by `cairn proxy`.

// prepareNodeWeight is `ALTER NODE 'n1' SET WEIGHT w` (the parser checked
// the range): it records the weight in the catalog, where
// cairn_cluster.nodes shows it and every proxy reads it.
func (s *Session) prepareNodeWeight(name string, w int64) (*prepared, error) {
	return &prepared{run: func(ctx context.Context, _ []types.Datum, _ pgwire.ResultWriter) (string, error) {
		if _, err := s.b.Propose(ctx, &catalog.SetNodeWeight{Node: name, Weight: w}); err != nil {
			return "", err
		}
		return "ALTER NODE", nil
	}}, nil
}

// checkHealthScore accepts a whole number from 0 to 100.
func checkHealthScore(v string) (string, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > 100 {
		return "", pgerr.HealthScoreRange.New(v)
	}
	return strconv.Itoa(n), nil
}
