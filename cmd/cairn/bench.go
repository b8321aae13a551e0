package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/bench"
)

func benchCmd() *cobra.Command {
	var o bench.Options
	var noSync bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a workload against a node and report throughput, latency and view freshness",
		Long: `Run workload W1 (events of 10,000 devices in 8 regions, a per_device view)
against the node at --url, or against a node started in a temporary data dir
when --url is empty. Prints a table and writes the figures as JSON to --out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Progress = cmd.ErrOrStderr()
			o.StartNode = func(ctx context.Context) (string, func(), error) { return startTempNode(ctx, noSync) }
			res, err := bench.Run(ctx, o)
			if res != nil {
				res.Print(cmd.OutOrStdout())
			}
			if err != nil {
				return &exitErr{exitError, err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Workload, "workload", "w1", "workload to run (w1)")
	f.IntVar(&o.Events, "events", 1_000_000, "events to send")
	f.IntVar(&o.Batch, "batch", 1000, "events per batch (one COPY or INSERT)")
	f.IntVar(&o.Clients, "clients", 4, "concurrent client connections")
	f.StringVar(&o.URL, "url", "", "postgres:// URL of a running node; empty starts one in a temp dir")
	f.StringVar(&o.Out, "out", "bench-w1.json", "JSON result file (- for none)")
	f.StringVar(&o.Mode, "mode", "binary", "ingest path: binary (binary COPY, encoded before the clock starts), copy (pgx CopyFrom, encoded by pgx while running), csv (COPY csv) or insert (multi-row INSERT)")
	f.BoolVar(&noSync, "unsafe-no-fsync", false, "start the temp node without fsync (not for published figures)")
	return cmd
}

// freePort returns a loopback address with a port free right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startTempNode runs `cairn start` from this binary in a temp dir and
// waits until it accepts PostgreSQL connections.
func startTempNode(ctx context.Context, noSync bool) (string, func(), error) {
	dir, err := os.MkdirTemp("", "cairn-bench-")
	if err != nil {
		return "", nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = freePort(); err != nil {
			return "", nil, err
		}
	}
	args := []string{"start", "--data-dir", filepath.Join(dir, "data"), "--pg-addr", addrs[0], "--http-addr", addrs[1],
		"--cluster-addr", addrs[2], "--log-level", "warn"}
	if noSync {
		args = append(args, "--unsafe-no-fsync")
	}
	c := exec.Command(self, args...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	stop := func() {
		_ = c.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = c.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", addrs[0], 200*time.Millisecond); err == nil {
			conn.Close()
			return fmt.Sprintf("postgres://cairn@%s/cairn?sslmode=disable", addrs[0]), stop, nil
		}
		select {
		case err := <-exited:
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("bench node exited during start: %v", err)
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	return "", nil, fmt.Errorf("bench node did not accept connections on %s within 30s", addrs[0])
}
