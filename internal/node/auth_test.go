package node_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil/testcluster"
)

// TestLoginInsecureLoopback: on an insecure node a loopback client is
// trusted, but only as a LOGIN role: cairn gets in, the built-in admin
// (NOLOGIN) and a user that does not exist get the same 28P01.
func TestLoginInsecureLoopback(t *testing.T) {
	c := testcluster.Start(t, 1)
	conn := connect(t, c, 0)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"admin", "nobody"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := pgx.Connect(ctx, strings.Replace(c.URL(0), "cairn@", user+"@", 1))
		cancel()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" || pe.Message != fmt.Sprintf("password authentication failed for user %q", user) {
			t.Errorf("%s: %v, want 28P01 password authentication failed", user, err)
		}
	}
}
