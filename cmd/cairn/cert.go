package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/security"
)

// certCmd is `cairn cert`: make and list the certificates of a secure
// cluster (docs/security.md).
func certCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Create and list certificates for a secure cluster",
		Long: `Create and list the certificates of a secure cluster, in a certs dir
(--certs-dir, else $CAIRN_CERTS_DIR, else ~/.cairn-certs) under the names
cairn start --certs-dir and the CLI look for:

  ca.crt, ca.key               the cluster CA (keep ca.key off the nodes if you can)
  node.crt, node.key           a node's certificate, for its hosts
  client.<user>.crt/.key       a SQL user's client certificate (CN = user)

Five commands make a secure single node:
  cairn cert create-ca
  cairn cert create-node 127.0.0.1 localhost
  cairn cert create-client cairn
  cairn start --certs-dir ~/.cairn-certs
  psql "postgres://cairn@localhost:5480/cairn?sslmode=verify-full&sslrootcert=$HOME/.cairn-certs/ca.crt&sslcert=$HOME/.cairn-certs/client.cairn.crt&sslkey=$HOME/.cairn-certs/client.cairn.key"`,
	}
	var dir, caKey string
	var life time.Duration
	var overwrite bool
	opts := func() security.CreateOptions {
		return security.CreateOptions{Lifetime: life, Overwrite: overwrite, CAKey: caKey}
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&dir, "certs-dir", "", "certificates directory (default $CAIRN_CERTS_DIR, else ~/.cairn-certs)")
	pf.StringVar(&caKey, "ca-key", "", "the CA key's path when it is not kept in the certs dir (default <certs-dir>/ca.key)")
	pf.DurationVar(&life, "lifetime", 0, "how long the new certificate is valid (default 87600h for a CA, 43800h otherwise, never beyond the CA)")
	pf.BoolVar(&overwrite, "overwrite", false, "replace existing files")
	certsDir := func() string {
		if dir == "" {
			dir = security.DefaultCertsDir()
		}
		return dir
	}
	done := func(c *cobra.Command, what string, err error) error {
		if err != nil {
			if errors.Is(err, security.ErrCertExists) || errors.Is(err, security.ErrNoCA) || errors.Is(err, security.ErrBadInput) {
				return exitWith(exitUsage, err)
			}
			return exitWith(exitError, err)
		}
		fmt.Fprintf(c.OutOrStdout(), "wrote %s in %s\n", what, certsDir())
		return nil
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "create-ca",
		Short: "Create the cluster CA (ca.crt, ca.key)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return done(c, "ca.crt and ca.key", security.CreateCA(certsDir(), opts()))
		},
	}, &cobra.Command{
		Use:   "create-node <host>...",
		Short: "Create node.crt/node.key for the DNS names and IP addresses clients and nodes use to reach the node",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, hosts []string) error {
			return done(c, "node.crt and node.key", security.CreateNode(certsDir(), hosts, opts()))
		},
	}, &cobra.Command{
		Use:   "create-client <user>",
		Short: "Create client.<user>.crt/key, a SQL user's client certificate",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return done(c, security.ClientCertFile(args[0])+" and "+security.ClientKeyFile(args[0]),
				security.CreateClient(certsDir(), args[0], opts()))
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List the certificates in the certs dir",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			infos, err := security.ListCerts(certsDir())
			if err != nil {
				return exitWith(exitError, err)
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "FILE\tKIND\tNAME\tHOSTS\tNOT BEFORE\tNOT AFTER\tSIGNED BY CA")
			for _, ci := range infos {
				if ci.Err != "" {
					fmt.Fprintf(w, "%s\t%s\t\t\t\t\terror: %s\n", ci.File, ci.Kind, ci.Err)
					continue
				}
				signed := "yes"
				if !ci.ChainsToCA {
					signed = "NO"
				}
				if time.Now().After(ci.NotAfter) {
					signed += " (EXPIRED)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ci.File, ci.Kind, ci.Name, strings.Join(ci.Hosts, ","),
					ci.NotBefore.UTC().Format(time.RFC3339), ci.NotAfter.UTC().Format(time.RFC3339), signed)
			}
			return w.Flush()
		},
	})
	return cmd
}
