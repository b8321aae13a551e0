package cli

import (
	"errors"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"
)

// nodeIDEnv is the environment variable `cairn start` reads its --node-id
// from: a drain hook run in the node's own container (a Kubernetes
// preStop, a systemd ExecStop) finds the node's name there.
const nodeIDEnv = "CAIRN_NODE_ID"

// selfDrain lets `cairn node drain` leave out NAME and drain the node named
// by $CAIRN_NODE_ID. A hook that runs without a shell (an exec preStop
// in a distroless image) cannot expand the name into the command line.
func selfDrain(m *mutation) {
	m.use = "drain [NAME]"
	m.long += "\n\nWithout NAME it drains the node named by $" + nodeIDEnv + " (the environment\n" +
		"`cairn start` takes --node-id from), for a stop hook run beside the node."
	m.args = func(cmd *cobra.Command, args []string) error {
		if err := cobra.MaximumNArgs(1)(cmd, args); err != nil {
			return err
		}
		if len(args) == 0 && os.Getenv(nodeIDEnv) == "" {
			return errors.New("name the node to drain: cairn node drain NAME (or set " + nodeIDEnv + ", as for cairn start)")
		}
		return nil
	}
	m.path = func(args []string) string {
		name := os.Getenv(nodeIDEnv)
		if len(args) > 0 {
			name = args[0]
		}
		return "/api/v1/nodes/" + url.PathEscape(name) + "/drain"
	}
	m.method = http.MethodPost
}
