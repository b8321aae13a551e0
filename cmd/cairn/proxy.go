package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/proxy"
)

func proxyCmd() *cobra.Command {
	var cfg proxy.Config
	var join, mode, logLevel string
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Route PostgreSQL sessions to a cluster's live nodes",
		Long: `Run a PostgreSQL wire protocol proxy in front of a Cairn cluster. Each new
client session goes to a live, non-draining data node picked by --mode:
round_robin, least_connections (this proxy's own open sessions),
weighted (ALTER NODE … SET WEIGHT) or health_based (cairn_cluster.health
scores of at least the lb_min_health_score setting). Membership is read
from the cluster every --refresh. Idle sessions on a node that starts
draining are closed with SQLSTATE 57P01 so their clients reconnect
elsewhere. The proxy does not terminate TLS (it answers SSLRequest with
'N'); see docs/proxy.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := proxy.ParseMode(mode)
			if err != nil {
				return exitWith(exitUsage, err)
			}
			cfg.Mode = m
			for _, a := range strings.Split(join, ",") {
				if a = strings.TrimSpace(a); a != "" {
					cfg.Join = append(cfg.Join, a)
				}
			}
			if len(cfg.Join) == 0 {
				return exitWith(exitUsage, errors.New("--join needs at least one node's PostgreSQL address (host:port)"))
			}
			if cfg.Refresh < 100*time.Millisecond {
				return exitWith(exitUsage, fmt.Errorf("--refresh must be at least 100ms, got %s", cfg.Refresh))
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return exitWith(exitUsage, fmt.Errorf("--log-level: %v", err))
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			p, err := proxy.New(cfg)
			if err != nil {
				return exitWith(exitUsage, err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := p.Start(ctx); err != nil {
				return exitWith(exitError, err)
			}
			cfg.Logger.Info("cairn proxy ready", "listen", p.Addr(), "mode", string(m), "http", cfg.HTTPAddr)
			return p.Serve(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:26257", "address for PostgreSQL clients")
	f.StringVar(&join, "join", "", "comma-separated PostgreSQL addresses (host:port) of cluster nodes to read membership from")
	f.StringVar(&mode, "mode", string(proxy.RoundRobin), "round_robin, least_connections, weighted or health_based")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "", "address for /metrics and /api/v1/backends (empty: none)")
	f.StringVar(&cfg.User, "user", "cairn", "user of the proxy's membership queries (password: PGPASSWORD)")
	f.DurationVar(&cfg.Refresh, "refresh", time.Second, "how often to read membership, weights and health from the cluster")
	f.DurationVar(&cfg.JoinTimeout, "join-timeout", 10*time.Second, "how long to wait at start for a node in --join to answer before exiting")
	f.DurationVar(&cfg.BackendTimeout, "backend-timeout", 3*time.Second, "how long a node may take to accept and answer a new session before the proxy tries another")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
