package node

import (
	"errors"
	"testing"
)

func TestCheckSecurity(t *testing.T) {
	lo := Config{PGAddr: "127.0.0.1:5480", HTTPAddr: "localhost:8480", ClusterAddr: "[::1]:7480"}
	for _, tc := range []struct {
		name    string
		mod     func(*Config)
		refused bool
	}{
		{"loopback, no flags", func(*Config) {}, false},
		{"127.0.0.2", func(c *Config) { c.PGAddr = "127.0.0.2:5480" }, false},
		{"every interface", func(c *Config) { c.PGAddr = ":5480" }, true},
		{"0.0.0.0", func(c *Config) { c.HTTPAddr = "0.0.0.0:8480" }, true},
		{"a LAN address", func(c *Config) { c.ClusterAddr = "10.0.0.5:7480" }, true},
		{"a host name", func(c *Config) { c.ClusterAddr = "db1.example.com:7480" }, true},
		{"::", func(c *Config) { c.PGAddr = "[::]:5480" }, true},
		{"a LAN address, --insecure", func(c *Config) { c.ClusterAddr, c.Insecure = "10.0.0.5:7480", true }, false},
		{"a LAN address, --certs-dir", func(c *Config) { c.ClusterAddr, c.CertsDir = "10.0.0.5:7480", "certs" }, false},
		{"both", func(c *Config) { c.CertsDir, c.Insecure = "certs", true }, true},
		{"--tls-min-version without certs", func(c *Config) { c.TLSMinVersion = 0x0303 }, true},
	} {
		cfg := lo
		tc.mod(&cfg)
		err := CheckSecurity(cfg)
		if got := err != nil; got != tc.refused {
			t.Errorf("%s: %v, refused want %v", tc.name, err, tc.refused)
		}
		if err != nil && !errors.Is(err, ErrInsecureListen) {
			t.Errorf("%s: %v is not ErrInsecureListen", tc.name, err)
		}
	}
}
