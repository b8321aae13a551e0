package cli

// How the operator commands prove who they are to the HTTP API. All of it
// is in authorize, called on every request: with a password, HTTP Basic
// over https, or over plain http a session token from POST /api/v1/login
// (Basic is refused there: it would send the password with every
// request); without one, nothing — a client certificate (--certs-dir)
// or, on an insecure node, a loopback connection identifies the user.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// passwordOf returns the password for cmd: --password if given, else the
// CAIRN_PASSWORD environment.
func (f *adminFlags) passwordOf(cmd *cobra.Command) string {
	if fl := cmd.Flag("password"); fl != nil && fl.Changed {
		return f.password
	}
	return os.Getenv("CAIRN_PASSWORD")
}

// authorize adds the client's credentials to req, logging in first when
// it needs a session token. It never puts the password in an error.
func (c *apiClient) authorize(ctx context.Context, req *http.Request) error {
	if c.password == "" {
		if c.user != defaultUser && !strings.HasPrefix(c.base, "https://") {
			return fmt.Errorf("--user %s needs a password over http: set CAIRN_PASSWORD (or --password), "+
				"or call the node over https with a client certificate for %s", c.user, c.user)
		}
		return nil
	}
	if strings.HasPrefix(c.base, "https://") {
		req.SetBasicAuth(c.user, c.password)
		return nil
	}
	if c.token == "" {
		tok, err := c.login(ctx)
		if err != nil {
			return err
		}
		c.token = tok
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return nil
}

// login gets a session token with POST /api/v1/login.
func (c *apiClient) login(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"user": c.user, "password": c.password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/login", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("--host %q: %v", c.host, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	p, err := c.do(req, "/api/v1/login")
	if err != nil {
		return "", err
	}
	var reply struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(p, &reply); err != nil || reply.Token == "" {
		return "", fmt.Errorf("unexpected reply from %s/api/v1/login", c.base)
	}
	return reply.Token, nil
}
