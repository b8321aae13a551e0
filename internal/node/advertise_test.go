package node

import (
	"net"
	"testing"
)

func TestAdvertised(t *testing.T) {
	ln := &net.TCPAddr{IP: net.IPv4zero, Port: 7480}
	for _, c := range []struct{ host, want string }{
		{"", "0.0.0.0:7480"}, // no --advertise-host: the listen address, as before
		{"cairn-0.cairn-internal.cairn.svc.cluster.local", "cairn-0.cairn-internal.cairn.svc.cluster.local:7480"},
		{"10.1.2.3", "10.1.2.3:7480"},
		{"fe80::1", "[fe80::1]:7480"},
	} {
		if got := advertised(c.host, ln); got != c.want {
			t.Errorf("advertised(%q, %s) = %q, want %q", c.host, ln, got, c.want)
		}
	}
}
