package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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
	return []*cobra.Command{nodeCmd(), shardCmd(), opsCmd(), clusterCmd(), debugCmd(), readyCmd()}
}

// adminFlags are the flags every operator command takes.
type adminFlags struct {
	host        string
	json        bool
	httpTimeout time.Duration
	certsDir    string
	user        string
	password    string
}

func (f *adminFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.host, "host", defaultAdminHost, "HTTP address of any node (its --http-addr); env CAIRN_HOST")
	pf.BoolVar(&f.json, "json", false, "print the raw JSON reply of the API")
	pf.DurationVar(&f.httpTimeout, "http-timeout", 10*time.Second, "timeout of each HTTP request")
	pf.StringVar(&f.certsDir, "certs-dir", "", "directory with the cluster's ca.crt and client.<user>.crt/key: talk HTTPS to a secure node and log in with that certificate; env CAIRN_CERTS_DIR")
	pf.StringVar(&f.user, "user", defaultUser, "user whose client certificate (client.<user>.crt in --certs-dir) the commands present, or who logs in with a password; env CAIRN_USER")
	pf.StringVar(&f.password, "password", "", "the user's password (prefer the env CAIRN_PASSWORD: a flag shows in ps)")
}

// flagOrEnv is the value of flag name, or env when the flag was not
// given and env is set.
func flagOrEnv(cmd *cobra.Command, name, value, env string) string {
	if fl := cmd.Flag(name); fl != nil && !fl.Changed {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	return value
}

// client returns an API client for cmd's --host (or CAIRN_HOST when the
// flag is not given).
//
// With --certs-dir (or CAIRN_CERTS_DIR) it speaks HTTPS, trusts only the
// cluster CA and presents the client certificate of --user (CAIRN_USER);
// a --host without a scheme then means https://. A setup error (missing
// certificates, http:// with --certs-dir) is returned by every call.
func (f *adminFlags) client(cmd *cobra.Command) *apiClient {
	host := flagOrEnv(cmd, "host", f.host, "CAIRN_HOST")
	certsDir := flagOrEnv(cmd, "certs-dir", f.certsDir, "CAIRN_CERTS_DIR")
	user := flagOrEnv(cmd, "user", f.user, "CAIRN_USER")
	timeout := f.httpTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := &apiClient{host: host, timeout: timeout, secure: certsDir != "", user: user, password: f.passwordOf(cmd)}
	base := host
	switch {
	case !strings.Contains(base, "://") && certsDir != "":
		base = "https://" + base
	case !strings.Contains(base, "://"):
		base = "http://" + base
	case strings.HasPrefix(base, "http://") && certsDir != "":
		c.setupErr = Exit(ExitUsage, fmt.Errorf("--host %s is plain HTTP, but --certs-dir %s asks for TLS: use https:// or leave the scheme out", host, certsDir))
	}
	c.base = strings.TrimRight(base, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if certsDir != "" {
		cfg, err := clientTLS(certsDir, user)
		if err != nil && c.setupErr == nil {
			c.setupErr = Exit(ExitUsage, err)
		}
		tr.TLSClientConfig = cfg
	}
	c.hc = &http.Client{Timeout: timeout, Transport: tr}
	return c
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
	base     string // http(s)://host:port
	host     string // as the user gave it, for messages
	timeout  time.Duration
	hc       *http.Client
	secure   bool  // --certs-dir was given
	setupErr error // why no request can be sent (bad --certs-dir); every call returns it
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
	if c.setupErr != nil {
		return nil, c.setupErr
	}
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
	if resp.StatusCode == http.StatusBadRequest && strings.Contains(text, "HTTP request to an HTTPS server") {
		return nil, &apiError{status: resp.StatusCode, AdminError: httpapi.AdminError{
			Code:    "08P01",
			Message: fmt.Sprintf("the node at %s serves HTTPS only", c.host),
			Hint:    "pass --certs-dir (or CAIRN_CERTS_DIR): the directory with the cluster's ca.crt and your client.<user>.crt/key",
		}}
	}
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
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &certErr) && !c.secure:
		hint := "the node's certificate is not signed by the CA in --certs-dir: is it this cluster's certs dir?"
		if !c.secure {
			hint = "the node is secure: pass --certs-dir (or CAIRN_CERTS_DIR) with the cluster's ca.crt and your client certificate"
		}
		return &netError{fmt.Sprintf("request to %s failed: %v\nHINT: %s", c.base, err, hint)}
	case errors.As(err, &badHost):
		return &netError{fmt.Sprintf("request to %s failed: %v\nHINT: the node's certificate does not name %s: use a host it names (cairn cert list shows them)", c.base, err, c.host)}
	case c.secure && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &netError{fmt.Sprintf("request to %s failed: the node answers plain HTTP\nHINT: it is an insecure node: leave out --certs-dir", c.base)}
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
