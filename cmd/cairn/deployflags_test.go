package main

import (
	"slices"
	"strings"
	"testing"
)

func TestBootstrapJoin(t *testing.T) {
	seeds := []string{"cairn-0.cairn-internal:7480", "cairn-1.cairn-internal:7480"}
	for _, c := range []struct {
		bootstrap, node string
		join, want      []string
		err             string
	}{
		{"", "n1", nil, nil, ""},                         // no flag: a new cluster, as before
		{"", "n2", seeds, seeds, ""},                     // no flag: join as given
		{"cairn-0", "cairn-0", seeds, nil, ""},           // the bootstrap node starts the cluster
		{"cairn-0", "cairn-1", seeds, seeds, ""},         // the others join
		{"cairn-0", "cairn-0", nil, nil, "needs --join"}, // nothing to tell the others
		{"cairn-0", "cairn-2", nil, nil, "--bootstrap-node cairn-0"},
	} {
		got, err := bootstrapJoin(c.join, c.bootstrap, c.node)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("bootstrap %q node %q join %q: error %v, want one containing %q", c.bootstrap, c.node, c.join, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("bootstrap %q node %q join %q: %q, %v; want %q", c.bootstrap, c.node, c.join, got, err, c.want)
		}
	}
}

func TestCheckAdvertiseHost(t *testing.T) {
	for _, ok := range []string{"", "cairn-0.cairn-internal.cairn.svc.cluster.local", "10.0.0.7", "::1", "fe80::1", "localhost"} {
		if err := checkAdvertiseHost(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"cairn-0:7480", "[::1]:7480", "http://cairn-0", "a b", "not:an:ip:zz"} {
		if err := checkAdvertiseHost(bad); err == nil || !strings.Contains(err.Error(), "--advertise-host") {
			t.Errorf("%q: %v, want an --advertise-host error", bad, err)
		}
	}
}
