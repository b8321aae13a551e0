package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// readyCmd is `cairn ready`: GET /ready on one node, exit 0 when it
// answers 200. It is the health check of a container image that has no
// shell and no curl (the distroless image of the Dockerfile): compose runs
// `cairn ready` inside the container. /ready is open, so no user is sent.
func readyCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "ready",
		Short: "Exit 0 when the node at --host is ready (GET /ready answers 200), 1 when not",
		Long: `Exit 0 when the node at --host is ready (GET /ready answers 200), 1 when
it is not or cannot be reached; the node's reply is printed. A node is
ready once it knows a leader of the meta group. For container health
checks in images without curl.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.user = defaultUser
			c := f.client(cmd)
			if c.setupErr != nil {
				return c.setupErr
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, c.base+"/ready", nil)
			if err != nil {
				return Exit(ExitUsage, fmt.Errorf("--host %q: %v", c.host, err))
			}
			resp, err := c.hc.Do(req)
			if err != nil {
				return Exit(ExitFailure, c.describe(err))
			}
			defer resp.Body.Close()
			p, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			body := strings.TrimSpace(string(p))
			if resp.StatusCode != http.StatusOK {
				return Exit(ExitFailure, fmt.Errorf("node at %s is not ready: HTTP %s: %s", c.base, resp.Status, body))
			}
			fmt.Fprintln(cmd.OutOrStdout(), body)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", defaultAdminHost, "HTTP address of the node (its --http-addr); env CAIRN_HOST")
	fl.DurationVar(&f.httpTimeout, "http-timeout", 5*time.Second, "how long to wait for the reply")
	fl.StringVar(&f.certsDir, "certs-dir", "", "directory with the cluster's ca.crt (and client.cairn.crt/key): talk HTTPS to a secure node; env CAIRN_CERTS_DIR")
	return cmd
}
