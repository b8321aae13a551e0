package session

import (
	"context"
	"time"

	"github.com/cairndb/cairn/internal/alert"
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Alerts (issue 15). CREATE ALERT and DROP ALERT are admin statements;
// the condition and target are checked here (internal/alert) before the
// alert is proposed, so the catalog only holds alerts that can work. SHOW
// ALERTS is cairn_cluster.alerts, admin-only too (a webhook URL often
// carries a token).

// prepareAlertStmt prepares CREATE ALERT and DROP ALERT; ok is false for
// any other statement.
func (s *Session) prepareAlertStmt(stmt parser.Statement) (*prepared, bool, error) {
	switch st := stmt.(type) {
	case *parser.CreateAlert:
		p, err := s.prepareCreateAlert(st)
		return p, true, err
	case *parser.DropAlert:
		p, err := s.prepareDropAlert(st)
		return p, true, err
	}
	return nil, false, nil
}

func (s *Session) prepareCreateAlert(ca *parser.CreateAlert) (*prepared, error) {
	if err := s.noteAdmin("CREATE ALERT"); err != nil {
		return nil, err
	}
	a, perr := alert.NewCondition(ca.Metric, ca.Op, ca.Value, ca.ValueKind)
	if perr != nil {
		return nil, perr.WithPos(ca.P)
	}
	if perr := alert.CheckTarget(ca.Target); perr != nil {
		return nil, perr.WithPos(ca.P)
	}
	a.Name, a.Target, a.Owner = ca.Name, ca.Target, s.currentUser()
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		al := *a
		al.CreatedAt = time.Now().UnixMicro()
		res, err := s.b.Propose(ctx, &catalog.CreateAlert{Alert: &al, IfNotExists: ca.IfNotExists})
		if err != nil {
			return "", pgerr.From(err).WithPos(ca.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		return "CREATE ALERT", nil
	}}, nil
}

func (s *Session) prepareDropAlert(da *parser.DropAlert) (*prepared, error) {
	if err := s.noteAdmin("DROP ALERT"); err != nil {
		return nil, err
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		res, err := s.b.Propose(ctx, &catalog.DropAlerts{Names: da.Names, IfExists: da.IfExists})
		if err != nil {
			return "", pgerr.From(err).WithPos(da.P)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		return "DROP ALERT", nil
	}}, nil
}
