package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
)

const (
	// defaultAdminHost is a node's default --http-addr.
	defaultAdminHost = "127.0.0.1:8480"
	// finishedOpsShown is how many finished operations `ops ls` shows
	// without --all.
	finishedOpsShown = 20
	// progressBarWidth is the number of cells in a progress bar.
	progressBarWidth = 18
)

// opsPollInterval is how often a wait polls an operation (tests shorten it).
var opsPollInterval = 500 * time.Millisecond

// Commands returns the operator commands for the root command.
func Commands() []*cobra.Command {
	return []*cobra.Command{nodeCmd(), shardCmd(), opsCmd(), clusterCmd(), debugCmd()}
}

// adminFlags are the flags every operator command takes.
type adminFlags struct {
	host        string
	json        bool
	httpTimeout time.Duration
	auth        authFlags
}

func (f *adminFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.host, "host", defaultAdminHost, "HTTP address of any node (its --http-addr); env CAIRN_HOST")
	pf.BoolVar(&f.json, "json", false, "print the raw JSON reply of the API")
	pf.DurationVar(&f.httpTimeout, "http-timeout", 10*time.Second, "timeout of each HTTP request")
	f.auth.register(cmd)
}

// client returns an API client for cmd's --host (or CAIRN_HOST when the
// flag is not given).
func (f *adminFlags) client(cmd *cobra.Command) *apiClient {
	host := f.host
	if fl := cmd.Flag("host"); fl != nil && !fl.Changed {
		if env := os.Getenv("CAIRN_HOST"); env != "" {
			host = env
		}
	}
	base := host
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	timeout := f.httpTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	user, password := f.auth.credentials(cmd)
	return &apiClient{
		base:     strings.TrimRight(base, "/"),
		host:     host,
		timeout:  timeout,
		hc:       &http.Client{Timeout: timeout},
		user:     user,
		password: password,
	}
}

// waitFlags are --wait and --timeout of a mutating command.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func (w *waitFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "wait until every operation the command started has finished")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 10*time.Minute, "with --wait: how long to wait (exit code 2 when it runs out)")
}

// apiClient calls one node's admin API.
type apiClient struct {
	base    string // http://host:port
	host    string // as the user gave it, for messages
	timeout time.Duration
	hc      *http.Client
	// user and password authenticate (auth.go); token is the session
	// token of a login over plain http, once there is one.
	user, password, token string
}

// apiError is an error reply of the API; it prints like psql.
type apiError struct {
	httpapi.AdminError
	status int
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ERROR: %s (SQLSTATE %s)", e.Message, e.Code)
	if e.Detail != "" {
		b.WriteString("\nDETAIL: " + e.Detail)
	}
	if e.Hint != "" {
		b.WriteString("\nHINT: " + e.Hint)
	}
	return b.String()
}

// netError is a request that got no HTTP reply.
type netError struct{ msg string }

func (e *netError) Error() string { return e.msg }

// call sends one request and returns the reply body of a 2xx reply; other
// replies become *apiError, failed requests *netError.
func (c *apiClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		p, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(p)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("--host %q: %v", c.host, err)
	}
	if method != http.MethodGet {
		// The API takes only JSON on anything but GET, body or none.
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if err := c.authorize(ctx, req); err != nil {
		return nil, err
	}
	return c.do(req, path)
}

// do sends req and returns the body of a 2xx reply; other replies become
// *apiError, failed requests *netError.
func (c *apiClient) do(req *http.Request, path string) ([]byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.describe(err)
	}
	defer resp.Body.Close()
	// Replies are small; a bound keeps a wrong --host from filling memory.
	p, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, c.describe(err)
	}
	if resp.StatusCode/100 == 2 {
		return p, nil
	}
	var reply httpapi.AdminErrorReply
	if json.Unmarshal(p, &reply) == nil && reply.Error.Code != "" {
		return nil, &apiError{AdminError: reply.Error, status: resp.StatusCode}
	}
	text := strings.TrimSpace(string(p))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return nil, &apiError{status: resp.StatusCode, AdminError: httpapi.AdminError{
		Code:    "XX000",
		Message: fmt.Sprintf("HTTP %s from %s%s: %s", resp.Status, c.base, path, text),
		Hint:    "is --host the HTTP address (--http-addr) of a Cairn node of this version?",
	}}
}

// describe turns a transport error into a message that names --host.
func (c *apiClient) describe(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &netError{fmt.Sprintf("cannot connect to a Cairn node at %s: connection refused\n"+
			"HINT: is the node running? --host (or CAIRN_HOST) must be a node's HTTP address (--http-addr, default %s)", c.base, defaultAdminHost)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &netError{fmt.Sprintf("no reply from %s within %s (--http-timeout); check --host", c.base, c.timeout)}
	case errors.Is(err, context.Canceled):
		return &netError{"interrupted"}
	}
	return &netError{fmt.Sprintf("request to %s failed: %v (check --host)", c.base, err)}
}

// result calls the API and decodes an SQLResult; raw is the reply body.
func (c *apiClient) result(ctx context.Context, method, path string, body any) (res *httpapi.SQLResult, raw []byte, err error) {
	raw, err = c.call(ctx, method, path, body)
	if err != nil {
		return nil, nil, err
	}
	res = &httpapi.SQLResult{}
	if err := json.Unmarshal(raw, res); err != nil {
		return nil, nil, fmt.Errorf("unexpected reply from %s%s: %v", c.base, path, err)
	}
	return res, raw, nil
}

// failed wraps err with exit code 1.
func failed(err error) error {
	var ee *ExitCode
	if errors.As(err, &ee) {
		return err
	}
	return Exit(ExitFailure, err)
}

// writeRaw prints an API reply as it came, ending in a newline.
func writeRaw(w io.Writer, raw []byte) {
	w.Write(raw)
	if len(raw) == 0 || raw[len(raw)-1] != '\n' {
		io.WriteString(w, "\n")
	}
}
