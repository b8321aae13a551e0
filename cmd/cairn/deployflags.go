package main

import (
	"fmt"
	"net"
	"strings"
)

// bootstrapJoin is the --join list a node uses given --bootstrap-node:
// every node of a StatefulSet gets the same flags, so the one named by
// --bootstrap-node leaves --join out and starts the cluster (on its
// first start only: a node with data never joins again), while the others
// join through the list. Without --bootstrap-node, join is used as given.
func bootstrapJoin(join []string, bootstrapNode, nodeID string) ([]string, error) {
	if bootstrapNode == "" {
		return join, nil
	}
	if len(join) == 0 {
		return nil, fmt.Errorf("--bootstrap-node %s needs --join: the other nodes join the cluster it starts through the --join addresses", bootstrapNode)
	}
	if bootstrapNode == nodeID {
		return nil, nil
	}
	return join, nil
}

// checkAdvertiseHost refuses an --advertise-host that is not a bare host:
// the ports come from the listen flags.
func checkAdvertiseHost(h string) error {
	if h == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(h); err == nil || strings.ContainsAny(h, "/ []") {
		return fmt.Errorf("--advertise-host %q: give a host name or address without a scheme or port (the ports are those of --pg-addr, --http-addr and --cluster-addr)", h)
	}
	if strings.Contains(h, ":") && net.ParseIP(h) == nil {
		return fmt.Errorf("--advertise-host %q is neither a host name nor an IP address", h)
	}
	return nil
}
