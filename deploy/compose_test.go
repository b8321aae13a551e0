package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of the Compose specification deploy/compose.yaml
// uses; decoding is strict, so a misspelled key fails the test.
type composeFile struct {
	Name       string                    `json:"name"`
	XCairnNode map[string]any            `json:"x-cairn-node"`
	Services   map[string]composeService `json:"services"`
	Volumes    map[string]any            `json:"volumes"`
}

type composeService struct {
	Image           string                   `json:"image"`
	Build           *composeBuild            `json:"build"`
	Restart         string                   `json:"restart"`
	StopGracePeriod string                   `json:"stop_grace_period"`
	Hostname        string                   `json:"hostname"`
	Entrypoint      []string                 `json:"entrypoint"`
	Command         []string                 `json:"command"`
	Environment     map[string]string        `json:"environment"`
	Ports           []string                 `json:"ports"`
	Volumes         []string                 `json:"volumes"`
	NetworkMode     string                   `json:"network_mode"`
	Healthcheck     *composeHealthcheck      `json:"healthcheck"`
	DependsOn       map[string]composeDepend `json:"depends_on"`
}

type composeBuild struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile"`
}

type composeHealthcheck struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval"`
	Timeout     string   `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod string   `json:"start_period"`
}

type composeDepend struct {
	Condition string `json:"condition"`
}

// readCompose decodes deploy/compose.yaml with the ${VAR:-default}
// interpolation compose does (defaults only: the test's environment
// plays no part) and $$ for a literal $.
func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "$$", "\x00")
	s = regexp.MustCompile(`\$\{([A-Z0-9_]+):-([^}]*)\}`).ReplaceAllString(s, "$2")
	if i := strings.Index(s, "${"); i >= 0 {
		t.Fatalf("compose.yaml: a variable without a default at %q", s[i:min(len(s), i+40)])
	}
	s = strings.ReplaceAll(s, "\x00", "$")
	var f composeFile
	if err := yaml.UnmarshalStrict([]byte(s), &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return f
}

func TestCompose(t *testing.T) {
	f := readCompose(t)
	data := []string{"cairn-1", "cairn-2", "cairn-3"}
	compute := []string{"cairn-c1", "cairn-c2"}
	for _, name := range append(append([]string{"s3", "s3-init", "cairn-init", "prometheus", "grafana"}, data...), compute...) {
		if _, ok := f.Services[name]; !ok {
			t.Errorf("compose.yaml has no service %s", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// The Cairn nodes: real flags, names that match, ports that match.
	clusterAddr := map[string]string{} // service → its host:port for --join
	for _, name := range append(append([]string(nil), data...), compute...) {
		svc := f.Services[name]
		where := "compose.yaml " + name
		if svc.Image == "" || svc.Build == nil || filepath.Clean(svc.Build.Context) != ".." || svc.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: want the image built from ../Dockerfile, got image %q build %+v", where, svc.Image, svc.Build)
		}
		p := parseArgs(svc.Command)
		if len(p.words) != 1 || p.words[0] != "start" {
			t.Errorf("%s: command %q, want cairn start", where, svc.Command)
			continue
		}
		checkFlags(t, where, p, "start")
		if p.one("node-id") != name || p.one("advertise-host") != name || svc.Hostname != name {
			t.Errorf("%s: --node-id %q, --advertise-host %q, hostname %q: want all %q", where, p.one("node-id"), p.one("advertise-host"), svc.Hostname, name)
		}
		wantRole := "data"
		if slices.Contains(compute, name) {
			wantRole = "compute"
		}
		if p.one("role") != wantRole {
			t.Errorf("%s: --role %q, want %s", where, p.one("role"), wantRole)
		}
		if p.one("insecure") != "true" {
			t.Errorf("%s: listens beyond loopback without certificates, so needs --insecure", where)
		}
		clusterAddr[name] = name + ":" + portOf(p.one("cluster-addr"))
		httpPort, pgPort := portOf(p.one("http-addr")), portOf(p.one("pg-addr"))
		if httpPort == "" || pgPort == "" || portOf(p.one("cluster-addr")) == "" {
			t.Errorf("%s: --pg-addr, --http-addr and --cluster-addr must be host:port", where)
		}
		// Published ports reach the container's pg and http ports.
		var published []string
		for _, pm := range svc.Ports {
			parts := strings.Split(pm, ":")
			if parts[0] != "127.0.0.1" {
				t.Errorf("%s: port %s is published beyond loopback, to an insecure node", where, pm)
			}
			published = append(published, parts[len(parts)-1])
		}
		slices.Sort(published)
		if want := []string{pgPort, httpPort}; !slices.Equal(published, sortedCopy(want)) {
			t.Errorf("%s: publishes container ports %v, want %v", where, published, sortedCopy(want))
		}
		// The health check asks this node's /ready through the binary.
		hc := svc.Healthcheck
		if hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" {
			t.Errorf("%s: no exec health check", where)
		} else {
			hp := parseArgs(hc.Test[1:])
			if !strings.HasSuffix(hp.words[0], "/cairn") || !slices.Equal(hp.words[1:], []string{"ready"}) {
				t.Errorf("%s: health check %q, want cairn ready", where, hc.Test)
			}
			checkFlags(t, where+" healthcheck", hp, "ready")
			if host := hp.one("host"); portOf(host) != httpPort || !strings.HasPrefix(host, "127.0.0.1:") {
				t.Errorf("%s: health check asks %q, want 127.0.0.1:%s (--http-addr)", where, host, httpPort)
			}
		}
		// The data dir is a named volume.
		dataDir := p.one("data-dir")
		mounted := false
		for _, v := range svc.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			if dst == dataDir {
				mounted = true
				if _, ok := f.Volumes[src]; !ok {
					t.Errorf("%s: the data dir's volume %q is not a named volume of the file", where, src)
				}
			}
		}
		if !mounted {
			t.Errorf("%s: nothing is mounted at --data-dir %q", where, dataDir)
		}
	}
	// The first data node starts the cluster; every other node joins
	// through nodes started before it (depends_on), at their cluster ports.
	for _, name := range append(append([]string(nil), data...), compute...) {
		svc := f.Services[name]
		join := parseArgs(svc.Command).one("join")
		if name == data[0] {
			if join != "" {
				t.Errorf("compose.yaml %s: the first node starts the cluster, so has no --join (got %q)", name, join)
			}
			continue
		}
		if join == "" {
			t.Errorf("compose.yaml %s: no --join", name)
			continue
		}
		for _, seed := range strings.Split(join, ",") {
			host, _, _ := strings.Cut(seed, ":")
			if clusterAddr[host] != seed {
				t.Errorf("compose.yaml %s: --join %s is not a node's cluster address (%v)", name, seed, clusterAddr)
			}
		}
		if len(svc.DependsOn) == 0 {
			t.Errorf("compose.yaml %s: joins, but depends on no node", name)
		}
	}

	// Every service: dependencies exist, files mounted from the repo exist,
	// named volumes are declared.
	for name, svc := range f.Services {
		for dep, cond := range svc.DependsOn {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("compose.yaml %s depends on missing service %s", name, dep)
			}
			if !slices.Contains([]string{"service_healthy", "service_completed_successfully", "service_started"}, cond.Condition) {
				t.Errorf("compose.yaml %s: depends_on %s condition %q", name, dep, cond.Condition)
			}
			if cond.Condition == "service_healthy" && f.Services[dep].Healthcheck == nil {
				t.Errorf("compose.yaml %s waits for %s to be healthy, which has no health check", name, dep)
			}
		}
		for _, v := range svc.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("compose.yaml %s mounts %s, which is not in the repository: %v", name, src, err)
				}
			} else if _, ok := f.Volumes[src]; !ok {
				t.Errorf("compose.yaml %s mounts volume %q, not declared under volumes", name, src)
			}
		}
		if svc.Image == "" {
			t.Errorf("compose.yaml %s has no image", name)
		} else if !strings.Contains(svc.Image, ":") || strings.HasSuffix(svc.Image, ":latest") {
			t.Errorf("compose.yaml %s: image %q has no pinned tag", name, svc.Image)
		}
		if svc.Healthcheck == nil && svc.Restart != "no" {
			t.Errorf("compose.yaml %s: a long-running service without a health check", name)
		}
	}
	// The store: versitygw with the keys cairn-init's CREATE DISK uses.
	s3, initSvc := f.Services["s3"], f.Services["cairn-init"]
	if !strings.HasPrefix(s3.Image, "versity/versitygw:") {
		t.Errorf("s3 image %q, want versitygw", s3.Image)
	}
	checkInitSQL(t, initSvc, s3)
	checkMonitoring(t, f)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// checkInitSQL checks that cairn-init runs init.sql as cairn over loopback
// of a node, with every psql variable the script uses, and the S3 keys and
// endpoint of the s3 service.
func checkInitSQL(t *testing.T, init, s3 composeService) {
	t.Helper()
	if init.NetworkMode != "service:cairn-1" {
		t.Errorf("cairn-init: network_mode %q, want service:cairn-1 (loopback: cairn logs in without a password only there)", init.NetworkMode)
	}
	vars := map[string]string{}
	var file string
	for i := 0; i+1 < len(init.Command); i++ {
		switch init.Command[i] {
		case "-v":
			k, v, _ := strings.Cut(init.Command[i+1], "=")
			vars[k] = v
		case "-f":
			file = init.Command[i+1]
		case "-h":
			if init.Command[i+1] != "127.0.0.1" {
				t.Errorf("cairn-init connects to %s, want 127.0.0.1", init.Command[i+1])
			}
		}
	}
	var src string
	for _, v := range init.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == file {
			src = parts[0]
		}
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("cairn-init runs %q, mounted from %q: %v", file, src, err)
	}
	for _, m := range regexp.MustCompile(`:'([a-z0-9_]+)'`).FindAllStringSubmatch(string(b), -1) {
		if _, ok := vars[m[1]]; !ok {
			t.Errorf("%s uses :'%s', which cairn-init does not set with -v", src, m[1])
		}
	}
	if vars["s3_access"] != s3.Environment["ROOT_ACCESS_KEY"] || vars["s3_secret"] != s3.Environment["ROOT_SECRET_KEY"] {
		t.Errorf("cairn-init's S3 keys (%s) are not the s3 service's root keys", vars["s3_access"])
	}
	if vars["s3_endpoint"] != "s3:"+strings.TrimPrefix(s3.Command[slices.Index(s3.Command, "--port")+1], ":") {
		t.Errorf("cairn-init's s3_endpoint %q is not the s3 service's port %q", vars["s3_endpoint"], s3.Command)
	}
}

// checkMonitoring checks Prometheus and Grafana: mounted files exist
// (checked above), Prometheus loads the rules and scrapes Cairn nodes
// that exist at their HTTP port, Grafana's datasource is that Prometheus.
func checkMonitoring(t *testing.T, f composeFile) {
	t.Helper()
	prom := f.Services["prometheus"]
	mounts := map[string]string{}
	for _, v := range prom.Volumes {
		parts := strings.Split(v, ":")
		mounts[parts[1]] = parts[0]
	}
	cfgPath := ""
	for _, c := range prom.Command {
		if v, ok := strings.CutPrefix(c, "--config.file="); ok {
			cfgPath = mounts[v]
		}
	}
	if cfgPath != "./prometheus/prometheus.yaml" {
		t.Errorf("prometheus runs with config %q, want ./prometheus/prometheus.yaml mounted", cfgPath)
	}
	var rulesMounted bool
	for dst, src := range mounts {
		if src == "./prometheus/cairn.rules.yaml" && strings.HasPrefix(dst, "/etc/prometheus/") {
			rulesMounted = true
		}
	}
	if !rulesMounted {
		t.Error("prometheus does not mount ./prometheus/cairn.rules.yaml")
	}
	var pc struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
	}
	if b, err := os.ReadFile(cfgPath); err == nil {
		if err := yaml.Unmarshal(b, &pc); err != nil {
			t.Errorf("%s: %v", cfgPath, err)
		}
		var targets []string
		for _, sc := range pc.ScrapeConfigs {
			for _, st := range sc.StaticConfigs {
				targets = append(targets, st.Targets...)
			}
		}
		cairnTargets := 0
		for _, tg := range targets {
			host, port, _ := strings.Cut(tg, ":")
			svc, ok := f.Services[host]
			if !ok || !strings.HasPrefix(host, "cairn-") {
				continue
			}
			cairnTargets++
			if want := portOf(parseArgs(svc.Command).one("http-addr")); port != want {
				t.Errorf("%s scrapes %s, but %s serves /metrics on port %s", cfgPath, tg, host, want)
			}
		}
		if cairnTargets == 0 {
			t.Errorf("%s scrapes none of the compose file's Cairn nodes (targets %v)", cfgPath, targets)
		}
		loads := false
		for _, r := range pc.RuleFiles {
			loads = loads || filepath.Base(r) == "cairn.rules.yaml"
		}
		if !loads {
			t.Errorf("%s does not load cairn.rules.yaml (rule_files %v)", cfgPath, pc.RuleFiles)
		}
	}

	var ds struct {
		Datasources []struct {
			Type string `json:"type"`
			URL  string `json:"url"`
		} `json:"datasources"`
	}
	b, err := os.ReadFile("grafana/provisioning/datasources/cairn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("grafana datasource %+v, want the prometheus service", ds.Datasources)
	}
	var dash struct {
		Providers []struct {
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	if b, err = os.ReadFile("grafana/provisioning/dashboards/cairn.yaml"); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range f.Services["grafana"].Volumes {
		parts := strings.Split(v, ":")
		if parts[0] == "./grafana/cairn-dashboard.json" && len(dash.Providers) == 1 && filepath.Dir(parts[1]) == dash.Providers[0].Options.Path {
			found = true
		}
	}
	if !found {
		t.Errorf("grafana does not mount ./grafana/cairn-dashboard.json into its provider's path %+v", dash.Providers)
	}
}
