// Command cairn is the Cairn server and its tools: `cairn start` runs a
// node, `cairn bench` measures one, `cairn version` prints the version.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/cli"
	"github.com/cairndb/cairn/internal/node"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitError      = cli.ExitFailure
	exitUsage      = cli.ExitUsage
	exitAddrInUse  = 3
	exitDataDirErr = 4
)

// exitErr carries an exit code.
type exitErr = cli.ExitCode

// exitWith returns err with an exit code.
func exitWith(code int, err error) error { return cli.Exit(code, err) }

func main() {
	node.Version = version
	root := &cobra.Command{
		Use:           "cairn",
		Short:         "Cairn: a distributed streaming SQL database",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(startCmd(), versionCmd(), benchCmd())
	root.AddCommand(chaosCmd(), certCmd(), proxyCmd())
	root.AddCommand(demoCmd()) // demo.go
	root.AddCommand(cli.Commands()...)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		var ee *exitErr
		if errors.As(err, &ee) {
			os.Exit(ee.Code)
		}
		os.Exit(exitUsage)
	}
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "cairn %s (PostgreSQL protocol %s)\n", version, node.ServerVersion)
		},
	}
}
