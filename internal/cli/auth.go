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

// superuser is the built-in role a loopback client of an insecure node is.
const superuser = "cairn"

// authFlags are --user and --password of every operator command.
type authFlags struct {
	user     string
	password string
}

func (a *authFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&a.user, "user", superuser, "the user to call the API as; env CAIRN_USER")
	pf.StringVar(&a.password, "password", "", "the user's password (prefer the env CAIRN_PASSWORD: a flag shows in ps)")
}

// credentials returns the user and password of cmd: flags, else the
// CAIRN_USER and CAIRN_PASSWORD environment.
func (a *authFlags) credentials(cmd *cobra.Command) (user, password string) {
	user, password = a.user, a.password
	if fl := cmd.Flag("user"); fl != nil && !fl.Changed {
		if env := os.Getenv("CAIRN_USER"); env != "" {
			user = env
		}
	}
	if fl := cmd.Flag("password"); fl == nil || !fl.Changed {
		password = os.Getenv("CAIRN_PASSWORD")
	}
	return user, password
}

// authorize adds the client's credentials to req, logging in first when
// it needs a session token. It never puts the password in an error.
func (c *apiClient) authorize(ctx context.Context, req *http.Request) error {
	if c.password == "" {
		if c.user != superuser && !strings.HasPrefix(c.base, "https://") {
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
