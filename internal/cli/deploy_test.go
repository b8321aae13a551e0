package cli

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The drain hook of a container (no shell to expand the name) runs
// `cairn node drain` without NAME: it drains $CAIRN_NODE_ID.
func TestNodeDrainSelf(t *testing.T) {
	r := &scriptRunner{script: map[string][]reply{"ALTER NODE 'cairn-1' DRAIN": {{res: startedOps("7")}}}}
	t.Setenv("CAIRN_NODE_ID", "cairn-1")
	if _, _, code, err := runCLI(t, r, "node", "drain"); code != 0 {
		t.Fatalf("drain without NAME, CAIRN_NODE_ID set: exit %d: %v", code, err)
	}
	// NAME beats the environment.
	r.script["ALTER NODE 'n2' DRAIN"] = []reply{{res: startedOps("8")}}
	if _, _, code, err := runCLI(t, r, "node", "drain", "n2"); code != 0 {
		t.Fatalf("drain n2: exit %d: %v", code, err)
	}
	if got := r.statements(); len(got) != 2 || got[0] != "ALTER NODE 'cairn-1' DRAIN" || got[1] != "ALTER NODE 'n2' DRAIN" {
		t.Errorf("statements %q", got)
	}

	// Neither: a usage error that says what to do, and nothing is sent.
	t.Setenv("CAIRN_NODE_ID", "")
	_, _, code, err := runCLI(t, r, "node", "drain")
	if code != ExitUsage || err == nil || !strings.Contains(err.Error(), "CAIRN_NODE_ID") {
		t.Errorf("drain without NAME or CAIRN_NODE_ID: exit %d, %v", code, err)
	}
	if _, _, code, _ := runCLI(t, r, "node", "drain", "a", "b"); code != ExitUsage {
		t.Errorf("drain with two names: exit %d, want %d", code, ExitUsage)
	}
	// Only drain falls back to the environment: decommissioning the wrong
	// node by accident would move all its data.
	t.Setenv("CAIRN_NODE_ID", "cairn-1")
	if _, _, code, _ := runCLI(t, r, "node", "decommission"); code != ExitUsage {
		t.Errorf("decommission without NAME: exit %d, want %d", code, ExitUsage)
	}
	if got := r.statements(); len(got) != 2 {
		t.Errorf("refused commands sent statements: %q", got)
	}
}

func TestReady(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" || r.Method != http.MethodGet || r.Header.Get("Authorization") != "" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
			return
		}
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"not ready","node_id":"n1","reason":"no meta leader yet"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready","node_id":"n1"}`))
	}))
	defer srv.Close()
	host := srv.Listener.Addr().String()

	out, _, code, err := runCLIHost(t, "ready", "--host", host)
	if code != 0 || !strings.Contains(out, `"ready"`) {
		t.Errorf("ready node: exit %d, %q, %v", code, out, err)
	}
	ready = false
	_, _, code, err = runCLIHost(t, "ready", "--host", host)
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), "not ready") || !strings.Contains(err.Error(), "no meta leader yet") {
		t.Errorf("unready node: exit %d, %v", code, err)
	}
	t.Setenv("CAIRN_HOST", host)
	if _, _, code, _ = runCLIHost(t, "ready"); code != ExitFailure {
		t.Errorf("unready node through CAIRN_HOST: exit %d, want %d", code, ExitFailure)
	}

	// Nothing listening: exit 1 naming the address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	_, _, code, err = runCLIHost(t, "ready", "--host", dead)
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), dead) {
		t.Errorf("no node: exit %d, %v", code, err)
	}
	if _, _, code, _ = runCLIHost(t, "ready", "--json"); code != ExitUsage {
		t.Errorf("ready --json: exit %d, want a usage error (the flag does nothing here)", code)
	}
}
