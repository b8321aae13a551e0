package parser

import "testing"

// TestAlertStatements: the alert statements parse into their parts and
// format back to text that parses the same.
func TestAlertStatements(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want CreateAlert
	}{
		{"CREATE ALERT down WHEN node.state = 'dead' NOTIFY 'webhook:http://h/x'",
			CreateAlert{Name: "down", Metric: "node.state", Op: "=", Value: "dead", ValueKind: AlertString, Target: "webhook:http://h/x"}},
		{"alter system create alert if not exists q when Cluster.Has_Quorum = FALSE notify 'webhook:https://h'",
			CreateAlert{Name: "q", IfNotExists: true, System: true, Metric: "cluster.has_quorum", Op: "=", Value: "false", ValueKind: AlertBool, Target: "webhook:https://h"}},
		{"CREATE ALERT lag WHEN replication.lag_ms > 2500 NOTIFY 'webhook:http://h'",
			CreateAlert{Name: "lag", Metric: "replication.lag_ms", Op: ">", Value: "2500", ValueKind: AlertNumber, Target: "webhook:http://h"}},
		{"CREATE ALERT c WHEN cert.expires_in < INTERVAL '7 days' NOTIFY 'webhook:http://h'",
			CreateAlert{Name: "c", Metric: "cert.expires_in", Op: "<", Value: "7 days", ValueKind: AlertInterval, Target: "webhook:http://h"}},
		{"CREATE ALERT d WHEN disk.used_pct >= 90.5 NOTIFY 'webhook:http://h'",
			CreateAlert{Name: "d", Metric: "disk.used_pct", Op: ">=", Value: "90.5", ValueKind: AlertNumber, Target: "webhook:http://h"}},
	} {
		stmts, _, err := Parse(tc.sql)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		got, ok := stmts[0].(*CreateAlert)
		if !ok {
			t.Fatalf("%s: %T", tc.sql, stmts[0])
		}
		tc.want.P = got.P
		if *got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.sql, *got, tc.want)
		}
		f := Format(got)
		again, _, err := Parse(f)
		if err != nil || Format(again[0]) != f {
			t.Errorf("%s: Format %s does not round-trip (%v)", tc.sql, f, err)
		}
	}
	stmts, _, err := Parse("DROP ALERT IF EXISTS a, b; SHOW ALERTS")
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := stmts[0].(*DropAlert); !ok || !d.IfExists || len(d.Names) != 2 || Format(d) != "DROP ALERT IF EXISTS a, b" {
		t.Fatalf("DROP ALERT: %+v", stmts[0])
	}
	if s, ok := stmts[1].(*ShowObjects); !ok || s.Kind != "alerts" {
		t.Fatalf("SHOW ALERTS: %+v", stmts[1])
	}
	for sql, code := range map[string]string{
		"CREATE ALERT a NOTIFY 'webhook:http://h'":                   "42601",
		"CREATE ALERT a WHEN node.state 'dead' NOTIFY 'x'":           "42601",
		"CREATE ALERT a WHEN node.state = dead NOTIFY 'x'":           "42601",
		"CREATE ALERT a WHEN node.state = 'dead'":                    "42601",
		"CREATE ALERT a WHEN node.state = 'dead' NOTIFY webhook":     "22023",
		"CREATE ALERT a WHEN node.state = 'dead' NOTIFY 'x' EXTRA 1": "42601",
	} {
		_, _, err := Parse(sql)
		pe, ok := err.(*Error)
		if !ok || pe.Code != code {
			t.Errorf("%s: %v, want SQLSTATE %s", sql, err, code)
		}
	}
}
