package metrics

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (instance, le) (rate(cairn_fsync_latency_seconds_bucket{job="cairn", instance=~"$instance"}[5m]))`, []string{"cairn_fsync_latency_seconds_bucket"}},
		{`histogram_quantile(0.99, sum without (pod) (rate(a_bucket[$__rate_interval])))`, []string{"a_bucket"}},
		{`1 - cairn_disk_available_bytes / cairn_disk_capacity_bytes > 0.85`, []string{"cairn_disk_available_bytes", "cairn_disk_capacity_bytes"}},
		{`(min by (kind, name) (cairn_cert_expiration_seconds) - time()) < 14 * 86400`, []string{"cairn_cert_expiration_seconds"}},
		{`a / on (instance) group_left (zone) b and c unless d or bool e`, []string{"a", "b", "c", "d", "e"}},
		{`instance:cairn_disk_used:ratio > 0.9`, []string{"instance:cairn_disk_used:ratio"}},
		{`sum(rate(x{a="b)\"}"}[1h30m] offset 5m)) by (a)`, []string{"x"}},
		{`max_over_time(y[10m:1m]) > 1e3 and z > .5 and w > 0x1f and v > 2.5e-3`, []string{"v", "w", "y", "z"}},
		{`label_replace(m, "dst", "$1", "src", "(.*)")`, []string{"m"}},
		{"# a comment naming not_a_metric\nq", []string{"q"}},
		{`sum (rate (spaced_total [5m]))`, []string{"spaced_total"}},
		{`count(a) == count(a)`, []string{"a"}},
	} {
		got, err := MetricNames(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{`sum(rate(x[5m])`, `x{a="b}`, `x}`, `(a]`, `{__name__="hidden"}`} {
		if _, err := MetricNames(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
