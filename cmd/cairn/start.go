package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cairndb/cairn/internal/bugs"
	"github.com/cairndb/cairn/internal/memory"
	"github.com/cairndb/cairn/internal/node"
	"github.com/cairndb/cairn/internal/security"
)

func startCmd() *cobra.Command {
	var cfgFile, logLevel, tlsMin, bootstrapNode string
	var bugNames []string
	var cfg node.Config
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start a Cairn node",
		Long: `Start a Cairn node. Every flag is also a key of the TOML file given with
--config (data_dir or data-dir) and an environment variable (CAIRN_DATA_DIR).
A flag beats the environment, which beats the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfig(cmd.Flags(), cfgFile); err != nil {
				return exitWith(exitUsage, err)
			}
			if cfg.ElectionTimeout < 2*cfg.HeartbeatInterval || cfg.HeartbeatInterval < 50*time.Millisecond {
				return exitWith(exitUsage, fmt.Errorf("--raft-election-timeout (%s) must be at least twice --raft-heartbeat-interval (%s), which must be at least 50ms", cfg.ElectionTimeout, cfg.HeartbeatInterval))
			}
			join, err := bootstrapJoin(cfg.Join, bootstrapNode, cfg.NodeID)
			if err != nil {
				return exitWith(exitUsage, err)
			}
			cfg.Join = join
			if err := checkAdvertiseHost(cfg.AdvertiseHost); err != nil {
				return exitWith(exitUsage, err)
			}
			if cfg.Role != "data" && cfg.Role != "compute" {
				return exitWith(exitUsage, fmt.Errorf("--role must be data or compute, got %q", cfg.Role))
			}
			if len(bugNames) > 0 {
				set, err := bugs.Parse(bugNames)
				if err != nil {
					return exitWith(exitUsage, fmt.Errorf("--unsafe-bug: %v", err))
				}
				if set != nil && !cfg.TestFaults {
					return exitWith(exitUsage, errors.New("--unsafe-bug needs --unsafe-test-faults: deliberate bugs are for fault tests only"))
				}
				cfg.Bugs = set
			}
			if cmd.Flags().Changed("tls-min-version") {
				v, err := security.ParseTLSVersion(tlsMin)
				if err != nil {
					return exitWith(exitUsage, fmt.Errorf("--tls-min-version: %v", err))
				}
				cfg.TLSMinVersion = v
			}
			if cfg.ViewCache != 0 && cfg.ViewCache < 64<<10 { // 0: not given, a quarter of --max-memory
				return exitWith(exitUsage, fmt.Errorf("--view-cache must be at least 64KiB, got %d bytes", cfg.ViewCache))
			}
			if cfg.AuthFailureLimit < 1 {
				return exitWith(exitUsage, fmt.Errorf("--auth-failure-limit must be at least 1, got %d", cfg.AuthFailureLimit))
			}
			if err := node.CheckSecurity(cfg); err != nil {
				return exitWith(exitUsage, err)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return exitWith(exitUsage, fmt.Errorf("--log-level: %v", err))
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			if cfg.Bugs != nil {
				cfg.Logger.Warn("UNSAFE: deliberate bugs switched on; this node loses or misreports data on purpose", "bugs", cfg.Bugs.String())
			}
			if os.Getenv("GOGC") == "" {
				// The heap is small (batches in flight, view rows); trading
				// some memory for less GC work pays on the ingest path.
				debug.SetGCPercent(400)
			}
			// This process is the node's own: the Go GC's memory limit
			// follows --max-memory (unless GOMEMLIMIT says otherwise).
			cfg.GoMemoryLimit = os.Getenv("GOMEMLIMIT") == ""
			n, err := node.Start(cfg)
			if err != nil {
				switch {
				case errors.Is(err, node.ErrAddrInUse):
					return exitWith(exitAddrInUse, err)
				case errors.Is(err, node.ErrDataDir):
					return exitWith(exitDataDirErr, err)
				case errors.Is(err, node.ErrInsecureListen), errors.Is(err, node.ErrCerts):
					return exitWith(exitUsage, err)
				}
				return exitWith(exitError, err)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), readyLine(cfg, n.PGAddr()))
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
			s := <-sig
			for s == syscall.SIGHUP {
				// SIGHUP reloads the certificates (a bad file keeps the
				// ones in use; the node logs why).
				if cfg.CertsDir == "" {
					cfg.Logger.Info("SIGHUP: this node has no --certs-dir, nothing to reload")
				} else {
					_ = n.ReloadCerts()
				}
				s = <-sig
			}
			cfg.Logger.Info("shutting down", "signal", s.String())
			signal.Stop(sig)
			// Leaders move before the node goes: writes to its groups
			// wait for a transfer, not for an election timeout.
			n.HandOffLeadership(time.Second)
			if err := n.Close(); err != nil {
				return exitWith(exitError, fmt.Errorf("shutdown: %w", err))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgFile, "config", "", "TOML config file")
	f.StringVar(&cfg.DataDir, "data-dir", "./cairn-data", "directory for all data of this node")
	f.StringVar(&cfg.PGAddr, "pg-addr", "127.0.0.1:5480", "PostgreSQL wire protocol listen address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8480", "HTTP listen address (API, ingest, metrics, health)")
	f.StringSliceVar(&cfg.HTTPHosts, "http-host", nil, "more names the HTTP API answers to in the Host header, e.g. a DNS name of this node (its --http-addr and localhost always work)")
	f.BoolVar(&cfg.MetricsAuth, "metrics-auth", false, "require an authenticated user on GET /metrics (default: open)")
	f.StringVar(&cfg.ClusterAddr, "cluster-addr", "127.0.0.1:7480", "cluster traffic listen address (Raft, internal RPC)")
	f.StringVar(&cfg.AdvertiseHost, "advertise-host", "", "host name or address other nodes and clients reach this node by (e.g. its DNS name in a container); the ports stay those of --pg-addr, --http-addr and --cluster-addr (default: the listen addresses)")
	f.StringVar(&cfg.NodeID, "node-id", "n1", "unique id of this node")
	f.StringSliceVar(&cfg.Join, "join", nil, "cluster addresses of live members to join through (host:port[,host:port]); empty starts a new cluster")
	f.StringVar(&bootstrapNode, "bootstrap-node", "", "--node-id of the node that starts the cluster when every node gets the same --join list (a Kubernetes StatefulSet): on its first start that node ignores --join, the others join through it")
	f.StringVar(&cfg.Role, "role", "data", "data (holds replicas) or compute")
	f.StringVar(&cfg.Zone, "zone", "", "zone label, used to spread replicas")
	f.StringVar(&cfg.Region, "region", "", "region label")
	f.StringVar(&cfg.CertsDir, "certs-dir", "", "directory with ca.crt, node.crt and node.key (cairn cert): TLS on every port, mutual TLS between nodes; reloaded on SIGHUP and on change")
	f.BoolVar(&cfg.Insecure, "insecure", false, "run without TLS or node authentication, also on non-loopback addresses (only on a network you trust)")
	f.StringVar(&tlsMin, "tls-min-version", "1.3", "lowest TLS version accepted: 1.3 or 1.2 (needs --certs-dir)")
	f.IntVar(&cfg.AuthFailureLimit, "auth-failure-limit", 5, "failed SQL logins from one IP address within a minute after which its further attempts are refused until the minute is over (loopback clients of an insecure node are not limited)")
	f.Var(newByteSize(&cfg.ViewCache, 0), "view-cache", "bytes of view rows this node caches in memory for all its view shards (rows live on disk; e.g. 256MiB, 1GB; default a quarter of --max-memory); rows changed since a shard's last checkpoint are held apart from it")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.Var(&sizeFlag{v: &cfg.MaxMemory}, "max-memory", fmt.Sprintf("memory this node keeps to: bytes, a size such as 512MiB or 2GB, or a percentage of the machine's (or cgroup's) memory such as 50%%; at least 64MiB (default %d%% of the machine's memory)", memory.DefaultPercent))
	f.DurationVar(&cfg.HeartbeatInterval, "raft-heartbeat-interval", 100*time.Millisecond, "Raft heartbeat interval")
	f.DurationVar(&cfg.ElectionTimeout, "raft-election-timeout", 500*time.Millisecond, "Raft election timeout: how long followers wait for a leader before electing one")
	f.BoolVar(&cfg.NoSync, "unsafe-no-fsync", false, "skip fsync (loses acknowledged data on power loss; benchmarks only)")
	f.BoolVar(&cfg.TestFaults, "unsafe-test-faults", false, "serve POST /debug/faults to cut traffic between nodes (fault tests only)")
	_ = f.MarkHidden("unsafe-test-faults")
	f.StringSliceVar(&bugNames, "unsafe-bug", nil, "switch on a deliberate bug for checker self-tests (repeat or comma list: "+strings.Join(bugs.Names, ", ")+"); needs --unsafe-test-faults")
	_ = f.MarkHidden("unsafe-bug")
	f.Uint64Var(&cfg.RaftLogEntries, "unsafe-raft-log-entries", 0, "truncate raft logs every N entries and keep only N for lagging followers (tests: forces catch-up by snapshot)")
	_ = f.MarkHidden("unsafe-raft-log-entries")
	return cmd
}

// applyConfig fills every flag not given on the command line from the
// CAIRN_* environment, then from the TOML file.
func applyConfig(fs *pflag.FlagSet, file string) error {
	fileVals := map[string]any{}
	if file == "" {
		file = os.Getenv("CAIRN_CONFIG")
	}
	if file != "" {
		if _, err := toml.DecodeFile(file, &fileVals); err != nil {
			return fmt.Errorf("config file %s: %v", file, err)
		}
		for k := range fileVals {
			name := strings.ReplaceAll(k, "_", "-")
			if fs.Lookup(name) == nil || name == "config" {
				return fmt.Errorf("config file %s: unknown key %q", file, k)
			}
		}
	}
	var firstErr error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed || fl.Name == "config" || firstErr != nil {
			return
		}
		env := "CAIRN_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(fl.Name, v); err != nil {
				firstErr = fmt.Errorf("%s: %v", env, err)
			}
			return
		}
		for _, k := range []string{fl.Name, strings.ReplaceAll(fl.Name, "-", "_")} {
			if v, ok := fileVals[k]; ok {
				if err := fs.Set(fl.Name, fmt.Sprint(v)); err != nil {
					firstErr = fmt.Errorf("config file %s: %s: %v", file, k, err)
				}
				return
			}
		}
	})
	return firstErr
}

// readyLine is what `cairn start` prints once the node serves: how to
// connect, and whether it is secure.
func readyLine(cfg node.Config, pgAddr string) string {
	host, port := hostOf(pgAddr), portOf(pgAddr)
	if cfg.CertsDir == "" {
		how := "no TLS, loopback clients trusted"
		if cfg.Insecure {
			how = "--insecure: no TLS, nodes not authenticated"
		}
		return fmt.Sprintf("cairn %s: node %s ready (INSECURE: %s); connect with: psql -h %s -p %s -U cairn", version, cfg.NodeID, how, host, port)
	}
	d := cfg.CertsDir
	if abs, err := filepath.Abs(d); err == nil {
		d = abs
	}
	return fmt.Sprintf("cairn %s: node %s ready (secure); connect with: psql \"postgres://cairn@%s:%s/cairn?sslmode=verify-full&sslrootcert=%s&sslcert=%s&sslkey=%s\"",
		version, cfg.NodeID, host, port, filepath.Join(d, security.CACertFile), filepath.Join(d, security.ClientCertFile("cairn")), filepath.Join(d, security.ClientKeyFile("cairn")))
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[:i]
	}
	return addr
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

// sizeFlag is --max-memory: a size (memory.ParseSize) of at least
// memory.MinLimit, checked when set, so that a bad value from the
// flag, the environment or the config file is refused naming its source.
type sizeFlag struct {
	v *uint64
	s string
}

func (f *sizeFlag) String() string { return f.s }
func (f *sizeFlag) Type() string   { return "size" }

func (f *sizeFlag) Set(s string) error {
	total, _ := memory.Machine()
	v, err := memory.ParseSize(s, total)
	if err != nil {
		return err
	}
	if v < memory.MinLimit {
		return fmt.Errorf("%s (%s) is below the minimum of %s", s, memory.Format(v), memory.Format(memory.MinLimit))
	}
	*f.v, f.s = v, s
	return nil
}
