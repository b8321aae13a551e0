package pgwire

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/sql/parser"
)

// peerHandler records the client address NewSession's context carries.
type peerHandler struct {
	*fakeHandler
	mu    sync.Mutex
	peers []net.Addr
}

func (h *peerHandler) NewSession(ctx context.Context, params map[string]string) (Session, error) {
	h.mu.Lock()
	h.peers = append(h.peers, PeerAddr(ctx))
	h.mu.Unlock()
	return h.fakeHandler.NewSession(ctx, params)
}

// TestErrorsHideSecrets: an error about a statement that carries a
// password does not echo it, in the simple and the extended protocol;
// NewSession learns the client's address.
func TestErrorsHideSecrets(t *testing.T) {
	parseSQL = parser.Parse
	t.Cleanup(func() { parseSQL = fakeParse })
	h := &peerHandler{fakeHandler: newFakeHandler()}
	s := startServer(t, h, Config{})
	c := connect(t, s, pgx.QueryExecModeSimpleProtocol)
	for _, q := range []string{
		`CREATE USER bob PASSWORD 'S3cr3t-XYZ`,                   // unterminated: the lexer quotes the rest
		`ALTER ROLE bob PASSWORD 'S3cr3t-XYZ' 'S3cr3t-XYZ'`,      // syntax error at or near the second literal
		`SELECT 1; CREATE USER bob PASSWORD $$S3cr3t-XYZ`,        // unterminated dollar quote
		`CREATE STREAM s (k text) WITH (secret = 'S3cr3t-XYZ' x`, // syntax error after it
	} {
		for _, extended := range []bool{false, true} {
			var err error
			if extended {
				_, err = c.PgConn().Prepare(testCtx(t), "", q, nil)
			} else {
				_, err = c.PgConn().Exec(testCtx(t), q).ReadAll()
			}
			var pe *pgconn.PgError
			if !errors.As(err, &pe) {
				t.Fatalf("%s: want an error, got %v", q, err)
			}
			if all := pe.Message + pe.Detail + pe.Hint; strings.Contains(all, "S3cr3t") {
				t.Errorf("%s (extended %v): error echoes the secret: %s", q, extended, all)
			}
			if pe.Code != "42601" {
				t.Errorf("%s: code %s, want 42601 (%s)", q, pe.Code, pe.Message)
			}
			if strings.HasPrefix(q, "CREATE USER") && !strings.Contains(pe.Message, parser.Redacted) {
				t.Errorf("%s: the message should quote the text, redacted: %s", q, pe.Message)
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.peers) == 0 || h.peers[0] == nil || !strings.HasPrefix(h.peers[0].String(), "127.0.0.1:") {
		t.Errorf("NewSession's peer addresses: %v", h.peers)
	}
}
